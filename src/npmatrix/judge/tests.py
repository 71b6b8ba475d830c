"""A cell's own tests (test_command): what they printed, read into a `TestReport`, and the cell's verdict.

Pure. The same machinery as the probe's: an illegal instruction in a test is `cpu-unsupported` naming the
module it hit, a missing .so is `missing-shared-library` naming the library (and the Debian package, from
classify's table), any other fatal signal `crashed`, no end within test_timeout `timeout`; any other non-zero
exit is `tests-failed`, with the failing tests by name (from pytest's junit file, else its "FAILED a::b" lines).
"""

from __future__ import annotations

import posixpath
import re
import signal
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from npmatrix.config import project
from npmatrix.judge.classify import LIBRARY_PACKAGES
from npmatrix.judge.outcomes import TestRun
from npmatrix.plan.testcommand import JUNIT_MARKER, WORK_DIR
from npmatrix.text import redact, shorten
from npmatrix.verdict import Status, Verdict

TAIL_LINES = 80  # faulthandler prints ~45 frames under pytest: its first line must stay in
_LINE_CHARS = 300
MAX_NAMES = 50  # failed tests kept in results.json; the count says how many there were
MAX_JUNIT_BYTES = 8 * 1024 * 1024
_FAILED_LINE = re.compile(r"^(?:FAILED|ERROR) (\S+::\S+|\S+\.py)(?: - .*)?$", re.M)
_MISSING_LIBRARY = re.compile(r"([\w.+-]+\.so[\w.]*): cannot open shared object file")
_SIGILL = re.compile(r"Fatal Python error: Illegal instruction|\bIllegal instruction\b|\bSIGILL\b")
_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+', re.M)
# Frames with no file behind them: importlib's own ("<frozen importlib._bootstrap>"), "<string>", "<stdin>". A
# SIGILL while importing a dependency has half a dozen of them innermost; none is ever the culprit.
_NO_FILE = "<"
# importlib's create_module is where an extension module is dlopen()ed: a fault there is in a shared library's
# constructor or the module's init, before any function of it was called (torch 2.10.0's libc10.so on a Pi 4).
_LOADING = re.compile(r'^\s*File "<frozen importlib\._bootstrap_external>", line \d+ in create_module$', re.M)
_EXTENSIONS = re.compile(r"^Extension modules: (.*?)(?: \(total: \d+\))?$", re.M)
_NOT_THE_CULPRIT = re.compile(r"^(?:numpy|_pytest|pytest|pluggy|_cffi_backend|yaml|markupsafe)\b")


@dataclass(frozen=True, kw_only=True)
class TestReport:
    """What results.json keeps of a cell's tests. `skipped` says why they did not run (then nothing else is set)."""

    __test__ = False  # not a pytest test class, whatever its name

    command: str
    skipped: str | None = None  # "tests skipped by test_skip", "not run: ..."
    exit_code: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0
    output_tail: str = ""
    failed: tuple[str, ...] = ()
    counts: Mapping[str, int] | None = None  # pytest's junit: tests, failures, errors, skipped
    oom_killed: bool = False
    note: str | None = None  # how the tests ran differently from the probe (an amd64 CPU model not applied)

    @classmethod
    def not_run(cls, command: str, why: str) -> TestReport:
        return cls(command=command, skipped=why)

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "skipped": self.skipped,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration_s": round(self.duration_s, 3),
            "output_tail": self.output_tail,
            "failed": list(self.failed),
            "counts": dict(self.counts) if self.counts is not None else None,
            "oom_killed": self.oom_killed,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> TestReport:
        return cls(
            command=record["command"],
            skipped=record.get("skipped"),
            exit_code=record.get("exit_code"),
            timed_out=bool(record.get("timed_out")),
            duration_s=float(record.get("duration_s") or 0.0),
            output_tail=record.get("output_tail") or "",
            failed=tuple(record.get("failed") or ()),
            counts=dict(record["counts"]) if record.get("counts") is not None else None,
            oom_killed=bool(record.get("oom_killed")),
            note=record.get("note"),
        )


