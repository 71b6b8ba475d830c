"""What the side-effecting stages leave behind, as plain data: a build's outcome and a probe run's output.

Pure records: `classify`, `results` and the reports import them without loading the engine, the Docker SDK
or Jinja2 (tests/unit/test_import_contract.py holds us to that).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG_TAIL_LINES = 40


@dataclass(frozen=True, kw_only=True)
class BuildOutcome:
    """One image build (a cell's or a base's), or the reuse of an image built earlier from the same recipe."""

    tag: str
    ok: bool
    image_id: str | None
    cached: bool  # the image existed under its content tag and was reused
    exit_code: int | None  # None when the build timed out or never started
    timed_out: bool
    duration_s: float
    log_path: Path | None
    output: str  # the build log's text, for classification

    @classmethod
    def reused(cls, tag: str, image_id: str, *, log_path: Path | None = None, note: str = "") -> BuildOutcome:
        return cls(
            tag=tag,
            ok=True,
            image_id=image_id,
            cached=True,
            exit_code=0,
            timed_out=False,
            duration_s=0.0,
            log_path=log_path,
            output=note,
        )

    @classmethod
    def not_built(cls, tag: str, reason: str) -> BuildOutcome:
        """A build not even started: the plan alone gave the verdict (judge/before.py)."""
        return cls.failed(tag, f"not built: {reason}")

    @classmethod
    def failed(cls, tag: str, output: str, *, log_path: Path | None = None) -> BuildOutcome:
        """A build that never produced an image for a reason other than its own exit code (engine trouble)."""
        return cls(
            tag=tag,
            ok=False,
            image_id=None,
            cached=False,
            exit_code=None,
            timed_out=False,
            duration_s=0.0,
            log_path=log_path,
            output=output,
        )

    @property
    def log_tail(self) -> str:
        return "\n".join(self.output.splitlines()[-LOG_TAIL_LINES:])


@dataclass(frozen=True, kw_only=True)
class ProbeRun:
    """What one run of the probe left behind: its raw output and, when it printed them, its facts (the JSON
    object probe.py prints; see probe_file.py for the reader)."""

    exit_code: int | None  # None: timed out and killed
    stdout: str
    stderr: str
    duration_s: float
    facts: dict[str, Any] | None
    parse_error: str | None = None
    oom_killed: bool = False  # the engine says the kernel killed a process of the container: out of memory
    memory_limit: str | None = None  # the container's limit, for the reason
    bench_duration_s: float | None = None  # the benchmark's own call, when the probe was split in two

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


@dataclass(frozen=True, kw_only=True)
class TestRun:
    """What one run of a cell's test_command left behind (run/tests.py); judge/tests.py reads it."""

    __test__ = False  # not a pytest test class, whatever its name

    command: str  # as the matrix gives it, {project} unexpanded
    exit_code: int | None  # None: timed out and killed
    stdout: str
    stderr: str
    duration_s: float
    oom_killed: bool = False

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None
