"""The last lines of each cell's logs, for the HTML report. Reads files; touches no engine.

results.json names each log as the run wrote it (`results/logs/pi64.build.log`, relative to the directory the
run started in). A report is often made elsewhere (a CI artifact unpacked somewhere else), so a log is looked for
there first and then in the `logs/` directory beside results.json. A log that is in neither place is reported
as missing, not an error: artifacts often keep results.json alone.
"""

from __future__ import annotations

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
    beside = Path(results.source).parent / "logs"
    return {r.name: tuple(_tail(kind, path, beside, lines) for kind, path in _ordered(r.logs)) for r in results.cells}


def _ordered(logs: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted(logs.items(), key=lambda item: (item[0] != "build", item[0]))


def _tail(kind: str, recorded: str, beside: Path, lines: int) -> LogTail:
    path = locate(recorded, beside)
    if path is None:
        return LogTail(kind=kind, recorded=recorded, found=False)
    return LogTail(kind=kind, recorded=recorded, found=True, lines=tail_lines(path, lines))


def locate(recorded: str, beside: Path) -> Path | None:
    # The logs beside results.json first: they belong to that run even when its directory was copied (a CI
    # artifact), while the recorded path, relative to where the run started, may hold another night's log.
    for candidate in (beside / Path(recorded).name, Path(recorded)):
        if candidate.is_file():
            return candidate
    return None


def tail_lines(path: Path, lines: int) -> tuple[str, ...]:
    """The last `lines` non-empty lines, each without colour codes and cut to MAX_LINE characters. A line
    rewritten with carriage returns (a progress bar) keeps only what was written last."""
    with path.open("rb") as f:
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
