"""`npmatrix explain`."""

from __future__ import annotations

import click

from npmatrix.cli.output import CONSOLE


@click.command("explain")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(a: str, b: str, fmt: str) -> None:
    """Why NumPy works on A and not on B (or how they differ when both work).

    \b
    A and B are each a probe file (`npmatrix probe --out FILE`) or RESULTS.json:CELL, a cell of a results
    file (the :CELL may be left out when the file holds one cell). Examples:
      npmatrix explain results/results.json:colab results/results.json:pi32-pip
      npmatrix explain my-pi.json results/results.json:pi32-apt
    """
    from npmatrix.app import explain as app_explain

    app_explain.explain(a, b, CONSOLE, fmt=fmt)
