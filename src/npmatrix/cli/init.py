"""`npmatrix init`."""

from __future__ import annotations

from pathlib import Path

import click

from npmatrix.app import init as app_init
from npmatrix.cli.output import CONSOLE
from npmatrix.config import matrix
from npmatrix.errors import ConfigError


@click.command("init")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@click.option(
    "--pyproject",
    is_flag=True,
    help="Add the starter matrix to a Python project's pyproject.toml (PATH, default ./pyproject.toml) as its "
    "[tool.npmatrix] table, which the other commands then use without --matrix in that directory.",
)
def init(path: Path | None, force: bool, pyproject: bool) -> None:
    """Write a commented starter matrix to PATH; it validates as it is.

    PATH defaults to matrix/default.toml, the file the other commands use without --matrix when run from this
    directory. An existing file is kept unless --force.
    """
    if pyproject:
        if force:
            raise ConfigError("a [tool.npmatrix] table is never replaced; edit or remove it", where="--force")
        app_init.init_pyproject(path or Path(matrix.PYPROJECT), CONSOLE)
        return
    app_init.init(path or Path(matrix.LOCAL_DEFAULT), CONSOLE, force=force)
