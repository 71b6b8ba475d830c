"""bench.py's arithmetic and record shapes, exactly: the GEMM check is what turns a fast-but-wrong BLAS into
`wrong-result`, so its numbers and keys are pinned here (mutation testing showed they were only run, not read).
The script is imported under its package name; it imports NumPy, nothing of npmatrix."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from npmatrix.container import bench

KEYS = {"max_rel_error", "freivalds_rel_error", "entries_rel_error", "tolerance", "finite", "ok"}


def test_tolerance_is_two_n_epsilon() -> None:
    assert bench.tolerance(100, np.float64) == 2.0 * 100 * float(np.finfo(np.float64).eps)
    assert bench.tolerance(7, np.float32) == 2.0 * 7 * float(np.finfo(np.float32).eps)


def test_finite_or_none() -> None:
    assert bench.finite_or_none(1.5) == 1.5
    assert bench.finite_or_none(math.inf) is None and bench.finite_or_none(math.nan) is None


def test_make_inputs_are_seeded_and_typed() -> None:
    a, b = bench.make_inputs(4, "float32", 7)
    again_a, again_b = bench.make_inputs(4, "float32", 7)
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == (4, 4)
    assert np.array_equal(a, again_a) and np.array_equal(b, again_b) and not np.array_equal(a, b)
    rng = np.random.default_rng(7)
    assert np.array_equal(a, rng.standard_normal((4, 4)).astype("float32"))


def test_a_right_product_passes_with_every_key() -> None:
    a, b = bench.make_inputs(16, "float64", 0)
    check = bench.check_product(a, b, a @ b)
    assert set(check) == KEYS and check["finite"] is True and check["ok"] is True
    assert check["tolerance"] == bench.tolerance(16, np.float64)
    assert check["max_rel_error"] == max(check["freivalds_rel_error"], check["entries_rel_error"])


def test_a_non_finite_product_fails_with_every_key() -> None:
    a, b = bench.make_inputs(4, "float64", 0)
    c = a @ b
    c[1, 2] = np.inf
    check = bench.check_product(a, b, c)
    assert check == {
        "max_rel_error": None,
        "freivalds_rel_error": None,
        "entries_rel_error": None,
        "tolerance": bench.tolerance(4, np.float64),
        "finite": False,
        "ok": False,
    }


def test_a_product_exactly_at_the_tolerance_passes() -> None:
    # ok means error <= tolerance, not <: an error equal to the bound is still rounding.
    a = np.eye(2)
    b = np.eye(2)
    tol = bench.tolerance(2, np.float64)
    c = np.array([[1.0 + tol, 0.0], [0.0, 1.0]])
    check = bench.check_product(a, b, c, entries=64)
    assert check["entries_rel_error"] == pytest.approx(tol, rel=1e-12)
    assert check["ok"] is (check["max_rel_error"] <= tol)


def test_entries_check_samples_every_row_and_column_of_a_wide_product() -> None:
    # 2x3 @ 3x4: a wrong entry in the first row or last column must be found; rows and columns differ in number.
    a = np.arange(1.0, 7.0).reshape(2, 3)
    b = np.arange(1.0, 13.0).reshape(3, 4)
    for i, j in [(0, 0), (1, 3), (0, 3)]:
        c = a @ b
        c[i, j] += 1.0
        scale = float((np.abs(a[i, :]) * np.abs(b[:, j])).sum())
        error = bench.entries_rel_error(a, b, c, np.random.default_rng(1), 200)
        assert error == pytest.approx(1.0 / scale, rel=1e-12), (i, j)


def test_entries_check_of_a_zero_row_divides_by_one() -> None:
    a = np.zeros((2, 2))
    b = np.ones((2, 2))
    c = np.array([[0.5, 0.0], [0.0, 0.0]])
    assert bench.entries_rel_error(a, b, c, np.random.default_rng(0), 200) == 0.5


def test_freivalds_of_zero_inputs_divides_by_one() -> None:
    a = b = np.zeros((2, 2))
    c = np.array([[0.0, 3.0], [0.0, 0.0]])
    x = np.array([1.0, 2.0])
    assert bench.freivalds_rel_error(a, b, c, x) == 6.0


def test_freivalds_relative_error() -> None:
    a, b, x = np.eye(2), np.eye(2), np.array([1.0, 1.0])
    c = np.array([[1.5, 0.0], [0.0, 1.0]])
    assert bench.freivalds_rel_error(a, b, c, x) == 0.5


def test_gflops_stats_exactly() -> None:
    stats = bench.gflops_stats(1000, [1.0, 2.0, 4.0, 8.0])
    gflops = [2.0, 1.0, 0.5, 0.25]
    q1, _, q3 = statistics.quantiles(gflops, n=4, method="inclusive")
    assert stats == {"gflops_median": 0.75, "gflops_q1": q1, "gflops_q3": q3, "gflops_iqr": q3 - q1}
    assert bench.gflops_stats(10, [0.0])["gflops_median"] == 2.0 * 10**3 / 1e-12 / 1e9


@pytest.mark.parametrize(
    ("values", "expected"),
    [([3.0], (3.0, 3.0)), ([1.0, 2.0], (1.25, 1.75)), ([1.0, 2.0, 3.0, 4.0, 5.0], (2.0, 4.0))],
)
def test_quartiles(values: list[float], expected: tuple[float, float]) -> None:
    assert bench.quartiles(values) == expected


def test_quartiles_fallback_for_python_3_7_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0, 9.0]
    expected = bench.quartiles(values)
    monkeypatch.delattr(statistics, "quantiles")
    assert bench.quartiles(values) == pytest.approx(expected)


def test_merge_checks_takes_the_worst_and_fails_if_any_fails() -> None:
    good = {"max_rel_error": 1e-16, "ok": True}
    bad = {"max_rel_error": 1e-3, "ok": False}
    lost = {"max_rel_error": None, "ok": False}
    assert bench.merge_checks([good, bad]) == {"max_rel_error": 1e-3, "ok": False, "checked_products": 2}
    assert bench.merge_checks([good, lost, bad])["max_rel_error"] is None
    assert bench.merge_checks([good, good])["ok"] is True


def test_run_case_record() -> None:
    result = bench.run_case("float64", 8, 3, 0)
    assert result["dtype"] == "float64" and result["n"] == 8 and result["repeats"] == 3
    assert len(result["times_s"]) == 3 and result["checked_products"] == 4 and result["ok"] is True
    assert {"gflops_median", "gflops_q1", "gflops_q3", "gflops_iqr", "fp_warnings"} <= set(result)
    assert result["fp_warnings"] == []


def test_run_case_checks_every_product_with_its_own_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    seeds: list[int] = []
    real = bench.check_product

    def spy(a: object, b: object, c: object, *, seed: int = 12345, entries: int = 16) -> dict[str, object]:
        seeds.append(seed)
        return real(a, b, c, seed=seed, entries=entries)  # type: ignore[arg-type]

    monkeypatch.setattr(bench, "check_product", spy)
    bench.run_case("float32", 4, 3, 10)
    assert seeds == [11, 12, 13, 14]


def test_freivalds_uses_a_random_vector_not_a_constant_one() -> None:
    # An error that keeps every row sum (+1 and -1 in one row) is invisible to a constant vector.
    a = b = np.eye(2)
    c = np.eye(2) + np.array([[1.0, -1.0], [0.0, 0.0]])
    check = bench.check_product(a, b, c, entries=0)
    assert check["freivalds_rel_error"] > 0.01 and check["ok"] is False


def test_tiny_inputs_are_judged_relative_to_their_own_scale() -> None:
    # Entries of 1e-3: scales below 1 must still divide, or a 100 % error looks like 1e-6.
    a = b = np.eye(2) * 1e-3
    c = a @ b * 2.0
    assert bench.freivalds_rel_error(a, b, c, np.array([1.0, 1.0])) == pytest.approx(1.0)
    assert bench.entries_rel_error(a, b, c, np.random.default_rng(0), 64) == pytest.approx(1.0)


def test_timed_matmul_measures_the_product_only() -> None:
    a, b = bench.make_inputs(8, "float64", 0)
    c, elapsed = bench.timed_matmul(a, b)
    assert np.array_equal(c, a @ b) and 0.0 <= elapsed < 10.0


def test_run_case_keeps_the_dtype() -> None:
    result = bench.run_case("float32", 8, 2, 0)
    assert result["tolerance"] == bench.tolerance(8, np.float32)
