"""The `npmatrix` command line. Thin: parse options, call the pure plan and the runner, print."""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from npmatrix import __version__, classify, doctor, freeze, matrix, plan, probe, probe_file, reports, table
from npmatrix import results as results_io
from npmatrix.errors import ConfigError, ExitCode, FatalError
from npmatrix.fileio import write_atomic
from npmatrix.outcomes import ProbeRun
from npmatrix.summary import summarize
from npmatrix.verdict import Status, Verdict

EXIT_CODES_HELP = """\b
Exit codes:
  0  every cell ended as its matrix expected
  1  some cell did not (a regression, or a fix: read the table)
  2  bad input: matrix file, option or value
  3  no container engine, BuildKit or QEMU where one is needed
     (or matplotlib, for an HTML report)
  130  interrupted (Ctrl-C, SIGTERM); finished cells are kept
"""

ARCH_HELP = "Only cells on this platform (amd64, arm64, arm/v7, arm/v6); repeatable."


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
      npmatrix explain me.json results/results.json:colab   # why NumPy works there and not here
    """


@cli.command("list")
@_matrix_options
def list_cells(matrix_path: str | None, arches: tuple[str, ...], cells: tuple[str, ...]) -> None:
    """Show the cells a matrix expands to, after filters, one per line."""
    for c in _load(matrix_path, arches, cells).cells:
        how = f"pip numpy{c.numpy}" if c.install == "pip" else "apt python3-numpy"
        cpu = f" cpu={c.cpu}" if c.cpu else ""
        click.echo(f"{c.name:<24} {c.platform:<8} {c.suite:<9} {how:<22} expect={c.expect.value}{cpu}")


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
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in plans:
        path = out_dir / f"{p.cell.name}.Dockerfile"
        path.write_text(p.dockerfile)
        click.echo(str(path))


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
    try:
        write_atomic(path, matrix.starter_text())
    except OSError as exc:
        raise ConfigError(f"cannot write the starter matrix: {exc.strerror}", where=str(path)) from exc
    click.echo(str(path))
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
    "--report",
    "report_formats",
    metavar="html,md,junit",
    default="",
    callback=lambda ctx, param, value: _parse_report_formats(value),
    help="Also write these reports next to results.json: OUT/report.html, OUT/report.md, OUT/junit.xml.",
)
def run(
    matrix_path: str | None,
    arches: tuple[str, ...],
    cells: tuple[str, ...],
    out_dir: Path,
    rebuild: bool,
    keep_containers: bool,
    report_formats: tuple[reports.Format, ...],
) -> None:
    """Render, build, probe and benchmark each cell; print the table, write OUT/results.json.

    Base images are made on first use (mmdebstrap, a few minutes) and reused after. results.json is
    rewritten after every cell, so an interrupted run keeps the cells it finished.
    """
    from npmatrix import runner

    reports.require(report_formats)  # before the matrix, not after an hour of it
    selected = _load(matrix_path, arches, cells)
    plans = plan.plan(selected)
    options = runner.RunOptions(
        out_dir=out_dir, rebuild=rebuild, keep_containers=keep_containers, matrix_source=selected.source
    )
    results = runner.run(plans, options, progress=_progress)
    click.echo(table.table(results))
    click.echo(table.summary_line(results))
    click.echo(f"results: {out_dir / 'results.json'}", err=True)
    if report_formats:
        # From the file, as `npmatrix report` would: the reports show what results.json says.
        for path in reports.write_all(results_io.load(out_dir / "results.json"), report_formats, out_dir):
            click.echo(f"report: {path}", err=True)
    sys.exit(ExitCode.OK if all(r.as_expected for r in results) else ExitCode.UNEXPECTED)


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
def report_command(results_path: Path, fmt: reports.Format, out_file: Path | None) -> None:
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
    text = reports.render(results_io.load(results_path), fmt)
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
        out_file.write_text(text)
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
        click.echo(f"{tag}: {state}")
    if not all(o.ok for o in outcomes.values()):
        sys.exit(ExitCode.ENGINE_UNAVAILABLE)


@cli.command("clean")
@_matrix_options
@click.option("--all", "everything", is_flag=True, help="Remove every npmatrix image, base images included.")
def clean(matrix_path: str | None, arches: tuple[str, ...], cells: tuple[str, ...], everything: bool) -> None:
    """Remove leftover npmatrix containers and the cell images earlier Dockerfiles of these cells left.

    Cell images are tagged by the hash of their Dockerfile, so every template or pin change leaves the old
    image behind; a nightly job runs `npmatrix clean` after `npmatrix run`. Images of cells that are not in
    the matrix are kept unless --all.
    """
    from npmatrix.base_image import REPOSITORY as BASE_REPOSITORY
    from npmatrix.engine import Engine

    engine = Engine.connect()
    for name in engine.remove_containers():
        click.echo(f"removed container {name}")
    cell_tags = engine.image_tags(plan.CELL_REPOSITORY)
    if everything:
        doomed = cell_tags + engine.image_tags(BASE_REPOSITORY)
    else:
        doomed = plan.superseded(plan.plan(_load(matrix_path, arches, cells)), cell_tags)
    for tag in doomed:
        engine.remove_image(tag)
        click.echo(f"removed image {tag}")
    click.echo(f"{len(doomed)} image(s) removed")


@cli.command("doctor")
@_matrix_options
def doctor_command(matrix_path: str | None, arches: tuple[str, ...], cells: tuple[str, ...]) -> None:
    """Check the engine, BuildKit, QEMU and base images the selected cells need."""
    checks = doctor.run_checks(plan.plan(_load(matrix_path, arches, cells)))
    click.echo(doctor.render(checks))
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

    _progress(f"probing {sys.executable}{' with the GEMM benchmark' if bench else ''}")
    run, verdict = _probe_host(bench=bench, sizes=sizes)
    kept = probe_file.ProbeFile(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), facts=run.facts, verdict=verdict
    )
    if out_file is not None:
        probe_file.write(out_file, kept)
        _progress(f"probe file: {out_file}")
    if fmt == "json":
        click.echo(json.dumps(kept.to_json(), indent=2))
    else:
        subject = explain.subject_from_probe_file(kept, label="this machine", source="host")
        click.echo(explain.host_summary(subject))
    sys.exit(ExitCode.OK if verdict.status.works else ExitCode.UNEXPECTED)


def _parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers such as 256,512, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter(f"sizes must be positive integers, got {text!r}")
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
      npmatrix explain results/results.json:colab results/results.json:pi32-pip
      npmatrix explain my-pi.json results/results.json:pi32-apt
    """
    from npmatrix import explain

    first, second = explain.load_subject(a), explain.load_subject(b)
    if first.label == second.label:
        first, second = replace(first, label=first.source), replace(second, label=second.source)
    if fmt == "json":
        click.echo(json.dumps(explain.to_json(first, second), indent=2))
    else:
        click.echo(explain.render_text(first, second))


def _progress(message: str) -> None:
    click.echo(f"npmatrix: {message}", err=True)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    # CI cancels with SIGTERM: unwind like Ctrl-C so containers are removed and results kept.
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        cli.main(standalone_mode=False)
    except FatalError as exc:
        click.echo(f"npmatrix: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("npmatrix: interrupted; finished cells are kept in results.json", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("npmatrix: interrupted; finished cells are kept in results.json", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
