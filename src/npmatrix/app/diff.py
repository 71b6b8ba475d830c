"""`npmatrix diff`: what changed from one results file to another of the same matrix."""

from __future__ import annotations

from pathlib import Path

from npmatrix.app.console import Console
from npmatrix.errors import ExitCode
from npmatrix.present import diff as diffs
from npmatrix.records import history
from npmatrix.records import results as results_io


def diff(
    old_path: Path,
    new_path: Path,
    console: Console,
    *,
    perf_threshold: float = diffs.DEFAULT_PERF_THRESHOLD,
    include_emulated: bool = False,
    fail_on_unexpected: bool = False,
    fmt: str = "text",
) -> ExitCode:
    """OLD may be a history directory: then NEW is compared with its latest earlier night of the same matrix."""
    new = results_io.load(new_path)
    if old_path.is_dir():
        old = history.previous(old_path, new) or diffs.nothing_before(new, source=str(old_path))
    else:
        old = results_io.load(old_path)
    found = diffs.diff(old, new, perf_threshold=perf_threshold, include_emulated=include_emulated)
    console.echo(diffs.render(found, fmt, fail_on_unexpected=fail_on_unexpected))
    return found.exit_code(fail_on_unexpected=fail_on_unexpected)
