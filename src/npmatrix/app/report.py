"""`npmatrix report`: a report of one results file, and the kept nights its HTML timeline and trend show."""

from __future__ import annotations

import os
from pathlib import Path

from npmatrix.app.console import Console
from npmatrix.errors import ConfigError, ExitCode
from npmatrix.fileio import check_output, write_atomic
from npmatrix.present import reports
from npmatrix.records import history
from npmatrix.records import results as results_io

REPORT_HISTORY_NIGHTS = 90  # the HTML report's trend; its status timeline shows the last 30 of them


def report(
    results_path: Path, fmt: reports.Format, console: Console, *, out_file: Path | None, history_dir: Path | None
) -> ExitCode:
    """0 when the report was written, whatever the cells did: `npmatrix run` gives the verdict."""
    reports.require([fmt])
    if out_file is not None:
        check_output(out_file, inputs=[results_path])
    night = results_io.load(results_path)
    earlier = report_history(history_dir, night) if history_dir is not None else ()
    text = reports.render(night, fmt, history=earlier)
    if out_file is not None:
        try:
            write_atomic(out_file, text)
        except OSError as exc:
            raise ConfigError(f"cannot write the report: {exc.strerror}", where=str(out_file)) from exc
        console.progress(f"{fmt} report: {out_file}")
    else:
        console.echo(text, nl=False)
    if fmt == "md" and (summary := reports.append_step_summary(text, os.environ)) is not None:
        console.progress(f"appended to the GitHub step summary: {summary}")
    return ExitCode.OK


def report_history(history_dir: Path, night: results_io.Results) -> tuple[results_io.Results, ...]:
    """Earlier kept nights of `night`'s matrix, for the HTML report's timeline and trend (none kept yet: ())."""
    if not history_dir.exists():
        return ()
    until = history.started(night)
    return history.load_recent(history_dir, REPORT_HISTORY_NIGHTS, matrix=night.matrix, until=until, same_night=night)
