"""The `npmatrix` command line. Thin: parse options, call the pure plan and the runner, print."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from npmatrix import __version__, fileio, text
from npmatrix.config import engine_choice as engines
from npmatrix.config import freeze, matrix
from npmatrix.errors import ConfigError, ExitCode, FatalError
from npmatrix.fileio import write_atomic
from npmatrix.judge import classify
from npmatrix.judge.facts import summarize
from npmatrix.judge.outcomes import BuildOutcome, ProbeRun
from npmatrix.plan import cellplan as plan
from npmatrix.present import diff, reports, table
from npmatrix.records import history, merge, probe_file
from npmatrix.records import results as results_io
from npmatrix.run import reuse
from npmatrix.run.shard import Shard
from npmatrix.verdict import Status, Verdict

if TYPE_CHECKING:
    from npmatrix.host.engine import Engine

EXIT_CODES_HELP = """\b
Exit codes:
  0  every cell ended as its matrix expected
  1  some cell did not (a regression, or a fix: read the table)
  2  bad input: matrix file, option or value
  3  no container engine, BuildKit or QEMU where one is needed (or matplotlib,
     for an HTML report), or the engine failed a cell (finish with --resume)
  130  interrupted (Ctrl-C, SIGTERM); finished cells are kept
"""

ARCH_HELP = "Only cells on this platform (amd64, arm64, arm/v7, arm/v6); repeatable."
# `probe --bench --sizes`: n=4096 float64 is 128 MiB per matrix and about a minute on two cores; a million
# would need 8 TB and was reported as NumPy "crashed".
MAX_GEMM_SIZE = 4096
MAX_GEMM_SIZES = 8


def _say(message: str) -> None:
    """Everything printed on stdout goes through here: strings from files are hostile by design (shared probe
    files, results), so control characters are made visible and credentials redacted; and a stdout that is
    closed or full is a one-line error, not a traceback."""
    try:
        click.echo(text.printable(message))
    except OSError as exc:
        raise _stdout_error(exc) from None


def _stdout_error(exc: OSError) -> ConfigError:
    # Python flushes sys.stdout again at exit and would print a second complaint: point it at /dev/null.
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return ConfigError(f"cannot write the output: {reason}", where="stdout")


def _matrix_options(f: click.decorators.FC) -> click.decorators.FC:
    f = click.option(
        "--cell",
        "cells",
        multiple=True,
        metavar="NAME",
        help="Only this cell; shell globs work ('pi32-*'); repeatable.",
    )(f)
    f = click.option("--arch", "arches", multiple=True, metavar="PLATFORM", help=ARCH_HELP)(f)
    f = click.option(
        "--matrix",
        "matrix_path",
        metavar="FILE|NAME",
        # The names are spelled out, not read from the package at import time; a unit test keeps them in step.
        help="Matrix file (TOML), or a built-in matrix by name (bookworm, default, gallery). "
        "Without it: ./matrix/default.toml if there is one, else the built-in default.",
    )(f)
    return f


def _engine_options(f: click.decorators.FC) -> click.decorators.FC:
    """--engine, --engine-for, --builder: which engines build and run the cells (npmatrix.config.engine_choice)."""
    f = click.option(
        "--builder",
        metavar="NAME",
        help="Build with `docker buildx build --builder NAME --load`: a named buildx builder (a remote BuildKit, "
        "or one with native ARM nodes). Needs the buildx plugin.",
    )(f)
    f = click.option(
        "--engine-for",
        "engine_for",
        multiple=True,
        metavar="PLATFORM=ENGINE",
        callback=lambda ctx, param, values: engines.parse_engine_for_options(values),
        help="Build and run PLATFORM's cells on another engine: a docker context name or a DOCKER_HOST URL "
        "(unix://, tcp://, ssh://), e.g. arm64=ssh://pi@raspberrypi; native there, no QEMU, when its machine "
        "is that platform. Repeatable; wins over the matrix file's [engine_for].",
    )(f)
    f = click.option(
        "--engine",
        "engine_kind",
        type=click.Choice(engines.KINDS),
        default="docker",
        show_default=True,
        help="docker: DOCKER_HOST, DOCKER_CONTEXT or the current docker context, as the docker CLI picks; "
        "podman: Podman's Docker-compatible socket (CONTAINER_HOST, else unix:///run/podman/podman.sock; "
        "scripts/podman-up starts it) and `podman build`.",
    )(f)
    return f


def _engines(
    selected: matrix.Matrix, engine_kind: engines.EngineKind, engine_for: dict[str, str], builder: str | None
) -> engines.EngineChoice:
    return engines.choose(engine_kind, engine_for={**selected.engine_for, **engine_for}, builder=builder)


def _load(matrix_path: str | None, arches: tuple[str, ...], cells: tuple[str, ...]) -> matrix.Matrix:
    # matrix_path is what --matrix got: a file path or a built-in name (None without --matrix).
    return matrix.load_spec(matrix_path, cwd=Path.cwd()).select(arches=arches, names=cells)


@click.group(epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="npmatrix")
def cli() -> None:
    """Build NumPy in a matrix of containers (amd64, arm64, arm/v7 under QEMU), probe and benchmark each
    cell, and say per cell whether it works and why not.

    \b
    Typical use:
      npmatrix doctor                      # is the engine, BuildKit and QEMU ready?
      npmatrix run                         # the default matrix: table on stdout, results/results.json
      npmatrix run --arch arm/v7           # only the 32-bit Raspberry-Pi-like cells
      npmatrix list --matrix my.toml       # which cells a matrix file expands to
      npmatrix probe --bench --out me.json # the same probe on this machine, no engine needed
      npmatrix explain me.json results/results.json:colab   # why NumPy works there and not here
    """


@cli.command("list")
@_matrix_options
def list_cells(matrix_path: str | None, arches: tuple[str, ...], cells: tuple[str, ...]) -> None:
    """Show the cells a matrix expands to, after filters, one per line."""
    for c in _load(matrix_path, arches, cells).cells:
        how = f"pip numpy{c.numpy}" if c.install == "pip" else "apt python3-numpy"
        cpu = f" cpu={c.cpu}" if c.cpu else ""
        _say(f"{c.name:<24} {c.platform:<8} {c.suite:<9} {how:<22} expect={c.expect.value}{cpu}")


@cli.command()
@_matrix_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("results/dockerfiles"),
    show_default=True,
    help="Directory for <cell>.Dockerfile files.",
)
def render(matrix_path: str | None, arches: tuple[str, ...], cells: tuple[str, ...], out_dir: Path) -> None:
    """Write each cell's Dockerfile. Deterministic: the same matrix gives the same bytes."""
    plans = plan.plan(_load(matrix_path, arches, cells))  # a bad matrix leaves no empty directory behind
    # All files or none: a directory that cannot be written leaves no half-rendered matrix behind.
    for path in fileio.write_files(out_dir, {f"{p.cell.name}.Dockerfile": p.dockerfile for p in plans}):
        _say(str(path))