def read(run: TestRun, *, note: str | None = None) -> TestReport:
    """The report of one test run: its output split from the junit file the wrapper appended."""
    output, _, junit = run.stdout.partition(f"\n{JUNIT_MARKER}\n")
    counts, junit_failed = _junit(junit)
    text = redact(f"{output}\n{run.stderr}")
    failed = tuple(dict.fromkeys(_node_id(n) for n in _FAILED_LINE.findall(output))) or junit_failed
    return TestReport(
        command=run.command,
        exit_code=run.exit_code,
        timed_out=run.timed_out,
        duration_s=run.duration_s,
        output_tail=_tail(text),
        failed=failed[:MAX_NAMES],
        counts=counts,
        oom_killed=run.oom_killed,
        note=note,
    )


def _node_id(name: str) -> str:
    """pytest's node id as the project names it: "tests/test_a.py::test_b", not relative to the working
    directory ("../../opt/npmatrix-project/tests/test_a.py::test_b")."""
    path, sep, rest = name.partition("::")
    full = posixpath.normpath(posixpath.join(WORK_DIR, path))
    if full.startswith(f"{project.PROJECT_DIR}/"):
        full = full.removeprefix(f"{project.PROJECT_DIR}/")
    return f"{full}{sep}{rest}"


def _tail(text: str) -> str:
    lines = [shorten(line, _LINE_CHARS) for line in text.strip("\n").splitlines()]
    return "\n".join(lines[-TAIL_LINES:])


def _junit(text: str) -> tuple[dict[str, int] | None, tuple[str, ...]]:
    """Counts and failed tests from pytest's junit XML; (None, ()) when there is none or it does not parse.
    The file comes from the container, so it is bounded, and Python's expat refuses entity expansion bombs."""
    if not text.strip() or len(text) > MAX_JUNIT_BYTES:
        return None, ()
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None, ()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    counts = {key: sum(_int(s.get(key)) for s in suites) for key in ("tests", "failures", "errors", "skipped")}
    failed = [
        f"{case.get('classname', '')}.{case.get('name', '')}".strip(".")
        for suite in suites
        for case in suite.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    ]
    return counts, tuple(dict.fromkeys(failed))


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


def classify(report: TestReport, probe: Verdict, *, image: str, limit: int) -> Verdict:
    """The cell's verdict once its tests ran (or did not): the probe's if it failed, else the tests' own."""
    if not probe.status.works:
        return probe
    if report.skipped is not None:
        return replace(probe, reason=f"{probe.reason}; {report.skipped}")
    if report.exit_code == 0:
        return replace(probe, reason=f"{probe.reason}; tests passed{_counted(report)}{_noted(report)}")
    verdict = _failure(report, image=image, limit=limit)
    verdict = replace(verdict, reason=f"{verdict.reason}{_noted(report)}")
    if report.oom_killed:
        verdict = replace(
            verdict,
            status=Status.CRASHED,
            reason=f"out of memory: the tests exceeded the container's memory limit and were killed ({verdict.reason})",
            fix='raise the cell\'s memory limit (memory = "...")',
        )
    return verdict


def _noted(report: TestReport) -> str:
    return f" ({report.note})" if report.note else ""


def _counted(report: TestReport) -> str:
    if not report.counts:
        return ""
    c = report.counts
    passed = c["tests"] - c["failures"] - c["errors"] - c["skipped"]
    return f" ({passed} passed" + (f", {c['skipped']} skipped" if c["skipped"] else "") + ")"


def _failure(report: TestReport, *, image: str, limit: int) -> Verdict:
    text = report.output_tail
    again = _reproduce(report, image)
    if report.timed_out:
        return Verdict(
            status=Status.TIMEOUT,
            reason=f"the tests did not finish within test_timeout = {limit} s; the container was stopped",
            fix="raise test_timeout (emulated cells run 10-20x slower), or name the cell in test_skip",
            evidence=_last(text, 5),
        )
    library = _MISSING_LIBRARY.search(text)
    if library:
        package = LIBRARY_PACKAGES.get(library.group(1))
        install = f"apt-get install {package}" if package else f"install the package that ships {library.group(1)}"
        return Verdict(
            status=Status.MISSING_SHARED_LIBRARY,
            reason=f"a test needs {library.group(1)}, which is not installed",
            fix=f"{install} (the cell's apt = [...])",
            evidence=(_line_of(text, library.group(0)),),
        )
    killed_by = signal_name(report.exit_code)
    if killed_by == "SIGILL" or _SIGILL.search(text):
        return _illegal_instruction(text, again)
    if killed_by is not None:
        return Verdict(
            status=Status.CRASHED,
            reason=f"the tests died with {killed_by}",
            fix=again,
            evidence=_signal_evidence(text),
        )
    return _tests_failed(report, again)


