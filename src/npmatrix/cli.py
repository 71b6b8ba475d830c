"""The `npmatrix` command line. Thin: parse options, call the pure plan and the runner, print."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

import click

from npmatrix import __version__, doctor, matrix, plan, report
from npmatrix.errors import ExitCode, FatalError

EXIT_CODES_HELP = """\b
Exit codes:
  0  every cell ended as its matrix expected
  1  some cell did not (a regression, or a fix: read the table)
  2  bad input: matrix file, option or value
  3  no container engine, BuildKit or QEMU where one is needed
"""

DEFAULT_MATRIX = Path("matrix/default.toml")
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
        type=click.Path(path_type=Path),
        default=DEFAULT_MATRIX,
        show_default=True,
        help="Matrix file (TOML).",
    )(f)
    return f


def _load(matrix_path: Path, arches: tuple[str, ...], cells: tuple[str, ...]) -> matrix.Matrix:
    return matrix.load(matrix_path).select(arches=arches, names=cells)


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
    """


@cli.command("list")
@_matrix_options
def list_cells(matrix_path: Path, arches: tuple[str, ...], cells: tuple[str, ...]) -> None:
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
def render(matrix_path: Path, arches: tuple[str, ...], cells: tuple[str, ...], out_dir: Path) -> None:
    """Write each cell's Dockerfile. Deterministic: the same matrix gives the same bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in plan.plan(_load(matrix_path, arches, cells)):
        path = out_dir / f"{p.cell.name}.Dockerfile"
        path.write_text(p.dockerfile)
        click.echo(str(path))


@cli.command()
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
def run(
    matrix_path: Path,
    arches: tuple[str, ...],
    cells: tuple[str, ...],
    out_dir: Path,
    rebuild: bool,
    keep_containers: bool,
) -> None:
    """Render, build, probe and benchmark each cell; print the table, write OUT/results.json.

    Base images are made on first use (mmdebstrap, a few minutes) and reused after. results.json is
    rewritten after every cell, so an interrupted run keeps the cells it finished.
    """
    from npmatrix import runner

    selected = _load(matrix_path, arches, cells)
    plans = plan.plan(selected)
    options = runner.RunOptions(
        out_dir=out_dir, rebuild=rebuild, keep_containers=keep_containers, matrix_source=str(matrix_path)
    )
    results = runner.run(plans, options, progress=_progress)
    click.echo(report.table(results))
    click.echo(report.summary_line(results))
    click.echo(f"results: {out_dir / 'results.json'}", err=True)
    sys.exit(ExitCode.OK if all(r.as_expected for r in results) else ExitCode.UNEXPECTED)


@cli.group()
def base() -> None:
    """Base images: Debian made with mmdebstrap, for machines that reach no registry."""


@base.command("build")
@_matrix_options
@click.option("--log-dir", type=click.Path(path_type=Path), default=Path("results/logs"), show_default=True)
def base_build(matrix_path: Path, arches: tuple[str, ...], cells: tuple[str, ...], log_dir: Path) -> None:
    """Make the base images the selected cells need; existing ones are kept."""
    from npmatrix import engine, runner

    recipes = plan.bases_needed(plan.plan(_load(matrix_path, arches, cells)))
    outcomes = runner.ensure_bases(
        recipes, builder=engine.detect_builder(), docker=engine.client(), log_dir=log_dir, progress=_progress
    )
    for tag, outcome in outcomes.items():
        state = "present" if outcome.cached else ("built" if outcome.ok else f"FAILED (log: {outcome.log_path})")
        click.echo(f"{tag}: {state}")
    if not all(o.ok for o in outcomes.values()):
        sys.exit(ExitCode.ENGINE_UNAVAILABLE)


@cli.command("doctor")
@_matrix_options
def doctor_command(matrix_path: Path, arches: tuple[str, ...], cells: tuple[str, ...]) -> None:
    """Check the engine, BuildKit, QEMU and base images the selected cells need."""
    checks = doctor.run_checks(plan.plan(_load(matrix_path, arches, cells)))
    click.echo(doctor.render(checks))
    if not all(c.ok for c in checks):
        sys.exit(ExitCode.ENGINE_UNAVAILABLE)


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