@cli.command("init")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default=matrix.LOCAL_DEFAULT)
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def init(path: Path, force: bool) -> None:
    """Write a commented starter matrix to PATH; it validates as it is.

    PATH defaults to matrix/default.toml, the file the other commands use without --matrix when run from this
    directory. An existing file is kept unless --force.
    """
    if os.path.lexists(path) and not force:  # lexists: a dangling symlink is not a free name either
        raise ConfigError("exists already; pass --force to replace it, or give another PATH", where=str(path))
    write_atomic(path, matrix.starter_text())
    _say(str(path))
    _progress(f"its cells: npmatrix list --matrix {path}")


@cli.command(epilog=EXIT_CODES_HELP)
@_matrix_options
@_engine_options
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
    matrix_path: str | None,
    arches: tuple[str, ...],
    cells: tuple[str, ...],
    out_dir: Path,
    rebuild: bool,
    keep_containers: bool,
    sharding: Shard | None,
    history_dir: Path | None,
    report_formats: tuple[reports.Format, ...],
    resume_dir: Path | None,
    engine_kind: engines.EngineKind,
    engine_for: dict[str, str],
    builder: str | None,
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
    from npmatrix.run import runner, schedule, shard

    reports.require(report_formats)  # before the matrix, not after an hour of it
    if jobs is not None:
        schedule.check_jobs(jobs)
    if reuse_bench and reuse_dir is None:
        raise ConfigError("reuses the benchmark of --reuse-results; give --reuse-results too", where="--reuse-bench")
    if reuse_dir:  # named: a typo must not cost a whole run (only --out, the default, may have none yet)
        _named_earlier_run(Path(reuse_dir))
    selected = _load(matrix_path, arches, cells)
    choice = _engines(selected, engine_kind, engine_for, builder)
    plans = plan.plan(selected)
    if sharding is not None:
        kept = _recent_nights(history_dir, selected.source)
        plans = shard.select(plans, sharding, recorded=shard.recorded_durations(kept))
        names = ", ".join(p.cell.name for p in plans) or "none (fewer cells than shards)"
        _progress(f"shard {sharding} of {len(selected.cells)} cells: {names}")
    finished: tuple[results_io.CellResult, ...] = ()
    previous: results_io.Results | None = None
    if resume_dir is not None:
        given = click.get_current_context().get_parameter_source("out_dir") is click.core.ParameterSource.COMMANDLINE
        if given and out_dir.resolve() != resume_dir.resolve():
            raise ConfigError(f"--resume writes to {resume_dir}; leave --out out or give the same", where="--out")
        out_dir = resume_dir
        previous = results_io.load(resume_dir / "results.json")
        finished = runner.resumable(previous, plans, matrix_source=selected.source)
        _progress(f"resuming {resume_dir}: {len(finished)} finished cell(s) kept, the others run")
    options = runner.RunOptions(
        out_dir=out_dir,
        rebuild=rebuild,
        keep_containers=keep_containers,
        matrix_source=selected.source,
        finished=finished,
        previous_run_id=str(previous.host.get("run_id") or "") if previous is not None else None,
        engines=choice,
        jobs=jobs if jobs is not None else schedule.default_jobs(len(plans)),
        earlier=_earlier(Path(reuse_dir) if reuse_dir else out_dir, bench=reuse_bench)
        if reuse_dir is not None
        else None,
    )
    ran = runner.run(plans, options, progress=_progress)
    _say(table.table(ran, wide=wide))
    for lines in (table.advice_lines(ran, wide=wide), table.bench_notes(ran, wide=wide)):
        if lines:
            _say(lines)
    _say(table.summary_line(ran))
    _progress(f"results: {out_dir / 'results.json'}")
    engine_errors = [r.name for r in ran if r.status is Status.ENGINE_ERROR]
    if engine_errors:
        # Not a verdict on NumPy: the engine failed us. Exit 3, and say how to finish the run.
        _stderr(
            f"npmatrix: error: engine: {len(engine_errors)} cell(s) ended with an engine error "
            f"({', '.join(engine_errors)}); check the engine (npmatrix doctor), then finish the run with "
            f"`npmatrix run --resume {out_dir}`"
        )
        sys.exit(ExitCode.ENGINE_UNAVAILABLE)
    if report_formats:
        # From the file, as `npmatrix report` would: the reports show what results.json says.
        night = results_io.load(out_dir / "results.json")
        earlier = _report_history(history_dir, night) if history_dir and sharding is None else ()
        for path in reports.write_all(night, report_formats, out_dir, history=earlier):
            click.echo(f"report: {path}", err=True)
    code = ExitCode.OK if all(r.as_expected for r in ran) else ExitCode.UNEXPECTED
    if history_dir is not None and sharding is None:
        code = max(code, _gate(out_dir / "results.json", history_dir))
    sys.exit(code)


