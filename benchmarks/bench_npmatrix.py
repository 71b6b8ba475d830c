"""npmatrix under a benchmark-only image namespace, for benchmarks/speed.py: `python bench_npmatrix.py ARGS`
runs `npmatrix ARGS` with cell images tagged BENCH_REPOSITORY:... instead of npmatrix-cell:..., and, when
BENCH_NONCE is set, a `RUN echo <nonce>` right after FROM, so the build cache of every later step is cold
without deleting anything others use (shared machine). Nothing of this is in npmatrix itself.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Any

from npmatrix.plan import cellplan as plan
from npmatrix.plan import render


def busted_dockerfile(text: str, nonce: str) -> str:
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("FROM ")) + 1
    lines.insert(at, f"RUN echo npmatrix-benchmark-{nonce} >/dev/null\n")
    return "".join(lines)


def install() -> None:
    plan.CELL_REPOSITORY = os.environ.get("BENCH_REPOSITORY", plan.CELL_REPOSITORY)
    nonce = os.environ.get("BENCH_NONCE")
    if not nonce:
        return
    original = render.cell_dockerfile

    def cell_dockerfile(*args: Any, **kwargs: Any) -> str:
        return busted_dockerfile(original(*args, **kwargs), nonce)

    render.cell_dockerfile = cell_dockerfile  # type: ignore[assignment]
    plan.cell_dockerfile = cell_dockerfile  # type: ignore[assignment]


def main() -> None:
    install()
    from npmatrix.cli import main as npmatrix_main

    try:
        npmatrix_main()
    finally:
        if os.environ.get("BENCH_MAXRSS"):
            kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            sys.stderr.write(f"BENCH-MAXRSS-KIB {kib}\n")


if __name__ == "__main__":
    main()
