"""`npmatrix merge`: the results of a night's shards as one results file, written by `results.ResultsFile`.

Pure apart from that one write. The shards must have run the same matrix (as `results.matrix` names it) and
no cell may be in two of them; with `expected` (the cells of the unsharded selection) every one of them must
be there, and the merged file lists them in that order, exactly as an unsharded run would.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from npmatrix.errors import ConfigError
from npmatrix.records.results import CellResult, Results, ResultsFile


def merge(parts: Sequence[Results], out: Path, *, expected: Sequence[str] | None = None) -> ResultsFile:
    """A ResultsFile at `out` holding every cell of `parts` (not written yet: call `.write`)."""
    if not parts:
        raise ConfigError("nothing to merge: name at least one results file")
    first = parts[0]
    for part in parts[1:]:
        if part.matrix != first.matrix:
            raise ConfigError(
                f"ran matrix {part.matrix!r}, but {first.source} ran {first.matrix!r}: shards of one night run one "
                "matrix",
                where=part.source,
            )
    cells = _cells(parts, expected)
    return ResultsFile(
        out,
        matrix=first.matrix,
        host=_host(parts),
        cells=cells,
        started_at=min((p.started_at for p in parts), key=lambda t: _when(t, parts)),
        finished_at=max((p.finished_at for p in parts if p.finished_at), key=lambda t: _when(t, parts), default=None),
    )


def complete(parts: Sequence[Results]) -> bool:
    return all(p.complete for p in parts)


def _cells(parts: Sequence[Results], expected: Sequence[str] | None) -> list[CellResult]:
    found: dict[str, tuple[CellResult, str]] = {}
    for part in parts:
        for cell in part.cells:
            if cell.name in found:
                raise ConfigError(
                    f"cell {cell.name!r} is also in {found[cell.name][1]}: shards must not overlap (were they cut "
                    "from different selections, or with different histories?)",
                    where=part.source,
                )
            found[cell.name] = (cell, part.source)
    if expected is None:
        return [cell for cell, _ in found.values()]
    missing = [name for name in expected if name not in found]
    extra = [name for name in found if name not in expected]
    if missing:
        raise ConfigError(f"no shard ran {', '.join(missing)}: a shard is missing or failed", where="merge")
    if extra:
        raise ConfigError(f"{', '.join(extra)} not in the selected cells of {parts[0].matrix}", where="merge")
    return [found[name][0] for name in expected]


def _host(parts: Sequence[Results]) -> dict[str, Any]:
    """What all shards' hosts agree on, and each shard's host in full under `merged_from`."""
    common = {k: v for k, v in parts[0].host.items() if all(p.host.get(k) == v for p in parts)}
    return {**common, "merged_from": [{"results": p.source, **p.host} for p in parts]}


def _when(text: str, parts: Sequence[Results]) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        where = next(p.source for p in parts if text in (p.started_at, p.finished_at))
        raise ConfigError(f"{text!r} is not an ISO 8601 time", where=where) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
