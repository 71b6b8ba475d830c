"""`npmatrix doctor`."""

from __future__ import annotations

import sys

import click

from npmatrix.app.inputs import EngineOptions, Selection
from npmatrix.cli.options import engine_options, matrix_options
from npmatrix.cli.output import CONSOLE
from npmatrix.errors import ExitCode


@click.command("doctor")
@matrix_options
@engine_options
def doctor(selection: Selection, engines: EngineOptions) -> None:
    """Check the engines, builders, QEMU and base images the selected cells need, and say for each platform
    whether its engine runs it natively or under QEMU."""
    from npmatrix.app import doctor as app_doctor  # imports the Docker SDK (~0.6 s): only the commands that need it

    if (code := app_doctor.doctor(selection, engines, CONSOLE)) is not ExitCode.OK:
        sys.exit(code)
