"""A cell's own tests (test_command) in words, the same in every report and in explain: pure.

results.json keeps of the tests what judge/tests.TestReport holds: the command, its exit code, whether it timed
out or was killed for memory, how long it ran, pytest's junit counts, the failing tests by name (at most
judge/tests.MAX_NAMES; the counts say how many failed) and the last lines of its output, redacted when written.
A results file is untrusted input, so everything here is plain text: each format escapes it its own way
(html_page._e, markdown.md and its fence, junit._x, explain's one_line), and none of them trusts the redaction
done at writing time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from npmatrix.judge.tests import TestReport, signal_name
from npmatrix.records.results import CellResult


@dataclass(frozen=True, kw_only=True)
class CellTests:
    """One cell's tests as the reports show them. `ran` is False when they were not run (test_skip, or the
    probe failed): then `outcome` says why and nothing else is set."""

    cell: str
    command: str
    ran: bool
    passed: bool  # ran and exited 0
    outcome: str  # "passed", "failed", "timed out", "killed: out of memory", "died with SIGSEGV", or why not run
    exit_code: str = "none"  # "1", "139 (SIGSEGV)"; "none" when the container was stopped
    duration: str = ""
    counts: str | None = None  # from pytest's junit: "2 tests: 1 passed, 1 failed"; None without junit
    failed: tuple[str, ...] = ()
    unnamed: int = 0  # failures beyond those named: results.json keeps a bounded list
    tail: str = ""
    note: str | None = None
    log: str | None = None  # the full output, as results.json names it

    @property
    def heading(self) -> str:
        """ "tests failed", "tests passed", "tests died with SIGSEGV", or why they were not run."""
        return f"tests {self.outcome}" if self.ran else self.outcome

    @property
    def summary(self) -> str:
        """One line: "tests failed: exit 1 · 2 tests: 1 passed, 1 failed · 0.1 s"."""
        if not self.ran:
            return self.heading
        parts = [self.counts, self.duration]
        return " · ".join([f"{self.heading}: exit {self.exit_code}", *(p for p in parts if p)])

    def rows(self) -> tuple[tuple[str, str], ...]:
        """(label, value) rows for a report's facts; the failing names and the tail are shown apart."""
        if not self.ran:
            return (("command", self.command),)
        found: list[tuple[str, str | None]] = [
            ("command", self.command),
            ("result", self.outcome),
            ("exit code", self.exit_code),
            ("duration", self.duration),
            ("tests", self.counts),
            ("note", self.note),
            ("full output", self.log),
        ]
        return tuple((label, value) for label, value in found if value)

    def tail_lines(self, count: int) -> tuple[str, ...]:
        lines = self.tail.splitlines()
        return tuple(lines[-count:]) if count > 0 else ()


def cell_tests(r: CellResult) -> CellTests | None:
    """None for a cell without a test_command."""
    t = r.tests
    if t is None:
        return None
    if t.skipped is not None:
        return CellTests(cell=r.name, command=t.command, ran=False, passed=False, outcome=t.skipped)
    passed = t.exit_code == 0 and not t.timed_out and not t.oom_killed
    return CellTests(
        cell=r.name,
        command=t.command,
        ran=True,
        passed=passed,
        outcome=_outcome(t),
        exit_code=_exit_code(t.exit_code),
        duration=_seconds(t.duration_s),
        counts=_counts(t.counts),
        failed=t.failed,
        unnamed=max(0, _failures(t) - len(t.failed)),
        tail=t.output_tail,
        note=t.note,
        log=r.logs.get("tests"),
    )


def _outcome(t: TestReport) -> str:
    if t.timed_out:
        return "timed out"
    if t.oom_killed:
        return "killed: out of memory"
    if t.exit_code == 0:
        return "passed"
    name = signal_name(t.exit_code)
    return f"died with {name}" if name else "failed"


def _exit_code(code: int | None) -> str:
    if code is None:
        return "none"
    name = signal_name(code)
    return f"{code} ({name})" if name else str(code)


def _seconds(seconds: float) -> str:
    # Tests of a sample project take a tenth of a second; format_seconds would say "0 s".
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _count(counts: Mapping[str, object], key: str) -> int:
    value = counts.get(key)
    return value if isinstance(value, int) and value > 0 else 0


def _counts(counts: Mapping[str, int] | None) -> str | None:
    if counts is None:
        return None
    total, failures, errors, skipped = (_count(counts, k) for k in ("tests", "failures", "errors", "skipped"))
    passed = max(0, total - failures - errors - skipped)
    words = [f"{passed} passed"]
    words += [f"{n} {word}" for n, word in ((failures, "failed"), (errors, "errors"), (skipped, "skipped")) if n]
    return f"{total} test{'' if total == 1 else 's'}: {', '.join(words)}"


def _failures(t: TestReport) -> int:
    if t.counts is None:
        return len(t.failed)
    return _count(t.counts, "failures") + _count(t.counts, "errors")
