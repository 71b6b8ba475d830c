"""`npmatrix list`."""

from __future__ import annotations

import click

from npmatrix.app import list as app_list
from npmatrix.app.inputs import Selection
from npmatrix.cli.options import matrix_options
from npmatrix.cli.output import CONSOLE


@click.command("list")
@matrix_options
def list_cells(selection: Selection) -> None:
    """Show the cells a matrix expands to, after filters, one per line."""
    app_list.list_cells(selection, CONSOLE)