def _recent_nights(history_dir: Path | None, matrix_source: str) -> tuple[results_io.Results, ...]:
    from npmatrix.run import shard

    if history_dir is None or not history_dir.exists():
        return ()
    return history.load_recent(history_dir, shard.RECENT_NIGHTS, matrix=matrix_source)


REPORT_HISTORY_NIGHTS = 90  # the HTML report's trend; its status timeline shows the last 30 of them


def _report_history(history_dir: Path, night: results_io.Results) -> tuple[results_io.Results, ...]:
    """Earlier kept nights of `night`'s matrix, for the HTML report's timeline and trend (none kept yet: ())."""
    if not history_dir.exists():
        return ()
    until = history.started(night)
    return history.load_recent(history_dir, REPORT_HISTORY_NIGHTS, matrix=night.matrix, until=until, same_night=night)


def _gate(new_path: Path, history_dir: Path) -> ExitCode:
    """The nightly gate: diff against the latest kept night of the same matrix, then keep this night.
    1 on a regression or a cell not as expected."""
    new = results_io.load(new_path)
    old = history.previous(history_dir, new) if history_dir.exists() else None
    found = diff.diff(old or diff.nothing_before(new, source=str(history_dir)), new)
    click.echo(diff.render_text(found, fail_on_unexpected=True))
    kept, added = history.add(new_path, history_dir)
    _progress(f"kept as {kept}" if added else f"already kept as {kept}")
    return found.exit_code(fail_on_unexpected=True)


