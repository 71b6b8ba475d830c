"""`npmatrix list`: the cells a matrix expands to, after the filters."""

from __future__ import annotations

from npmatrix.app.console import Console
from npmatrix.app.inputs import Selection
from npmatrix.config import install
from npmatrix.errors import ExitCode


def list_cells(selection: Selection, console: Console) -> ExitCode:
    """One line per cell: name, platform, suite, how NumPy is installed, what is expected, the CPU model."""
    for c in selection.load().cells:
        how = f"{c.install} {install.method(c.install).package(c)}"
        cpu = f" cpu={c.cpu}" if c.cpu else ""
        console.say(f"{c.name:<24} {c.platform:<8} {c.suite:<9} {how:<22} expect={c.expect.value}{cpu}")
    return ExitCode.OK
