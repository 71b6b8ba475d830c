"""`npmatrix render`."""

from __future__ import annotations

from pathlib import Path

import click

from npmatrix.app import render as app_render
from npmatrix.app.inputs import Selection
from npmatrix.cli.options import matrix_options
from npmatrix.cli.output import CONSOLE


@click.command("render")
@matrix_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("results/dockerfiles"),
    show_default=True,
    help="Directory for <cell>.Dockerfile files.",
)
def render(selection: Selection, out_dir: Path) -> None:
    """Write each cell's Dockerfile. Deterministic: the same matrix gives the same bytes, but for a Raspberry
    Pi OS cell, whose pip.conf names piwheels only where piwheels answers (as `run` finds it)."""
    app_render.render(selection, out_dir, CONSOLE)
