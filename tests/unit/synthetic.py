"""Results made up for tests of diff, history, shards and merge: small, typed, and (where they are written
and read back) derived from a real run so that they satisfy the shipped schema."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from npmatrix.config.matrix import Cell
from npmatrix.plan.placement import Emulator, Placement
from npmatrix.records import results
from npmatrix.records.results import CellResult, ImageRecord, Results, ResultsFile
from npmatrix.verdict import Status, Verdict

REAL_RUN = Path(__file__).resolve().parents[1] / "data" / "results-default.json"
FAILING = [s for s in Status if not s.works]
EXPECTABLE = [s for s in Status if s is not Status.ENGINE_ERROR]
SIZES = (64, 256)
THREADS = ("single", "all")
DTYPES = ("float32", "float64")


def gemm_facts(rows: Sequence[tuple[str, int, str, float, float, bool]]) -> dict[str, Any]:
    """Probe facts holding only GEMM rows (dtype, n, threads, median, iqr, ok): what `summary` reads."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for dtype, n, threads, median, iqr, ok in rows:
        runs.setdefault(threads, []).append(
            {"dtype": dtype, "n": n, "gflops_median": median, "gflops_iqr": iqr, "tolerance": 1e-5, "ok": ok}
        )
    return {"bench": {"runs": [{"threads": t, "results": r} for t, r in runs.items()]}}


def cell_result(
    name: str,
    status: Status = Status.OK,
    *,
    expect: Status = Status.OK,
    reason: str | None = None,
    emulated: bool = False,
    qemu_cpu: str | None = None,
    facts: dict[str, Any] | None = None,
    durations: dict[str, float] | None = None,
) -> CellResult:
    """`emulated`: an arm/v7 cell on an x86 engine (binfmt); `qemu_cpu` alone: an amd64 cell run as that CPU
    under the probe's qemu-x86_64."""
    platform = "arm/v7" if emulated else "amd64"
    emulator: Emulator | None = "binfmt" if emulated else ("qemu-x86_64" if qemu_cpu else None)
    return CellResult(
        cell=Cell(name=name, platform=platform, numpy="==2.3.5", expect=expect),
        placement=Placement(platform=platform, oci=f"linux/{platform}", emulator=emulator, qemu_cpu=qemu_cpu),
        verdict=Verdict(status=status, reason=reason or f"{name} ended {status}"),
        image=ImageRecord(tag=f"npmatrix-cell:{name}-0123456789ab", id=None, base="npmatrix-base:x", reused=True),
        durations=durations or {"build": 1.0, "probe": 2.0},
        logs={},
        facts=facts,
    )


def run(
    cells: Sequence[CellResult], *, matrix: str = "builtin:bookworm", started_at: str = "2026-11-25T03:00:00+00:00"
) -> Results:
    return Results(
        source=f"night-{started_at}",
        matrix=matrix,
        npmatrix_version="0.1.0",
        started_at=started_at,
        finished_at=started_at,
        complete=True,
        host={"machine": "x86_64"},
        cells=tuple(cells),
    )


def with_status(night: Results, name: str, status: Status, reason: str = "constructed") -> Results:
    """`night` with cell `name` turned to `status`, the way the integration test breaks a real night."""
    cells = tuple(
        dataclasses.replace(c, verdict=Verdict(status=status, reason=reason)) if c.name == name else c
        for c in night.cells
    )
    return dataclasses.replace(night, cells=cells)


def write(night: Results, path: Path) -> Path:
    """Through the one writer, as a run or `npmatrix merge` writes."""
    ResultsFile(
        path, matrix=night.matrix, host=dict(night.host), cells=list(night.cells), started_at=night.started_at
    ).write(complete=night.complete)
    return path


def real_night(started_at: str, *, scale: float = 1.0, matrix: str | None = None) -> Results:
    """The real run of tests/data, started at another time, with every GFLOP/s median times `scale`."""
    real = results.load(REAL_RUN)
    cells = []
    for c in real.cells:
        facts = copy.deepcopy(c.facts)
        for bench_run in (facts or {}).get("bench", {}).get("runs", []):
            for row in bench_run["results"]:
                row["gflops_median"] *= scale
        cells.append(dataclasses.replace(c, facts=facts))
    return dataclasses.replace(real, started_at=started_at, matrix=matrix or real.matrix, cells=tuple(cells))


# --- hypothesis ---------------------------------------------------------------------------------------------

_gemm_row = st.tuples(
    st.sampled_from(DTYPES),
    st.sampled_from(SIZES),
    st.sampled_from(THREADS),
    st.floats(min_value=0.01, max_value=500, allow_nan=False),
    st.floats(min_value=0, max_value=50, allow_nan=False),
    st.booleans(),
)


@st.composite
def cell_results(draw: st.DrawFn, name: str) -> CellResult:
    status = draw(st.sampled_from(list(Status)))
    rows = draw(st.lists(_gemm_row, max_size=6, unique_by=lambda r: r[:3])) if status.works else []
    return cell_result(
        name,
        status,
        expect=draw(st.sampled_from(EXPECTABLE)),
        reason=draw(st.sampled_from(["why", "another why", "a | pipe <b>"])),
        emulated=draw(st.booleans()),
        qemu_cpu=draw(st.sampled_from([None, "cortex-a72"])),
        facts=gemm_facts(rows) if status.works else None,
        durations={"build": draw(st.floats(0, 100)), "probe": draw(st.floats(0, 100))},
    )


@st.composite
def nights(draw: st.DrawFn, *, min_cells: int = 0) -> Results:
    names = draw(st.lists(st.sampled_from([f"c{i}" for i in range(8)]), min_size=min_cells, max_size=8, unique=True))
    return run([draw(cell_results(n)) for n in names])
