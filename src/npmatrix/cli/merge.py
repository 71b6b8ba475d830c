"""`npmatrix merge`."""

from __future__ import annotations

from pathlib import Path

import click

from npmatrix.app import merge as app_merge
from npmatrix.cli.output import CONSOLE


@click.command("merge")
@click.argument("parts", metavar="RESULTS.json...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The merged results file.")
@click.option(
    "--matrix",
    "matrix_path",
    metavar="FILE|NAME",
    help="The matrix the shards ran: every one of its cells must be in a shard, and the merged file lists them "
    "in its order, as an unsharded run would.",
)
def merge(parts: tuple[Path, ...], out: Path, matrix_path: str | None) -> None:
    """Combine the results files of a night's shards (`npmatrix run --shard I/N`) into one.

    Refuses, on one line, shards of different matrices and a cell in two shards. Without --matrix the cells
    keep the order of the files given. Prints the merged table; exit 0 when the merged file was written.
    """
    app_merge.merge_shards(parts, out, CONSOLE, matrix_path=matrix_path)
