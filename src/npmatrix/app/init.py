"""`npmatrix init`: a commented starter matrix."""

from __future__ import annotations

import os
from pathlib import Path

from npmatrix import fileio
from npmatrix.app.console import Console
from npmatrix.config import matrix
from npmatrix.errors import ConfigError, ExitCode


def init(path: Path, console: Console, *, force: bool = False) -> ExitCode:
    if os.path.lexists(path) and not force:  # lexists: a dangling symlink is not a free name either
        raise ConfigError("exists already; pass --force to replace it, or give another PATH", where=str(path))
    fileio.write_atomic(path, matrix.starter_text())
    console.say(str(path))
    console.progress(f"its cells: npmatrix list --matrix {path}")
    return ExitCode.OK


def init_pyproject(path: Path, console: Console) -> ExitCode:
    """Append the starter matrix to a project's pyproject.toml as its [tool.npmatrix] table.

    The file must exist and have no such table yet; the result is checked as `npmatrix run` would read it before
    it replaces the file, so a pyproject.toml is never left half-written or invalid.
    """
    if not fileio.is_file(path):
        raise ConfigError(
            "no such file; --pyproject adds a [tool.npmatrix] table to a project's existing pyproject.toml",
            where=str(path),
        )
    text = fileio.read_limited(
        path,
        matrix.MAX_FILE_BYTES,
        where=str(path),
        cannot_read="cannot read",
        too_large=f"is larger than {matrix.MAX_FILE_BYTES // 1024} KiB",
    ).decode("utf-8", errors="replace")
    try:
        matrix.loads(text, source=str(path))
    except ConfigError as exc:
        if "has no [tool.npmatrix] table" not in str(exc):
            raise
    else:
        raise ConfigError("has a [tool.npmatrix] table already: edit it, or remove it first", where=str(path))
    updated = text.rstrip("\n") + "\n\n" + matrix.starter_pyproject_text()
    matrix.loads(updated, source=str(path))
    fileio.write_atomic(path, updated)
    console.say(str(path))
    console.progress("its cells: npmatrix list (in this directory)")
    return ExitCode.OK
