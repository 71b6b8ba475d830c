"""benchmarks/speed.py's table: each target's verdict follows the measured numbers (the numbers themselves
are measured by `make bench`, never here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SPEED = Path(__file__).resolve().parents[2] / "benchmarks" / "speed.py"


@pytest.fixture(scope="module")
def speed() -> ModuleType:
    spec = importlib.util.spec_from_file_location("speed", SPEED)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MACHINE = {"cpu": "x", "cpus": "2", "memory": "8 GB", "system": "Linux", "docker": "20.10", "uptime_start": "u"}


def _report(**parts: Any) -> dict[str, Any]:
    return {"machine": MACHINE, "parts": list(parts), "seconds": 60.0, "uptime_end": "u", **parts}


def _row(markdown: str, number: str) -> str:
    (row,) = [line for line in markdown.splitlines() if line.startswith(f"| {number} |")]
    return row


@pytest.mark.parametrize(("npmatrix_s", "naive_s", "verdict"), [(700, 1000, "met"), (701, 1000, "**missed**")])
def test_the_cold_verdict_is_the_ratio_against_0_7(
    speed: ModuleType, npmatrix_s: float, naive_s: float, verdict: str
) -> None:
    cold = {"npmatrix_s": npmatrix_s, "naive_s": naive_s, "ratio": npmatrix_s / naive_s, "cells_s": {}}
    row = _row(speed.render_markdown(_report(cold=cold)), "1")
    assert row.endswith(f"| {verdict} |") and f"{npmatrix_s} s vs {naive_s} s" in row


@pytest.mark.parametrize(
    ("times", "cold_s", "verdict"),
    [
        ([9.0, 12.0, 15.0], 1000.0, "met"),
        ([9.0, 12.0, 15.5], 1000.0, "**missed**"),  # the slowest repeat counts
        ([9.0, 12.0, 14.0], 120.0, "**missed**"),  # under 15 s but not 10x faster than cold
    ],
)
def test_a_warm_variant_must_be_fast_and_ten_times_faster_than_cold(
    speed: ModuleType, times: list[float], cold_s: float, verdict: str
) -> None:
    warm = {"plain_s": [100.0], "reuse_s": [40.0], "jobs1_s": [150.0], "reuse_bench_emulated_s": times}
    markdown = speed.render_markdown(_report(warm=warm, cold_npmatrix_only_s=cold_s))
    assert _row(markdown, "2d").endswith(f"| {verdict} |")
    assert "--reuse-bench emulated" in _row(markdown, "2d")
    assert _row(markdown, "2").endswith("| **missed** |")  # 40 s re-measuring every benchmark


def test_the_cold_run_per_cell_is_listed(speed: ModuleType) -> None:
    cells = {"pi5-64": {"build": 700.0, "probe": 41.0, "bench": 13.7}, "pi32-pip": {"build": 20.0}}
    cold = {"npmatrix_s": 900.0, "naive_s": 1500.0, "ratio": 0.6, "cells_s": cells}
    markdown = speed.render_markdown(_report(cold=cold))
    assert "| pi5-64 | 700 | 41 | 14 |" in markdown and "| pi32-pip | 20 | - | - |" in markdown


def test_a_repeated_cold_pair_gets_its_own_row_and_verdict(speed: ModuleType) -> None:
    cold = {"npmatrix_s": 329.0, "naive_s": 506.0, "ratio": 0.65, "cells_s": {}}
    again = {"npmatrix_s": 400.0, "naive_s": 500.0, "ratio": 0.8, "when": "05:07", "git": "abc1234"}
    rows = [
        r for r in speed.render_markdown(_report(cold=cold, cold_repeats=[again])).splitlines() if r.startswith("| 1 |")
    ]
    assert rows[0].endswith("| met |") and "repeated at 05:07 (commit abc1234)" in rows[1]
    assert rows[1].endswith("| **missed** |") and "400 s vs 500 s = 0.80x" in rows[1]
