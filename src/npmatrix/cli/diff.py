"""`npmatrix diff`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from npmatrix.app import diff as app_diff
from npmatrix.cli.output import CONSOLE
from npmatrix.present.diff import DEFAULT_PERF_THRESHOLD

DIFF_EXIT_CODES = """\b
Exit codes:
  0  no regression
  1  a regression (with --fail-on-unexpected: or a cell of NEW not as expected)
  2  bad input: a file that is not a results file, runs of different matrices
"""


@click.command("diff", epilog=DIFF_EXIT_CODES)
@click.argument("old_path", metavar="OLD", type=click.Path(path_type=Path))
@click.argument("new_path", metavar="NEW", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--perf-threshold",
    type=float,
    default=DEFAULT_PERF_THRESHOLD,
    show_default=True,
    metavar="PCT",
    help="A GEMM change counts when it is beyond PCT percent and beyond the IQRs of both runs "
    "(100 or more: a drop never counts).",
)
@click.option("--include-emulated", is_flag=True, help="Also gate on GFLOP/s of cells run under QEMU.")
@click.option(
    "--fail-on-unexpected",
    is_flag=True,
    help="Also exit 1 when a cell of NEW did not end as its matrix expected: the nightly gate.",
)
@click.option(
    "--first-night",
    is_flag=True,
    help="OLD is a history directory with no night kept yet: every cell of NEW is new (without it, refused).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text", show_default=True)
def diff(
    old_path: Path,
    new_path: Path,
    perf_threshold: float,
    include_emulated: bool,
    fail_on_unexpected: bool,
    first_night: bool,
    fmt: str,
) -> None:
    """What changed from OLD to NEW, two results files of one matrix; exit 1 on a regression.

    \b
    A regression: a cell that was ok and now fails, or that failed as expected and now fails otherwise;
    a GEMM median (per cell, dtype, size, threads) that dropped beyond --perf-threshold and beyond the spread
    (IQR) of both runs. Cells run under QEMU are left out of the GEMM comparison unless --include-emulated.
    Improvements, other status and reason changes, new and removed cells are listed.

    \b
    OLD may be a history directory (`npmatrix history add`): then NEW is compared with the latest night of
    the same matrix kept there that started before it (none of this matrix: every cell is new). A directory
    with no night kept at all, or a run's own directory, is refused: --first-night starts a history. Examples:
      npmatrix diff yesterday/results.json results/results.json
      npmatrix diff history/ results/results.json --fail-on-unexpected --format md
    """
    code = app_diff.diff(
        old_path,
        new_path,
        CONSOLE,
        perf_threshold=perf_threshold,
        include_emulated=include_emulated,
        fail_on_unexpected=fail_on_unexpected,
        fmt=fmt,
        first_night=first_night,
    )
    sys.exit(code)
