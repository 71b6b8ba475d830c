"""`npmatrix freeze-to-matrix`: a `pip freeze` as a matrix file whose cells install the same pins elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from npmatrix.app.console import Console
from npmatrix.config import freeze
from npmatrix.errors import ExitCode
from npmatrix.fileio import write_atomic
from npmatrix.text import printable


def freeze_to_matrix(
    freeze_path: Path,
    console: Console,
    *,
    name: str | None = None,
    platforms: tuple[str, ...] = (),
    suite: str = freeze.DEFAULT_SUITE,
    cpus: Mapping[str, str] | None = None,
    only: tuple[str, ...] = (),
    numpy: str | None = None,
    source: str | None = None,
    out_file: Path | None = None,
) -> ExitCode:
    """The matrix file on stdout (or in `out_file`), what each cell keeps and leaves out on stderr. `only` items
    may each list several names, comma-separated, as --only takes them."""
    options = freeze.Options(
        name=name if name is not None else freeze.name_from_path(freeze_path),
        platforms=platforms or freeze.DEFAULT_PLATFORMS,
        suite=suite,
        cpus=dict(cpus or {}),
        only=tuple(n.strip() for item in only for n in item.split(",") if n.strip()),
        numpy=numpy,
        source=source,
    )
    conversion = freeze.convert(freeze.load(freeze_path), options)
    # A freeze line may carry an index URL with its token (`-i https://...?token=`): the matrix never does.
    text = printable(freeze.render(conversion))
    if out_file is None:
        console.echo(text, nl=False)
    else:
        write_atomic(out_file, text)
    for cell in conversion.cells:
        left_out = len(cell.left_out) + len(conversion.unusable)
        console.progress(f"{cell.name}: numpy and {len(cell.packages)} packages; {left_out} left out (see the header)")
    if out_file is not None:
        console.progress(f"matrix file: {out_file} (npmatrix list --matrix {out_file})")
    return ExitCode.OK
