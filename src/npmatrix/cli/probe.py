"""`npmatrix probe`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from npmatrix.cli.output import CONSOLE

# `probe --bench --sizes`: n=4096 float64 is 128 MiB per matrix and about a minute on two cores; a million
# would need 8 TB and was reported as NumPy "crashed".
MAX_GEMM_SIZE = 4096
MAX_GEMM_SIZES = 8


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


@click.command("probe")
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
def probe(bench: bool, sizes: tuple[int, ...], out_file: Path | None, fmt: str) -> None:
    """Probe this machine with this Python: where NumPy comes from, whether it imports, its BLAS and CPU.

    Needs no container engine; NumPy is imported only in child processes, so a broken NumPy is reported,
    not fatal. Exit code 0 when NumPy works here, 1 when it does not.
    """
    from npmatrix.app import probe as app_probe  # like doctor: the probe's engine half imports the Docker SDK

    sys.exit(app_probe.probe(CONSOLE, bench=bench, sizes=sizes, out_file=out_file, fmt=fmt))
