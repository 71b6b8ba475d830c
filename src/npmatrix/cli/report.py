"""`npmatrix report`."""

from __future__ import annotations

from pathlib import Path

import click

from npmatrix.app import report as app_report
from npmatrix.cli.output import CONSOLE
from npmatrix.present import reports


@click.command("report")
@click.argument("results_path", metavar="RESULTS", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(reports.FORMATS), default="html", show_default=True, help="Report format."
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report here (atomically) instead of to stdout.",
)
@click.option(
    "--history",
    "history_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    metavar="DIR",
    help=f"Kept nights (`npmatrix history add`): the HTML report adds a status timeline and a GFLOP/s trend "
    f"from the last {app_report.REPORT_HISTORY_NIGHTS} nights of the same matrix up to RESULTS.",
)
def report(results_path: Path, fmt: reports.Format, out_file: Path | None, history_dir: Path | None) -> None:
    """Write a report of RESULTS (a results.json): html, md, junit or json.

    \b
    html   one self-contained page: status grid, GEMM charts, each cell's facts and log tail
           (needs matplotlib: pip install 'npmatrix[report]')
    md     a compact summary for a GitHub job summary; also appended to $GITHUB_STEP_SUMMARY when set
    junit  JUnit XML, one test case per cell, a failure for each cell not as its matrix expected
    json   the results document itself, checked against its schema
    \b
    Exit code 0 when the report was written, whatever the cells did (`npmatrix run` gives the verdict);
    2 when RESULTS cannot be read; 3 when html is asked for without matplotlib.
    """
    app_report.report(results_path, fmt, CONSOLE, out_file=out_file, history_dir=history_dir)
