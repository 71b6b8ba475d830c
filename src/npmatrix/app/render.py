"""`npmatrix render`: each cell's Dockerfile, written to a directory."""

from __future__ import annotations

from pathlib import Path

from npmatrix import fileio
from npmatrix.app import planning
from npmatrix.app.console import Console
from npmatrix.app.inputs import Selection
from npmatrix.errors import ExitCode


def render(selection: Selection, out_dir: Path, console: Console) -> ExitCode:
    plans = planning.plan(selection.load(), console)  # a bad matrix leaves no empty directory behind
    # All files or none: a directory that cannot be written leaves no half-rendered matrix behind.
    for path in fileio.write_files(out_dir, {f"{p.cell.name}.Dockerfile": p.dockerfile for p in plans}):
        console.say(str(path))
    return ExitCode.OK
