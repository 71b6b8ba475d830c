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
