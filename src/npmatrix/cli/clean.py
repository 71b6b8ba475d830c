"""`npmatrix clean`."""

from __future__ import annotations

import click

from npmatrix.app.inputs import EngineOptions, Selection
from npmatrix.cli.options import engine_options, matrix_options
from npmatrix.cli.output import CONSOLE


@click.command("clean")
@matrix_options
@engine_options
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Remove every npmatrix image, base images included, and containers whose owner cannot be checked.",
)
def clean(selection: Selection, engines: EngineOptions, everything: bool) -> None:
    """Remove containers of runs that are over, and the cell images earlier Dockerfiles of these cells left.

    Cell images are tagged by the hash of their Dockerfile, so every template or pin change leaves the old
    image behind; a nightly job runs `npmatrix clean` after `npmatrix run`. Images of cells that are not in
    the matrix are kept unless --all. A container whose run is still going (its owner process is alive on this
    host) is never removed, so `clean` in one terminal leaves a run in another unharmed.
    """
    from npmatrix.app import clean as app_clean  # the Docker SDK: only the commands that need it pay for it

    app_clean.clean(selection, engines, CONSOLE, everything=everything)
