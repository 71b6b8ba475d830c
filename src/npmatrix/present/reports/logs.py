"""The last lines of each cell's logs, for the HTML report. Reads files; touches no engine.

results.json names each log as the run wrote it (`results/logs/pi64.build.log`, relative to the directory the
run started in). A report is often made elsewhere (a CI artifact unpacked somewhere else), so a log is looked for
in the `logs/` directory beside results.json first, then where it says. A log that is in neither place is
reported as missing, not an error: artifacts often keep results.json alone.

A results file is untrusted input (a fork's artifact): a log is read only when its path, symlinks resolved,
lies inside the run's own directory (the one holding results.json), and only when it is a regular file, so a
cell that names /etc/passwd, /proc/self/environ or a symlink out of the run never copies it into a report.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from npmatrix.records.results import Results
from npmatrix.text import shorten, strip_controls

TAIL_LINES = 30
MAX_LINE = 300  # characters kept of one log line: pip and compilers print very long ones
_READ_BYTES = 256 * 1024  # enough for 30 lines; a multi-megabyte build log is not read whole


@dataclass(frozen=True, kw_only=True)
class LogTail:
    kind: str  # the key in results.json's "logs": build, probe_stderr, ...
    recorded: str  # the path results.json names
    found: bool
    lines: tuple[str, ...] = ()


def read_tails(results: Results, *, lines: int = TAIL_LINES) -> dict[str, tuple[LogTail, ...]]:
    """Per cell name, the tail of each log it names, build log first."""
    run_dir = Path(results.source).parent
    return {r.name: tuple(_tail(kind, path, run_dir, lines) for kind, path in _ordered(r.logs)) for r in results.cells}


def _ordered(logs: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted(logs.items(), key=lambda item: (item[0] != "build", item[0]))


def _tail(kind: str, recorded: str, run_dir: Path, lines: int) -> LogTail:
    path = locate(recorded, run_dir)
    if path is None:
        return LogTail(kind=kind, recorded=recorded, found=False)
    try:
        found = tail_lines(path, lines)
    except (OSError, ValueError):  # swapped for a FIFO or removed since `locate` looked
        return LogTail(kind=kind, recorded=recorded, found=False)
    return LogTail(kind=kind, recorded=recorded, found=True, lines=found)


def locate(recorded: str, run_dir: Path) -> Path | None:
    """The log `recorded` names, resolved, if it is a regular file inside `run_dir`; else None."""
    # The logs beside results.json first: they belong to that run even when its directory was copied (a CI
    # artifact), while the recorded path, relative to where the run started, may hold another night's log.
    try:
        root = run_dir.resolve()
        candidates = (run_dir / "logs" / Path(recorded).name, Path(recorded))
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved.is_relative_to(root) and resolved.is_file():
                return resolved
    except (OSError, ValueError, RuntimeError):  # a name too long, a NUL, a symlink loop
        return None
    return None


def tail_lines(path: Path, lines: int) -> tuple[str, ...]:
    """The last `lines` non-empty lines, each without colour codes and cut to MAX_LINE characters. A line
    rewritten with carriage returns (a progress bar) keeps only what was written last."""
    # O_NONBLOCK: a FIFO put in place after `locate` looked is not waited on (its read returns at once).
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is not a regular file")
        size = f.seek(0, 2)
        f.seek(max(0, size - _READ_BYTES))
        raw = f.read().decode("utf-8", errors="replace").split("\n")
    if size > _READ_BYTES:
        raw = raw[1:]  # the first line read is cut
    kept = [strip_controls(_last_write(line)).rstrip() for line in raw]
    return tuple(shorten(line, MAX_LINE) for line in kept if line.strip())[-lines:]


def _last_write(line: str) -> str:
    written = [part for part in line.split("\r") if part.strip()]
    return written[-1] if written else ""
