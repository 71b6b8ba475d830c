"""`npmatrix history add` and `npmatrix history list`."""

from __future__ import annotations

from pathlib import Path

import click

from npmatrix.app import history as app_history
from npmatrix.cli.output import CONSOLE


@click.group("history")
def history_group() -> None:
    """Kept nights: one results file per night in a directory, named by when the night started."""


@history_group.command("add")
@click.argument("results_path", metavar="RESULTS", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
def history_add(results_path: Path, directory: Path) -> None:
    """Keep RESULTS in DIR as <started_at, UTC>.json, e.g. 20261125T183858Z.json (DIR is created).

    The file is checked and copied byte for byte; the same file twice is kept once.
    """
    app_history.add(results_path, directory, CONSOLE)


@history_group.command("list")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@click.option("--limit", type=int, metavar="N", help="Only the last N nights.")
def history_list(directory: Path, limit: int | None) -> None:
    """The kept nights in DIR, oldest first: matrix, cells, and whether each ended as expected."""
    app_history.list_nights(directory, CONSOLE, limit=limit)
