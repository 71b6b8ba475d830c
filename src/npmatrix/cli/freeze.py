"""`npmatrix freeze-to-matrix`."""

from __future__ import annotations

from pathlib import Path

import click

from npmatrix.app import freeze as app_freeze
from npmatrix.cli.options import EXIT_CODES_HELP
from npmatrix.cli.output import CONSOLE
from npmatrix.config.freeze import DEFAULT_SUITE


def _parse_cpus(values: tuple[str, ...]) -> dict[str, str]:
    cpus: dict[str, str] = {}
    for value in values:
        platform, sep, model = value.partition("=")
        if not sep or not platform or not model:
            raise click.BadParameter(f"expected PLATFORM=MODEL such as arm64=pi5, got {value!r}")
        cpus[platform] = model
    return cpus


@click.command("freeze-to-matrix", epilog=EXIT_CODES_HELP)
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
    default=DEFAULT_SUITE,
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
    app_freeze.freeze_to_matrix(
        freeze_path,
        CONSOLE,
        name=name,
        platforms=platforms,
        suite=suite,
        cpus=cpus,
        only=only,
        numpy=numpy,
        source=source,
        out_file=out_file,
    )
