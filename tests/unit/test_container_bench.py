"""bench.py: run for real on the host, and its BLAS-independent check on right and wrong products."""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "src" / "npmatrix" / "container" / "bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    # Imported under its package name (it imports nothing of npmatrix, so this loads only the script), so that
    # `make mutation` can tell which tests exercise which of its functions.
    module = importlib.import_module("npmatrix.container.bench")
    assert Path(str(module.__file__)).name == BENCH.name
    return module


@pytest.fixture(scope="module")
def report() -> Any:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "64,128", "--repeats", "4"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout)


def inputs(n: int, dtype: str, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)


# --- the script ---------------------------------------------------------------------------------------


def test_sizes_dtypes_and_repeats_honoured(report: Any) -> None:
    assert report["numpy_version"] == np.__version__
    cases = [(r["n"], r["dtype"]) for r in report["results"]]
    assert cases == [(64, "float32"), (64, "float64"), (128, "float32"), (128, "float64")]
    for result in report["results"]:
        assert result["repeats"] == 4 and len(result["times_s"]) == 4
        assert result["checked_products"] == 5  # warm-up + repeats


def test_gflops_positive_and_numerically_ok(report: Any) -> None:
    for result in report["results"]:
        assert result["gflops_median"] > 0
        assert result["gflops_q1"] <= result["gflops_median"] <= result["gflops_q3"]
        assert result["gflops_iqr"] == pytest.approx(result["gflops_q3"] - result["gflops_q1"])
        assert result["ok"] and result["finite"] and result["fp_warnings"] == []
        assert 0 <= result["max_rel_error"] <= result["tolerance"]


def test_tolerance_is_gamma_n(report: Any) -> None:
    for result in report["results"]:
        assert result["tolerance"] == pytest.approx(2 * result["n"] * np.finfo(result["dtype"]).eps)


# --- the check ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_check_passes_correct_product(bench: ModuleType, dtype: str) -> None:
    a, b = inputs(64, dtype)
    assert bench.check_product(a, b, a @ b)["ok"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_check_flags_one_perturbed_entry(bench: ModuleType, dtype: str) -> None:
    a, b = inputs(64, dtype)
    c = a @ b
    c[17, 40] += 0.5
    check = bench.check_product(a, b, c)
    assert not check["ok"] and check["max_rel_error"] > check["tolerance"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_check_flags_scaled_product(bench: ModuleType, dtype: str) -> None:
    a, b = inputs(64, dtype)
    assert not bench.check_product(a, b, (a @ b) * np.asarray(1.001, dtype=dtype))["ok"]


def test_check_flags_non_finite(bench: ModuleType) -> None:
    a, b = inputs(32, "float64")
    c = a @ b
    c[0, 0] = np.nan
    check = bench.check_product(a, b, c)
    assert not check["ok"] and not check["finite"] and check["max_rel_error"] is None


class NoBlas(np.ndarray):
    """An array that refuses every BLAS-backed operation, and keeps refusing in its results."""

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if ufunc is np.matmul:
            raise AssertionError("used matmul")
        plain = [x.view(np.ndarray) if isinstance(x, NoBlas) else x for x in inputs]
        result = getattr(ufunc, method)(*plain, **kwargs)
        return result.view(NoBlas) if isinstance(result, np.ndarray) else result

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func in (np.dot, np.vdot, np.inner, np.tensordot, np.einsum, np.matmul):
            raise AssertionError(f"used {func.__name__}")
        return super().__array_function__(func, types, args, kwargs)

    def dot(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("used ndarray.dot")


def test_check_does_not_use_blas(bench: ModuleType) -> None:
    # A broken BLAS must not break the reference: the check must never reach matmul or dot.
    a, b = inputs(32, "float64")
    c = a @ b
    guarded = [m.view(NoBlas) for m in (a, b, c)]
    with pytest.raises(AssertionError):
        guarded[0] @ guarded[1]
    assert bench.check_product(*guarded)["ok"]


def test_merge_checks_keeps_worst(bench: ModuleType) -> None:
    good = {"max_rel_error": 1e-16, "ok": True}
    bad = {"max_rel_error": None, "ok": False}
    merged = bench.merge_checks([good, bad, good])
    assert merged["max_rel_error"] is None and not merged["ok"] and merged["checked_products"] == 3


def test_quartiles_fallback_matches_statistics(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    monkeypatch.delattr(bench.statistics, "quantiles")  # as on Python 3.7
    assert bench.quartiles(values) == pytest.approx((q1, q3))
    assert bench.quartiles([2.0]) == (2.0, 2.0)


def test_run_case_records_fp_warnings(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    def noisy_matmul(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
        np.log(np.zeros(1))  # raises divide-by-zero under errstate(all="warn")
        return a @ b, 1e-3

    monkeypatch.setattr(bench, "timed_matmul", noisy_matmul)
    result = bench.run_case("float64", 16, 2, 0)
    assert result["ok"]
    assert result["fp_warnings"] == ["RuntimeWarning: divide by zero encountered in log"]
