"""`npmatrix base build`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from npmatrix.app.inputs import EngineOptions, Selection
from npmatrix.cli.options import engine_options, matrix_options
from npmatrix.cli.output import CONSOLE
from npmatrix.errors import ExitCode


@click.group("base")
def base() -> None:
    """Base images: Debian made with mmdebstrap, for machines that reach no registry."""


@base.command("build")
@matrix_options
@engine_options
@click.option("--log-dir", type=click.Path(path_type=Path), default=Path("results/logs"), show_default=True)
def base_build(selection: Selection, engines: EngineOptions, log_dir: Path) -> None:
    """Make the base images the selected cells need, on the engine each platform uses; existing ones are kept."""
    from npmatrix.app import base as app_base  # the fleet and the Docker SDK: only the commands that need it

    if (code := app_base.build(selection, engines, CONSOLE, log_dir=log_dir)) is not ExitCode.OK:
        sys.exit(code)
