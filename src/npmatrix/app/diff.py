"""`npmatrix diff`: what changed from one results file to another of the same matrix."""

from __future__ import annotations

from pathlib import Path

from npmatrix.app.console import Console
from npmatrix.errors import ConfigError, ExitCode
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
    first_night: bool = False,
) -> ExitCode:
    """OLD may be a history directory: then NEW is compared with its latest earlier night of the same matrix.
    A history with no night kept is refused unless `first_night`: a gate that a wrong directory (a run's
    own, a lost artifact) turns into "every cell new" would pass whatever NEW holds."""
    new = results_io.load(new_path)
    if old_path.is_dir():
        _check_history(old_path, first_night=first_night)
        old = history.previous(old_path, new) or diffs.nothing_before(new, source=str(old_path))
    else:
        old = results_io.load(old_path)
    found = diffs.diff(old, new, perf_threshold=perf_threshold, include_emulated=include_emulated)
    console.echo(diffs.render(found, fmt, fail_on_unexpected=fail_on_unexpected))
    return found.exit_code(fail_on_unexpected=fail_on_unexpected)


def _check_history(directory: Path, *, first_night: bool) -> None:
    if (directory / "results.json").is_file():
        raise ConfigError(
            "is a run directory (it holds results.json), not a history directory: give "
            f"{directory / 'results.json'} to compare with that run, or the directory `npmatrix history add` keeps "
            "nights in",
            where=str(directory),
        )
    if not history.entries(directory) and not first_night:
        raise ConfigError(
            "holds no kept night, so there is nothing to compare NEW with: give the history directory `npmatrix "
            "history add` keeps nights in, or --first-night to start one (every cell of NEW is then new)",
            where=str(directory),
        )
