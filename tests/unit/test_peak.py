"""Percent of peak (peak.py): the theoretical DP rate from the probe's CPU facts, the Pi presets, and no
fraction under QEMU."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from npmatrix.judge import peak
from npmatrix.present import table
from npmatrix.records import results

DATA = Path(__file__).resolve().parents[1] / "data"


def _x86(*features: str, model: str = "AMD EPYC", mhz: float | None = 2500.0, count: int = 2) -> dict[str, Any]:
    return {"model_name": model, "mhz": mhz, "features": list(features), "count": count, "arm_ids": None}


@pytest.mark.parametrize(
    ("features", "gflops"),
    [
        (("sse2", "avx", "avx2", "fma", "avx512f"), 2 * 2.5 * 32),
        (("sse2", "avx", "avx2", "fma"), 2 * 2.5 * 16),
        (("sse2", "avx", "avx2"), 2 * 2.5 * 8),  # AVX2 without FMA: no fused multiply-add, AVX width
        (("sse2", "avx"), 2 * 2.5 * 8),
        (("sse2",), 2 * 2.5 * 4),
    ],
)
def test_x86_peak_is_cores_times_clock_times_the_widest_fma(features: tuple[str, ...], gflops: float) -> None:
    found = peak.peak(_x86(*features), under_qemu=False)
    assert found.gflops == pytest.approx(gflops)
    assert found.basis.startswith("2 cores x 2.50 GHz x ")


def test_the_clock_in_the_model_name_wins_over_the_kernels_mhz() -> None:
    cpu = _x86("sse2", "avx", "avx2", "fma", model="Intel(R) Xeon(R) CPU @ 2.20GHz", mhz=3100.0, count=4)
    assert peak.peak(cpu, under_qemu=False).gflops == pytest.approx(4 * 2.2 * 16)


@pytest.mark.parametrize(
    "cpu",
    [
        _x86("sse2", mhz=None),  # no clock at all
        _x86("mmx", "sse"),  # no SSE2: not a CPU a NumPy wheel runs on, and no known rate
        {**_x86("sse2"), "count": None},
        None,
        {},
    ],
)
def test_no_peak_without_clock_cores_or_isa(cpu: dict[str, Any] | None) -> None:
    found = peak.peak(cpu, under_qemu=False)
    assert found.gflops is None and found.basis
    assert peak.fraction(10.0, found) is None


@pytest.mark.parametrize(("part", "gflops"), [("0xd08", 28.8), ("0xd0b", 76.8), ("0xD0B", 76.8)])
def test_a_native_raspberry_pi_uses_its_published_peak(part: str, gflops: float) -> None:
    cpu = {"model_name": None, "features": ["fp", "asimd"], "count": 4, "arm_ids": {"CPU part": part}}
    found = peak.peak(cpu, under_qemu=False)
    assert found.gflops == gflops and f"{gflops} GFLOP/s DP" in found.basis


def test_another_arm_cpu_has_no_known_peak() -> None:
    cpu = {"model_name": None, "features": ["fp"], "count": 8, "arm_ids": {"CPU part": "0xd0c"}}
    assert peak.peak(cpu, under_qemu=False) == peak.Peak(
        gflops=None, basis="ARM CPU part 0xd0c is no known Raspberry Pi"
    )


def test_emulated_cells_get_no_fraction_and_say_why() -> None:
    cpu = {"model_name": None, "features": ["fp"], "count": 4, "arm_ids": {"CPU part": "0xd08"}}
    found = peak.peak(cpu, under_qemu=True)
    assert found == peak.Peak(gflops=None, basis=peak.EMULATED) and "QEMU" in found.basis
    assert peak.fraction(1.0, found) is None


def test_fraction() -> None:
    assert peak.fraction(20.0, peak.Peak(gflops=80.0, basis="")) == 0.25
    assert peak.fraction(None, peak.Peak(gflops=80.0, basis="")) is None
    assert peak.fraction(1.0, peak.Peak(gflops=0.0, basis="")) is None


def test_the_table_shows_the_share_on_native_cells_and_qemu_on_emulated_ones() -> None:
    run = results.load(DATA / "results-default.json")
    native = next(c for c in run.cells if not c.placement.under_qemu and c.facts)
    facts = json.loads(json.dumps(native.facts))
    facts["cpu"] = _x86("sse2", "avx", "avx2", "fma", mhz=2000.0, count=1)  # peak 32 GFLOP/s
    cell = dataclasses.replace(native, facts=facts)
    assert cell.summary is not None
    best = cell.summary.best_gflops("float64")
    assert best is not None
    assert table.percent_of_peak(cell) == f"{best / 32:.0%}"
    emulated = next(c for c in run.cells if c.placement.under_qemu and c.facts)
    assert table.percent_of_peak(emulated) == "qemu"
    broken = next(c for c in run.cells if c.facts is None)
    assert table.percent_of_peak(broken) == "-"
    assert table.HEADERS[-1] == "% peak"
