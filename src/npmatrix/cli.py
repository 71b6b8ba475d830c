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

from npmatrix import __version__, classify, doctor, fileio, matrix, plan, probe, probe_file, table, text
from npmatrix.errors import ConfigError, ExitCode, FatalError
from npmatrix.fileio import write_atomic
from npmatrix.outcomes import ProbeRun
from npmatrix.summary import summarize
from npmatrix.verdict import Status, Verdict

if TYPE_CHECKING:
    from npmatrix.engine import Engine

EXIT_CODES_HELP = """\b
Exit codes:
  0  every cell ended as its matrix expected
  1  some cell did not (a regression, or a fix: read the table)
  2  bad input: matrix file, option or value
  3  no container engine, BuildKit or QEMU, or the engine failed a cell (--resume)
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
      npmatrix explain me.json results/results.json:colab-like   # why NumPy works there and not here
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
    "--resume",
    "resume_dir",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Continue the run whose results are in DIR: run only the cells missing there or ended by an engine "
    "error, keep the others. Same matrix only. Writes to DIR.",
)
def run(
    matrix_path: str | None,
    arches: tuple[str, ...],
    cells: tuple[str, ...],
    out_dir: Path,
    rebuild: bool,
    keep_containers: bool,
    resume_dir: Path | None,
) -> None:
    """Render, build, probe and benchmark each cell; print the table, write OUT/results.json.

    Base images are made on first use (mmdebstrap, a few minutes) and reused after. results.json is
    rewritten after every cell, so an interrupted run keeps the cells it finished, and --resume OUT
    continues it.
    """
    from npmatrix import results as results_module
    from npmatrix import runner

    selected = _load(matrix_path, arches, cells)
    plans = plan.plan(selected)
    finished: tuple[results_module.CellResult, ...] = ()
    previous: results_module.Results | None = None
    if resume_dir is not None:
        given = click.get_current_context().get_parameter_source("out_dir") is click.core.ParameterSource.COMMANDLINE
        if given and out_dir.resolve() != resume_dir.resolve():
            raise ConfigError(f"--resume writes to {resume_dir}; leave --out out or give the same", where="--out")
        out_dir = resume_dir
        previous = results_module.load(resume_dir / "results.json")
        finished = runner.resumable(previous, plans, matrix_source=selected.source)
        _progress(f"resuming {resume_dir}: {len(finished)} finished cell(s) kept, the others run")
    options = runner.RunOptions(
        out_dir=out_dir,
        rebuild=rebuild,
        keep_containers=keep_containers,
        matrix_source=selected.source,
        finished=finished,
        previous_run_id=str(previous.host.get("run_id") or "") if previous is not None else None,
    )
    results = runner.run(plans, options, progress=_progress)
    _say(table.table(results))
    _say(table.summary_line(results))
    _progress(f"results: {out_dir / 'results.json'}")
    engine_errors = [r.name for r in results if r.status is Status.ENGINE_ERROR]
    if engine_errors:
        # Not a verdict on NumPy: the engine failed us. Exit 3, and say how to finish the run.
        _stderr(
            f"npmatrix: error: engine: {len(engine_errors)} cell(s) ended with an engine error "
            f"({', '.join(engine_errors)}); check the engine (npmatrix doctor), then finish the run with "
            f"`npmatrix run --resume {out_dir}`"
        )
        sys.exit(ExitCode.ENGINE_UNAVAILABLE)
    sys.exit(ExitCode.OK if all(r.as_expected for r in results) else ExitCode.UNEXPECTED)


@cli.group()
def base() -> None:
    """Base images: Debian made with mmdebstrap, for machines that reach no registry."""


@base.command("build")
@_matrix_options
@click.option("--log-dir", type=click.Path(path_type=Path), default=Path("results/logs"), show_default=True)
def base_build(matrix_path: str | None, arches: tuple[str, ...], cells: tuple[str, ...], log_dir: Path) -> None:
    """Make the base images the selected cells need; existing ones are kept."""
    from npmatrix import runner
    from npmatrix.engine import Engine, detect_builder

    recipes = plan.bases_needed(plan.plan(_load(matrix_path, arches, cells)))
    outcomes = runner.ensure_bases(
        recipes, builder=detect_builder(), engine=Engine.connect(), log_dir=log_dir, progress=_progress
    )
    for tag, outcome in outcomes.items():
        state = "present" if outcome.cached else ("built" if outcome.ok else f"FAILED (log: {outcome.log_path})")
        _say(f"{tag}: {state}")
    if not all(o.ok for o in outcomes.values()):
        sys.exit(ExitCode.ENGINE_UNAVAILABLE)


@cli.command("clean")
@_matrix_options
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Remove every npmatrix image, base images included, and containers whose owner cannot be checked.",
)
def clean(matrix_path: str | None, arches: tuple[str, ...], cells: tuple[str, ...], everything: bool) -> None:
    """Remove containers of runs that are over, and the cell images earlier Dockerfiles of these cells left.

    Cell images are tagged by the hash of their Dockerfile, so every template or pin change leaves the old
    image behind; a nightly job runs `npmatrix clean` after `npmatrix run`. Images of cells that are not in
    the matrix are kept unless --all. A container whose run is still going (its owner process is alive on this
    host) is never removed, so `clean` in one terminal leaves a run in another unharmed.
    """
    from npmatrix.base_image import REPOSITORY as BASE_REPOSITORY
    from npmatrix.engine import Engine

    # The input first: a typo in --matrix must end here, before any container or image is touched.
    plans = plan.plan(_load(matrix_path, arches, cells))
    engine = Engine.connect()
    _remove_finished_containers(engine, everything=everything)
    cell_tags = engine.image_tags(plan.CELL_REPOSITORY)
    doomed = cell_tags + engine.image_tags(BASE_REPOSITORY) if everything else plan.superseded(plans, cell_tags)
    for tag in doomed:
        engine.remove_image(tag)
        _say(f"removed image {tag}")
    _say(f"{len(doomed)} image(s) removed")


def _remove_finished_containers(engine: Engine, *, everything: bool) -> None:
    from npmatrix import owner
    from npmatrix.engine import OWNER_LABEL, RUN_LABEL

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
def doctor_command(matrix_path: str | None, arches: tuple[str, ...], cells: tuple[str, ...]) -> None:
    """Check the engine, BuildKit, QEMU and base images the selected cells need."""
    checks = doctor.run_checks(plan.plan(_load(matrix_path, arches, cells)))
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
    from npmatrix import explain

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
      npmatrix explain results/results.json:colab-like results/results.json:pi32-pip
      npmatrix explain my-pi.json results/results.json:pi32-apt
    """
    from npmatrix import explain

    first, second = explain.load_subject(a), explain.load_subject(b)
    if first.label == second.label:
        first, second = replace(first, label=first.source), replace(second, label=second.source)
    if fmt == "json":
        _say(json.dumps(explain.to_json(first, second), indent=2))
    else:
        _say(explain.render_text(first, second))


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
