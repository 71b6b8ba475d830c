"""Kept nights: each night's results.json in one directory, under a name from when it started.

    history/20261125T183858Z.json      # results.started_at in UTC, ISO 8601 basic format: sorts by time,
    history/20261126T030112Z.json      # no ':' (not allowed on Windows, awkward in URLs and artifacts)
    history/20261126T030112Z-2.json    # another run that started in the same second

A file is kept byte for byte as the run wrote it (`add` checks it through `results.load` first), so a kept
night reads back exactly like the original; one that holds a credential or a raw escape (not written by
npmatrix) is kept redacted, as npmatrix would have written it. Other files in the directory are ignored.
Reading is forgiving: a kept file that no longer loads (truncated, hand-edited, another schema_version) is
skipped with a one-line warning, so one bad night never hides the others.

No engine, no printing beyond those warnings: `npmatrix history`, `npmatrix run --history`, `npmatrix diff
DIR NEW` and the HTML report (`history=load_recent(...)`) all read through here.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from npmatrix import fileio, text
from npmatrix.errors import ConfigError
from npmatrix.records import results
from npmatrix.records.results import Results

Warn = Callable[[str], None]
_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<seq>[1-9]\d*))?\.json$")
_STAMP = "%Y%m%dT%H%M%SZ"


def warn_on_stderr(message: str) -> None:
    sys.stderr.write(f"npmatrix: warning: {text.one_line(message)}\n")


@dataclass(frozen=True, kw_only=True)
class Entry:
    """A kept night, known by its file name alone (nothing read yet)."""

    path: Path
    stamp: str
    seq: int

    @property
    def sort_key(self) -> tuple[str, int]:
        return (self.stamp, self.seq)


def stamp(started_at: str, *, where: str = "started_at") -> str:
    """`2026-11-25T18:38:58+00:00` -> `20261125T183858Z`: UTC, whole seconds, safe in any file name."""
    try:
        when = datetime.fromisoformat(started_at)
    except ValueError:
        raise ConfigError(f"started_at {started_at!r} is not an ISO 8601 time", where=where) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # npmatrix writes UTC; a naive time is taken as UTC too
    return when.astimezone(UTC).strftime(_STAMP)


def started(result: Results) -> datetime:
    when = datetime.fromisoformat(result.started_at)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def entries(directory: Path) -> list[Entry]:
    """The kept nights in `directory`, oldest first; a ConfigError when it is not a directory."""
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "no such directory"
        raise ConfigError(
            f"{what} (a history directory holds the nights `npmatrix history add` kept)", where=str(directory)
        )
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_file():
            found.append(Entry(path=path, stamp=match["stamp"], seq=int(match["seq"] or 1)))
    return sorted(found, key=lambda e: e.sort_key)


def add(results_path: Path, directory: Path) -> tuple[Path, bool]:
    """Keep `results_path` in `directory` under its start time. Returns the kept path and whether it was
    written: a file with the same bytes kept before is not kept twice (`make nightly` may be re-run)."""
    night = results.load(results_path)  # refuses what is not a results file, with one line
    data = kept_bytes(results_path.read_bytes())
    base = stamp(night.started_at, where=str(results_path))
    if directory.exists() and not directory.is_dir():
        raise ConfigError("is not a directory", where=str(directory))
    for seq in itertools.count(1):
        kept = directory / (f"{base}.json" if seq == 1 else f"{base}-{seq}.json")
        if not kept.exists():
            fileio.write_atomic(kept, data.decode())
            return kept, True
        if kept.read_bytes() == data:
            return kept, False
    raise AssertionError("unreachable")


def kept_bytes(data: bytes) -> bytes:
    """What is kept of a results file that loaded (so it is UTF-8 JSON): its bytes, unless it holds a credential
    or a raw escape (a file npmatrix wrote holds neither, one from elsewhere may), then its document redacted
    and dumped as ASCII JSON, as npmatrix writes it."""
    try:
        document = json.loads(data)
    except ValueError:  # it loaded a moment ago: it is being rewritten, or it is not a file
        raise ConfigError("changed while it was read; keep it once it is written", where="history add") from None
    redacted = text.redact_document(document)
    if redacted == document and data.isascii():
        return data
    return (json.dumps(redacted, indent=2) + "\n").encode()


def load_recent(
    directory: Path,
    limit: int | None = None,
    *,
    matrix: str | None = None,
    until: datetime | None = None,
    same_night: Results | None = None,
    warn: Warn = warn_on_stderr,
) -> tuple[Results, ...]:
    """The last `limit` kept nights that load (all of them when None), oldest first.

    `matrix` keeps only nights of that matrix (as `results.matrix` names it); `until` only nights that
    started no later (whole seconds: two short runs can start in the same second); `same_night` is left out
    if it was kept already. Files that do not load are skipped with a warning and do not count toward
    `limit`: newest files are read first and reading stops once `limit` nights are in hand.
    """
    if limit is not None and limit < 1:
        raise ConfigError(f"must be at least 1, got {limit}", where="history limit")
    cutoff = stamp(until.isoformat()) if until else None
    chosen: list[Results] = []
    for entry in reversed(entries(directory)):
        if cutoff is not None and entry.stamp > cutoff:
            continue
        night = _load(entry, warn)
        if night is None or (matrix is not None and night.matrix != matrix):
            continue
        if until is not None and started(night) > until:
            continue
        if same_night is not None and _same_night(night, same_night):
            continue
        chosen.append(night)
        if limit is not None and len(chosen) >= limit:
            break
    return tuple(reversed(chosen))


def previous(directory: Path, new: Results, *, warn: Warn = warn_on_stderr) -> Results | None:
    """The latest kept night of `new`'s matrix that started before it, `new` itself left out when it was
    kept already (the gate re-run after `history add`): what the nightly gate diffs against."""
    found = load_recent(directory, 1, matrix=new.matrix, until=started(new), same_night=new, warn=warn)
    return found[-1] if found else None


def _same_night(a: Results, b: Results) -> bool:
    # A run's host facts carry its unique run_id (a merged night those of its shards): the same start and
    # the same host is the same night, read from two files.
    return a.started_at == b.started_at and a.host == b.host


def _load(entry: Entry, warn: Warn) -> Results | None:
    try:
        return results.load(entry.path)
    except ConfigError as exc:
        warn(f"skipped a kept night that does not load: {exc}")
        return None
