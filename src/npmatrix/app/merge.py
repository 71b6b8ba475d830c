"""`npmatrix merge`: the results files of a night's shards, as one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from npmatrix.app.console import Console
from npmatrix.config import matrix
from npmatrix.errors import ConfigError, ExitCode
from npmatrix.fileio import check_output
from npmatrix.present import table
from npmatrix.records import merge
from npmatrix.records import results as results_io


def merge_shards(parts: Sequence[Path], out: Path, console: Console, *, matrix_path: str | None = None) -> ExitCode:
    """With the matrix the shards ran, every one of its cells must be in a shard, in the matrix's order."""
    check_output(out, inputs=[*parts, *([Path(matrix_path)] if matrix_path else [])])
    loaded = [results_io.load(p) for p in parts]
    expected = None
    if matrix_path is not None:
        selected = matrix.load_spec(matrix_path, cwd=Path.cwd())
        if selected.source != loaded[0].matrix:
            raise ConfigError(
                f"the shards ran {loaded[0].matrix!r}, not {selected.source!r}", where=f"--matrix {matrix_path}"
            )
        expected = [c.name for c in selected.cells]
    merged = merge.merge(loaded, out, expected=expected)
    merged.write(complete=merge.complete(loaded))
    console.echo(table.table(merged.cells))
    if table.bench_notes(merged.cells):
        console.echo(table.bench_notes(merged.cells))
    console.echo(table.summary_line(merged.cells))
    console.progress(f"merged {len(merged.cells)} cells from {len(parts)} results files: {out}")
    return ExitCode.OK