def _illegal_instruction(text: str, again: str) -> Verdict:
    module = _culprit(text)
    where = f" in {module}" if module else ""
    if module and _while_loading(text):
        where += ", while loading its compiled code"
    # "Another release", not "an older one": an ARMv8.1 atomic that slipped into a build is fixed by the next
    # release as often as avoided by the last (torch 2.10.0's, pytorch/pytorch#174344, gone in 2.11.0).
    name = module or "the module"
    return Verdict(
        status=Status.CPU_UNSUPPORTED,
        reason=f"a test died of an illegal instruction (SIGILL){where}: it uses an instruction this CPU lacks",
        fix=f"install a build of {name} for this CPU's baseline, or another release of {name} (an older one, "
        f"or a newer one that fixed it); {again}",
        evidence=_signal_evidence(text),
    )


def _while_loading(text: str) -> bool:
    """Whether the signal hit while importlib loaded an extension: create_module among the innermost frames
    that have no file, before the first one that has."""
    start = text.find("Fatal Python error")
    for frame in _FRAME.finditer(text, max(start, 0)):
        if not frame.group(1).startswith(_NO_FILE):
            return False
        if _LOADING.match(text, frame.start()):
            return True
    return False


def _tests_failed(report: TestReport, again: str) -> Verdict:
    names = report.failed
    if names:
        total = f" of {report.counts['tests']}" if report.counts else ""
        count = report.counts["failures"] + report.counts["errors"] if report.counts else len(names)
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        reason = f"{count}{total} tests failed: {shown}"
    else:
        reason = f"the test command exited {report.exit_code}: {_last(report.output_tail, 1)[0] or 'no output'}"
    return Verdict(status=Status.TESTS_FAILED, reason=reason, fix=again, evidence=_evidence(report))


def _evidence(report: TestReport) -> tuple[str, ...]:
    """The failed tests by name, then the first assertion lines pytest printed ("E   assert 2.0 == 3.0")."""
    errors = [line.strip() for line in report.output_tail.splitlines() if line.startswith("E  ")]
    shown = (*(f"FAILED {name}" for name in report.failed[:10]), *errors[:3])
    return shown or _last(report.output_tail, 5)


def _reproduce(report: TestReport, image: str) -> str:
    return f"run them in the cell's image: docker run --rm {image} sh -c 'cd /tmp && {project.expand(report.command)}'"


def signal_name(exit_code: int | None) -> str | None:
    """The signal a shell's exit status 128+N says killed the command (Docker says 128+N for the container)."""
    if exit_code is None or not 128 < exit_code < 128 + 65:
        return None
    try:
        return signal.Signals(exit_code - 128).name
    except ValueError:
        return None


def _culprit(text: str) -> str | None:
    """The module a fatal signal hit, from faulthandler's stack (most recent call first): the innermost frame
    that is a file and neither a test, pytest's machinery nor the standard library (an installed package by its
    dotted name, another file by its name), else the first extension module listed that is not NumPy's or
    pytest's."""
    for path in _FRAME.findall(text):
        if path.startswith(_NO_FILE):
            continue
        installed = re.search(r"/(?:site|dist)-packages/(.+?)(?:/__init__)?\.py$", path)
        if installed:
            module = str(installed.group(1)).replace("/", ".")
            if not _NOT_THE_CULPRIT.match(module):
                return module
            continue
        name = str(posixpath.basename(path))
        if not re.match(r"test_|conftest\.py$|.*_test\.py$", name) and not path.startswith("/usr/lib/python"):
            return name.removesuffix(".py")
    listed = _EXTENSIONS.search(text)
    if listed:
        for module in (m.strip() for m in listed.group(1).split(",")):
            if module and not _NOT_THE_CULPRIT.match(module):
                return module
    return None


def _signal_evidence(text: str) -> tuple[str, ...]:
    """faulthandler's first line and the innermost frames that are files: where the signal hit."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Fatal Python error")), None)
    if start is None:
        return _last(text, 6)
    frames = [line.strip() for line in lines[start + 1 :] if _FRAME.match(line) and f'"{_NO_FILE}' not in line]
    return (lines[start].strip(), *frames[:3])


def _line_of(text: str, fragment: str) -> str:
    return next((line.strip() for line in text.splitlines() if fragment in line), fragment)


def _last(text: str, n: int) -> tuple[str, ...]:
    lines = [line for line in text.splitlines() if line.strip()]
    return tuple(lines[-n:]) or ("",)
