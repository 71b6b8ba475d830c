"""Options several commands share, and the help texts they share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from npmatrix.app.inputs import EngineOptions, Selection
from npmatrix.config import engine_choice

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

Command = Callable[..., Any]


def matrix_options(f: Command) -> Command:
    """--matrix, --arch, --cell, handed to the command as one `selection` (app.inputs.Selection)."""

    @functools.wraps(f)
    def command(
        *args: Any, matrix_path: str | None, arches: tuple[str, ...], cells: tuple[str, ...], **kwargs: Any
    ) -> Any:
        return f(*args, selection=Selection(matrix_path=matrix_path, arches=arches, cells=cells), **kwargs)

    options = (
        click.option(
            "--cell",
            "cells",
            multiple=True,
            metavar="NAME",
            help="Only this cell; shell globs work ('pi32-*'); repeatable.",
        ),
        click.option("--arch", "arches", multiple=True, metavar="PLATFORM", help=ARCH_HELP),
        click.option(
            "--matrix",
            "matrix_path",
            metavar="FILE|NAME",
            # The names are spelled out, not read from the package at import time; a unit test keeps them in step.
            help="Matrix file (TOML), or a built-in matrix by name (bookworm, default, gallery). "
            "Without it: ./matrix/default.toml if there is one, else the built-in default.",
        ),
    )
    return _apply(options, command)


def engine_options(f: Command) -> Command:
    """--engine, --engine-for, --builder: which engines build and run the cells (npmatrix.config.engine_choice),
    handed to the command as one `engines` (app.inputs.EngineOptions)."""

    @functools.wraps(f)
    def command(
        *args: Any,
        engine_kind: engine_choice.EngineKind,
        engine_for: dict[str, str],
        builder: str | None,
        **kwargs: Any,
    ) -> Any:
        return f(*args, engines=EngineOptions(kind=engine_kind, engine_for=engine_for, builder=builder), **kwargs)

    options = (
        click.option(
            "--builder",
            metavar="NAME",
            help="Build with `docker buildx build --builder NAME --load`: a named buildx builder (a remote "
            "BuildKit, or one with native ARM nodes). Needs the buildx plugin.",
        ),
        click.option(
            "--engine-for",
            "engine_for",
            multiple=True,
            metavar="PLATFORM=ENGINE",
            callback=lambda ctx, param, values: engine_choice.parse_engine_for_options(values),
            help="Build and run PLATFORM's cells on another engine: a docker context name or a DOCKER_HOST URL "
            "(unix://, tcp://, ssh://), e.g. arm64=ssh://pi@raspberrypi; native there, no QEMU, when its "
            "machine is that platform. Repeatable; wins over the matrix file's [engine_for].",
        ),
        click.option(
            "--engine",
            "engine_kind",
            type=click.Choice(engine_choice.KINDS),
            default="docker",
            show_default=True,
            help="docker: DOCKER_HOST, DOCKER_CONTEXT or the current docker context, as the docker CLI picks; "
            "podman: Podman's Docker-compatible socket (CONTAINER_HOST, else unix:///run/podman/podman.sock; "
            "scripts/podman-up starts it) and `podman build`.",
        ),
    )
    return _apply(options, command)


def _apply(options: tuple[Callable[[Command], Command], ...], command: Command) -> Command:
    for option in options:  # innermost first, as stacked decorators apply: --help lists them in reverse
        command = option(command)
    return command
