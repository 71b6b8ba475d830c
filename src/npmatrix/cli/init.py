"""`npmatrix init`."""

from __future__ import annotations

from pathlib import Path

import click

from npmatrix.app import init as app_init
from npmatrix.cli.output import CONSOLE
from npmatrix.config import matrix


@click.command("init")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default=matrix.LOCAL_DEFAULT)
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def init(path: Path, force: bool) -> None:
    """Write a commented starter matrix to PATH; it validates as it is.

    PATH defaults to matrix/default.toml, the file the other commands use without --matrix when run from this
    directory. An existing file is kept unless --force.
    """
    app_init.init(path, CONSOLE, force=force)
