"""`npmatrix history add` and `history list`: kept nights, one results file per night in a directory."""

from __future__ import annotations

from pathlib import Path

from npmatrix.app.console import Console
from npmatrix.errors import ExitCode
from npmatrix.present import table
from npmatrix.records import history


def add(results_path: Path, directory: Path, console: Console) -> ExitCode:
    kept, added = history.add(results_path, directory)
    console.echo(str(kept))
    if not added:
        console.progress("this night was kept already")
    return ExitCode.OK


def list_nights(directory: Path, console: Console, *, limit: int | None = None) -> ExitCode:
    for night in history.load_recent(directory, limit, strict=True):
        state = "" if night.complete else " (incomplete)"
        console.echo(f"{Path(night.source).name}  {night.matrix}  {table.summary_line(list(night.cells))}{state}")
    return ExitCode.OK