DIFF_EXIT_CODES = """\b
Exit codes:
  0  no regression
  1  a regression (with --fail-on-unexpected: or a cell of NEW not as expected)
  2  bad input: a file that is not a results file, runs of different matrices
"""


@cli.command("diff", epilog=DIFF_EXIT_CODES)
@click.argument("old_path", metavar="OLD", type=click.Path(path_type=Path))
@click.argument("new_path", metavar="NEW", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--perf-threshold",
    type=float,
    default=diff.DEFAULT_PERF_THRESHOLD,
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
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text", show_default=True)
def diff_command(
    old_path: Path, new_path: Path, perf_threshold: float, include_emulated: bool, fail_on_unexpected: bool, fmt: str
) -> None:
    """What changed from OLD to NEW, two results files of one matrix; exit 1 on a regression.

    \b
    A regression: a cell that was ok and now fails, or that failed as expected and now fails otherwise;
    a GEMM median (per cell, dtype, size, threads) that dropped beyond --perf-threshold and beyond the spread
    (IQR) of both runs. Cells run under QEMU are left out of the GEMM comparison unless --include-emulated.
    Improvements, other status and reason changes, new and removed cells are listed.

    \b
    OLD may be a history directory (`npmatrix history add`): then NEW is compared with the latest night of
    the same matrix kept there that started before it (none: every cell is new). Examples:
      npmatrix diff yesterday/results.json results/results.json
      npmatrix diff history/ results/results.json --fail-on-unexpected --format md
    """
    new = results_io.load(new_path)
    if old_path.is_dir():
        old = history.previous(old_path, new) or diff.nothing_before(new, source=str(old_path))
    else:
        old = results_io.load(old_path)
    found = diff.diff(old, new, perf_threshold=perf_threshold, include_emulated=include_emulated)
    click.echo(diff.render(found, fmt, fail_on_unexpected=fail_on_unexpected))
    sys.exit(found.exit_code(fail_on_unexpected=fail_on_unexpected))


@cli.command("merge")
@click.argument("parts", metavar="RESULTS.json...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The merged results file.")
@click.option(
    "--matrix",
    "matrix_path",
    metavar="FILE|NAME",
    help="The matrix the shards ran: every one of its cells must be in a shard, and the merged file lists them "
    "in its order, as an unsharded run would.",
)
def merge_command(parts: tuple[Path, ...], out: Path, matrix_path: str | None) -> None:
    """Combine the results files of a night's shards (`npmatrix run --shard I/N`) into one.

    Refuses, on one line, shards of different matrices and a cell in two shards. Without --matrix the cells
    keep the order of the files given. Prints the merged table; exit 0 when the merged file was written.
    """
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
    click.echo(table.table(merged.cells))
    if table.bench_notes(merged.cells):
        click.echo(table.bench_notes(merged.cells))
    click.echo(table.summary_line(merged.cells))
    _progress(f"merged {len(merged.cells)} cells from {len(parts)} results files: {out}")


@cli.group("history")
def history_group() -> None:
    """Kept nights: one results file per night in a directory, named by when the night started."""


@history_group.command("add")
@click.argument("results_path", metavar="RESULTS", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
def history_add(results_path: Path, directory: Path) -> None:
    """Keep RESULTS in DIR as <started_at, UTC>.json, e.g. 20261125T183858Z.json (DIR is created).

    The file is checked and copied byte for byte; the same file twice is kept once.
    """
    kept, added = history.add(results_path, directory)
    click.echo(str(kept))
    if not added:
        _progress("this night was kept already")


@history_group.command("list")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@click.option("--limit", type=int, metavar="N", help="Only the last N nights.")
def history_list(directory: Path, limit: int | None) -> None:
    """The kept nights in DIR, oldest first: matrix, cells, and whether each ended as expected."""
    for night in history.load_recent(directory, limit):
        state = "" if night.complete else " (incomplete)"
        click.echo(f"{Path(night.source).name}  {night.matrix}  {table.summary_line(list(night.cells))}{state}")


def _parse_report_formats(text: str) -> tuple[reports.Format, ...]:
    if not text.strip():
        return ()
    try:
        return reports.parse_formats(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command("report")
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
    f"from the last {REPORT_HISTORY_NIGHTS} nights of the same matrix up to RESULTS.",
)
def report_command(results_path: Path, fmt: reports.Format, out_file: Path | None, history_dir: Path | None) -> None:
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
    reports.require([fmt])
    night = results_io.load(results_path)
    earlier = _report_history(history_dir, night) if history_dir is not None else ()
    text = reports.render(night, fmt, history=earlier)
    if out_file is not None:
        try:
            write_atomic(out_file, text)
        except OSError as exc:
            raise ConfigError(f"cannot write the report: {exc.strerror}", where=str(out_file)) from exc
        _progress(f"{fmt} report: {out_file}")
    else:
        click.echo(text, nl=False)
    if fmt == "md" and (summary := reports.append_step_summary(text, os.environ)) is not None:
        _progress(f"appended to the GitHub step summary: {summary}")


@cli.command("freeze-to-matrix", epilog=EXIT_CODES_HELP)
@click.argument("freeze_path", metavar="FREEZE", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", metavar="NAME", help="Cell name prefix: NAME-amd64, NAME-arm64, ...  [default: from FREEZE]")
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="PLATFORM",
    help="A platform to make a cell for; repeatable.  [default: amd64, arm64, arm/v7]",
)
@click.option(
    "--suite",
    default=freeze.DEFAULT_SUITE,
    show_default=True,
    metavar="SUITE",
    help="Debian suite (decides the Python).",
)
@click.option(
    "--cpu",
    "cpus",
    multiple=True,
    metavar="PLATFORM=MODEL",
    callback=lambda ctx, param, value: _parse_cpus(value),
    help="CPU model preset for a platform's cell, or 'none' for QEMU's default; repeatable.  "
    "[default: arm64=pi4, arm/v7=pi4, arm/v6=pi1]",
)
@click.option(
    "--only",
    multiple=True,
    metavar="NAME[,NAME...]",
    help="Keep only these packages of the freeze (numpy and pip are always kept); repeatable.",
)
@click.option("--numpy", metavar="VERSION", help="NumPy pin when the freeze has none, or instead of its own.")
@click.option(
    "--source",
    metavar="TEXT",
    help="Where the pins come from and when, recorded in each cell.  [default: FREEZE's name and modification date]",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the matrix file here.  [default: stdout]",
)
def freeze_to_matrix(
    freeze_path: Path,
    name: str | None,
    platforms: tuple[str, ...],
    suite: str,
    cpus: dict[str, str],
    only: tuple[str, ...],
    numpy: str | None,
    source: str | None,
    out_file: Path | None,
) -> None:
    """Turn a `pip freeze` (Colab's published one, or your own) into a matrix file whose cells install the same
    pins on other platforms: "works here, fails there" for a whole environment, not only NumPy.

    \b
    Packages that cannot exist on a platform are left out, each listed with its reason in the file's header:
    CUDA and TPU packages everywhere, x86-only ones on ARM, tensorflow/torch/jaxlib and what requires them on
    32-bit ARM (src/npmatrix/data/freeze.toml), local files, git checkouts and editable installs everywhere.
    URL pins to a wheel and local versions (+cpu, +cu128) become PyPI's release of that version.

    \b
    Example:
      npmatrix freeze-to-matrix colab-freeze.txt --name colab --only scipy,pandas,scikit-learn --out colab.toml
      npmatrix run --matrix colab.toml
    """
    options = freeze.Options(
        name=name if name is not None else freeze.name_from_path(freeze_path),
        platforms=platforms or freeze.DEFAULT_PLATFORMS,
        suite=suite,
        cpus=cpus,
        only=tuple(n.strip() for item in only for n in item.split(",") if n.strip()),
        numpy=numpy,
        source=source,
    )
    conversion = freeze.convert(freeze.load(freeze_path), options)
    text = freeze.render(conversion)
    if out_file is None:
        click.echo(text, nl=False)
    else:
        write_atomic(out_file, text)
    for cell in conversion.cells:
        left_out = len(cell.left_out) + len(conversion.unusable)
        _progress(f"{cell.name}: numpy and {len(cell.packages)} packages; {left_out} left out (see the header)")
    if out_file is not None:
        _progress(f"matrix file: {out_file} (npmatrix list --matrix {out_file})")


def _parse_cpus(values: tuple[str, ...]) -> dict[str, str]:
    cpus: dict[str, str] = {}
    for value in values:
        platform, sep, model = value.partition("=")
        if not sep or not platform or not model:
            raise click.BadParameter(f"expected PLATFORM=MODEL such as arm64=pi5, got {value!r}")
        cpus[platform] = model
    return cpus


@cli.group()
def base() -> None:
    """Base images: Debian made with mmdebstrap, for machines that reach no registry."""


@base.command("build")
@_matrix_options
@_engine_options
@click.option("--log-dir", type=click.Path(path_type=Path), default=Path("results/logs"), show_default=True)
def base_build(
    matrix_path: str | None,
    arches: tuple[str, ...],
    cells: tuple[str, ...],
    log_dir: Path,
    engine_kind: engines.EngineKind,
    engine_for: dict[str, str],
    builder: str | None,
) -> None:
    """Make the base images the selected cells need, on the engine each platform uses; existing ones are kept."""
    from npmatrix.host.fleet import Fleet
    from npmatrix.run import runner

    selected = _load(matrix_path, arches, cells)
    plans = plan.plan(selected)
    fleet = Fleet.connect(_engines(selected, engine_kind, engine_for, builder), [p.platform.name for p in plans])
    outcomes: dict[str, BuildOutcome] = {}
    for target, member in fleet.members.items():
        mine = tuple(p for p in plans if fleet.choice.for_platform(p.platform.name) == target)
        outcomes |= runner.ensure_bases(
            plan.bases_needed(mine), builder=member.builder, engine=member.engine, log_dir=log_dir, progress=_progress
        )
    for tag, outcome in outcomes.items():
        state = "present" if outcome.cached else ("built" if outcome.ok else f"FAILED (log: {outcome.log_path})")
        _say(f"{tag}: {state}")
    if not all(o.ok for o in outcomes.values()):
        sys.exit(ExitCode.ENGINE_UNAVAILABLE)


@cli.command("clean")
@_matrix_options
@_engine_options
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Remove every npmatrix image, base images included, and containers whose owner cannot be checked.",
)
def clean(
    matrix_path: str | None,
    arches: tuple[str, ...],
    cells: tuple[str, ...],
    everything: bool,
    engine_kind: engines.EngineKind,
    engine_for: dict[str, str],
    builder: str | None,
) -> None:
    """Remove containers of runs that are over, and the cell images earlier Dockerfiles of these cells left.

    Cell images are tagged by the hash of their Dockerfile, so every template or pin change leaves the old
    image behind; a nightly job runs `npmatrix clean` after `npmatrix run`. Images of cells that are not in
    the matrix are kept unless --all. A container whose run is still going (its owner process is alive on this
    host) is never removed, so `clean` in one terminal leaves a run in another unharmed.
    """
    from npmatrix.host.engine import Engine
    from npmatrix.plan.base_image import REPOSITORY as BASE_REPOSITORY

    # The input first: a typo in --matrix must end here, before any container or image is touched.
    selected = _load(matrix_path, arches, cells)
    plans = plan.plan(selected)
    choice = _engines(selected, engine_kind, engine_for, builder)
    removed = 0
    for target in choice.all_targets():  # every engine this matrix may have used
        engine = Engine.connect(target)
        if len(choice.all_targets()) > 1:
            _progress(f"cleaning {target.describe()}")
        _remove_finished_containers(engine, everything=everything)
        cell_tags = engine.image_tags(plan.CELL_REPOSITORY)
        doomed = cell_tags + engine.image_tags(BASE_REPOSITORY) if everything else plan.superseded(plans, cell_tags)
        for tag in doomed:
            engine.remove_image(tag)
            _say(f"removed image {tag}")
        removed += len(doomed)
    _say(f"{removed} image(s) removed")


def _remove_finished_containers(engine: Engine, *, everything: bool) -> None:
    from npmatrix.host import owner
    from npmatrix.host.engine import OWNER_LABEL, RUN_LABEL

    for name, labels in engine.list_containers().items():
        run = labels.get(RUN_LABEL, "?")
        state = owner.liveness(labels[OWNER_LABEL]) if OWNER_LABEL in labels else owner.Liveness.UNKNOWN
        if state is owner.Liveness.ALIVE:
            _progress(f"kept container {name}: its run {run} is still going ({labels[OWNER_LABEL]})")
        elif state is owner.Liveness.UNKNOWN and not everything:
            _progress(
                f"kept container {name}: its owner cannot be checked from here "
                f"({labels.get(OWNER_LABEL, 'no owner label')}); --all removes it"
            )
        else:
            engine.remove_container(name)
            _say(f"removed container {name}")


@cli.command("doctor")
@_matrix_options
@_engine_options
def doctor_command(
    matrix_path: str | None,
    arches: tuple[str, ...],
    cells: tuple[str, ...],
    engine_kind: engines.EngineKind,
    engine_for: dict[str, str],
    builder: str | None,
) -> None:
    """Check the engines, builders, QEMU and base images the selected cells need, and say for each platform
    whether its engine runs it natively or under QEMU."""
    from npmatrix.app import doctor  # imports the Docker SDK (~0.6 s): only the commands that need it pay for it

    selected = _load(matrix_path, arches, cells)
    checks = doctor.run_checks(plan.plan(selected), _engines(selected, engine_kind, engine_for, builder))
    _say(doctor.render(checks))
    if not all(c.ok for c in checks):
        sys.exit(ExitCode.ENGINE_UNAVAILABLE)


@cli.command("probe")
@click.option("--bench", is_flag=True, help="Also time and check float32/float64 GEMM (single and all threads).")
@click.option(
    "--sizes",
    default="256,512,1024",
    show_default=True,
    metavar="N,N,...",
    callback=lambda ctx, param, value: _parse_sizes(value),
    help="GEMM sizes for --bench.",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the probe file `npmatrix explain` reads.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def probe_command(bench: bool, sizes: tuple[int, ...], out_file: Path | None, fmt: str) -> None:
    """Probe this machine with this Python: where NumPy comes from, whether it imports, its BLAS and CPU.

    Needs no container engine; NumPy is imported only in child processes, so a broken NumPy is reported,
    not fatal. Exit code 0 when NumPy works here, 1 when it does not.
    """
    from npmatrix.present import explain

    if out_file is not None:
        fileio.check_writable(out_file)  # before the probe runs for minutes, not after
    _progress(f"probing {sys.executable}{' with the GEMM benchmark' if bench else ''}")
    run, verdict = _probe_host(bench=bench, sizes=sizes)
    kept = probe_file.ProbeFile(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), facts=run.facts, verdict=verdict
    )
    if out_file is not None:
        probe_file.write(out_file, kept)
        _progress(f"probe file: {out_file}")
    if fmt == "json":
        _say(json.dumps(kept.to_json(), indent=2))
    else:
        subject = explain.subject_from_probe_file(kept, label="this machine", source="host")
        _say(explain.host_summary(subject))
    sys.exit(ExitCode.OK if verdict.status.works else ExitCode.UNEXPECTED)


def _parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers such as 256,512, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter(f"sizes must be positive integers, got {text!r}")
    if max(sizes) > MAX_GEMM_SIZE or len(sizes) > MAX_GEMM_SIZES:
        raise click.BadParameter(f"at most {MAX_GEMM_SIZES} sizes, each at most {MAX_GEMM_SIZE}; got {text!r}")
    return sizes


def _probe_host(*, bench: bool, sizes: tuple[int, ...]) -> tuple[ProbeRun, Verdict]:
    from npmatrix.run import probe  # like doctor: its engine half imports the Docker SDK

    run = probe.run_on_host(bench=bench, sizes=sizes)
    if run.timed_out:
        return run, Verdict(status=Status.TIMEOUT, reason=f"the probe did not finish within {run.duration_s:.0f} s")
    if run.facts is None:
        evidence = tuple((run.stderr or run.stdout).strip().splitlines()[-10:])
        return run, Verdict(
            status=Status.CRASHED, reason=run.parse_error or "the probe printed nothing", evidence=evidence
        )
    return run, classify.classify_probe(summarize(run.facts))


@cli.command("explain")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain_command(a: str, b: str, fmt: str) -> None:
    """Why NumPy works on A and not on B (or how they differ when both work).

    \b
    A and B are each a probe file (`npmatrix probe --out FILE`) or RESULTS.json:CELL, a cell of a results
    file (the :CELL may be left out when the file holds one cell). Examples:
      npmatrix explain results/results.json:colab results/results.json:pi32-pip
      npmatrix explain my-pi.json results/results.json:pi32-apt
    """
    from npmatrix.present import explain

    first, second = explain.load_subject(a), explain.load_subject(b)
    if first.label == second.label:
        first, second = replace(first, label=first.source), replace(second, label=second.source)
    if fmt == "json":
        _say(json.dumps(explain.to_json(first, second), indent=2))
    else:
        _say(explain.render_text(first, second))


def _named_earlier_run(directory: Path) -> None:
    if not (directory / "results.json").is_file():
        raise ConfigError(
            "has no results.json: name the --out directory of an earlier run, or give --reuse-results alone to "
            "reuse from this run's --out",
            where=f"--reuse-results {directory}",
        )


def _earlier(directory: Path, *, bench: reuse.ReuseBench | None) -> reuse.Earlier | None:
    """The run to reuse from; none yet (a first run) is not an error: everything runs."""
    path = directory / "results.json"
    if not path.is_file():
        _progress(f"--reuse-results: no {path} yet; every cell runs")
        return None
    return reuse.Earlier.of(results_io.load(path), bench=bench)


def _progress(message: str) -> None:
    _stderr(f"npmatrix: {text.one_line(message)}")


def _stderr(line: str) -> None:
    with contextlib.suppress(OSError):  # nowhere left to complain to
        click.echo(line, err=True)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    # CI cancels with SIGTERM: unwind like Ctrl-C so containers are removed and results kept.
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        if sys.stdout is None:  # started with stdout closed (`>&-`): the table would be lost
            raise ConfigError("is closed; redirect it to a file or /dev/null", where="stdout")
        try:
            cli.main(standalone_mode=False)
        finally:
            _flush_stdout()
    except FatalError as exc:
        _stderr(f"npmatrix: error: {text.one_line(str(exc))}")
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _stderr("npmatrix: interrupted; finished cells are kept in results.json")
        sys.exit(ExitCode.INTERRUPTED)
    except click.exceptions.ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `npmatrix` alone (click >= 8.2): the help is the answer
            exc.show()
            sys.exit(exc.exit_code)
        # Usage errors too are one line: where (the option) and what; --help has the rest.
        _stderr(f"npmatrix: error: {text.one_line(exc.format_message())} (see --help)")
        sys.exit(exc.exit_code)


def _flush_stdout() -> None:
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except OSError as exc:
        raise _stdout_error(exc) from None
