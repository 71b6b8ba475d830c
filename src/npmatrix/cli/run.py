"""`npmatrix run`: its options; what it does is app/run.py."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from npmatrix.app.inputs import EngineOptions, Selection
from npmatrix.cli.options import EXIT_CODES_HELP, engine_options, matrix_options
from npmatrix.cli.output import CONSOLE
from npmatrix.present import reports
from npmatrix.run import reuse
from npmatrix.run.shard import Shard


def _parse_report_formats(text: str) -> tuple[reports.Format, ...]:
    if not text.strip():
        return ()
    try:
        return reports.parse_formats(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("run", epilog=EXIT_CODES_HELP)
@matrix_options
@engine_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Directory for results.json and logs/.",
)
@click.option("--rebuild", is_flag=True, help="Rebuild cell images even when one exists for the same Dockerfile.")
@click.option("--keep-containers", is_flag=True, help="Do not remove probe containers (for debugging).")
@click.option(
    "--jobs",
    "-j",
    type=int,
    metavar="N",
    help="Cells at once: builds and probes side by side, emulated cells first. GEMM benchmarks never overlap "
    "one another; other cells' work that ran during one is named in results.json (bench_overlap). "
    "--jobs 1 runs each cell alone, for benchmarks on a quiet machine.  [default: CPUs, at most the cells]",
)
@click.option(
    "--reuse-results",
    "reuse_dir",
    is_flag=False,
    flag_value="",
    metavar="[DIR]",
    help="Reuse what cannot have changed since the run in DIR (default: --out; a DIR named here must hold its "
    "results.json): a cell's probe when its image, "
    "probe scripts and command are the same (the benchmark is measured again), and a no-wheel build failure "
    "when the Dockerfile and base are the same and the package index still offers no NumPy wheel for the "
    "cell's tags (asked with pip on this host; any wheel offered, or no answer, and the cell is built).",
)
@click.option(
    "--reuse-bench",
    type=click.Choice(reuse.REUSE_BENCH),
    is_flag=False,
    flag_value="all",
    metavar="[all|emulated]",
    help="With --reuse-results: take the benchmark's numbers with the probe, no timing: every reused cell's "
    "(all, the default), or only emulated cells' (emulated: their GFLOP/s measure QEMU on this host, not a "
    "board; native cells are timed again). The table marks them 'probe and bench reused'.",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Continue the run whose results are in DIR: run only the cells missing there or ended by an engine "
    "error, keep the others. Same matrix only. Writes to DIR.",
)
@click.option(
    "--shard",
    "sharding",
    metavar="I/N",
    callback=lambda ctx, param, value: Shard.parse(value) if value is not None else None,
    help="Run only shard I of N: a deterministic share of the selected cells, balanced by expected cost "
    "(cells under QEMU cost more; with --history, by their recorded durations). Merge the shards with "
    "`npmatrix merge`.",
)
@click.option(
    "--history",
    "history_dir",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Kept nights. Diff this run against the latest kept night of the same matrix (printed after the "
    "table), keep it in DIR, and exit 1 on a regression as well. With --shard, DIR only informs the balance: "
    "a shard is not a night (merge, then `npmatrix history add`).",
)
@click.option(
    "--report",
    "report_formats",
    metavar="html,md,junit",
    default="",
    callback=lambda ctx, param, value: _parse_report_formats(value),
    help="Also write these reports next to results.json: OUT/report.html, OUT/report.md, OUT/junit.xml.",
)
@click.option(
    "--wide", is_flag=True, help="Print the table at full width, reasons in its rows (default: fit the terminal)."
)
def run(
    selection: Selection,
    engines: EngineOptions,
    out_dir: Path,
    rebuild: bool,
    keep_containers: bool,
    sharding: Shard | None,
    history_dir: Path | None,
    report_formats: tuple[reports.Format, ...],
    resume_dir: Path | None,
    jobs: int | None,
    reuse_dir: str | None,
    reuse_bench: reuse.ReuseBench | None,
    wide: bool,
) -> None:
    """Render, build, probe and benchmark each cell; print the table, write OUT/results.json.

    Base images are made on first use (mmdebstrap, a few minutes) and reused after. results.json is
    rewritten after every cell, so an interrupted run keeps the cells it finished, and --resume OUT
    continues it.
    """
    from npmatrix.app import run as app_run  # imports the runner and the Docker SDK: only `run` pays for them

    source = click.get_current_context().get_parameter_source("out_dir")
    request = app_run.RunRequest(
        selection=selection,
        engines=engines,
        out_dir=out_dir,
        out_given=source is click.core.ParameterSource.COMMANDLINE,
        rebuild=rebuild,
        keep_containers=keep_containers,
        jobs=jobs,
        reuse_dir=reuse_dir,
        reuse_bench=reuse_bench,
        resume_dir=resume_dir,
        sharding=sharding,
        history_dir=history_dir,
        report_formats=report_formats,
        wide=wide,
    )
    sys.exit(app_run.run(request, CONSOLE))
