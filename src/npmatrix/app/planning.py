"""The plan of a run as the host finds things: each index a Raspberry Pi OS cell's pip would ask is tried first
(host/reach.py), and the plan says what follows (plan/raspios.py). `run` and `render` plan through here, so
both see the same Dockerfiles and image tags (`clean` keeps the images of both answers; `doctor` shows it)."""

from __future__ import annotations

from npmatrix.app.console import Console
from npmatrix.config.matrix import Matrix
from npmatrix.host import reach
from npmatrix.plan import cellplan, raspios
from npmatrix.plan.cellplan import CellPlan


def plan(selected: Matrix, console: Console) -> tuple[CellPlan, ...]:
    urls = raspios.indexes_to_check(selected.cells)
    unreached = find_unreached(urls) if urls else {}
    for url, why in unreached.items():
        console.progress(
            f"{url} could not be reached ({why}): the cells whose pip would ask it run without it, marked incomplete"
        )
    return cellplan.plan(selected, unreached=unreached)


def find_unreached(urls: tuple[str, ...]) -> dict[str, str]:
    """The one network call of planning (the unit tests replace it: tests/unit/conftest.py)."""
    return reach.unreached(urls)
