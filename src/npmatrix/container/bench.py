#!/usr/bin/env python3
"""GEMM benchmark with a BLAS-independent correctness check; prints ONE JSON object on stdout.

Usage: python3 bench.py [--sizes 256,512,1024] [--repeats 5] [--seed 0]

Only ever run as a child of probe.py (which sets the thread-count variables and survives our crashes),
so it imports NumPy at top level. Needs NumPy 1.19+ and Python 3.7+. Each finished case is also written
to stderr on a line starting with RESULT_MARKER, so a crash or timeout in a later case keeps the earlier
results.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import math
import statistics
import sys
import time
import warnings

import numpy as np

# Shared with the host: npmatrix/protocol.py defines these, tests/unit/test_protocol.py checks the copies.
BENCH_VERSION = 1
RESULT_MARKER = "NPMATRIX-BENCH-RESULT "  # probe.py looks for this prefix
DTYPES = ("float32", "float64")
CHECKED_ENTRIES = 16


def log(message: str) -> None:
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()


def finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def make_inputs(n: int, dtype: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)


def tolerance(n: int, dtype: object) -> float:
    """Classical gamma_n bound for an inner product of length n, with slack 2."""
    return 2.0 * n * float(np.finfo(dtype).eps)


# The reference below uses only elementwise ufuncs and sum(), never matmul/dot: those go to the same BLAS
# we are testing, and a broken BLAS must not also break the reference.


def rowwise_product(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """m @ v without BLAS."""
    return (m * v).sum(axis=1)


def freivalds_rel_error(a64: np.ndarray, b64: np.ndarray, c64: np.ndarray, x: np.ndarray) -> float:
    """max|C x - A (B x)| / max(|A| (|B| |x|)): probabilistic check of the whole product in O(n^2)."""
    residual = np.abs(rowwise_product(c64, x) - rowwise_product(a64, rowwise_product(b64, x)))
    scale = rowwise_product(np.abs(a64), rowwise_product(np.abs(b64), np.abs(x)))
    denominator = float(np.max(scale))
    return float(np.max(residual)) / (denominator if denominator > 0 else 1.0)


def entries_rel_error(a64: np.ndarray, b64: np.ndarray, c64: np.ndarray, rng: object, count: int) -> float:
    """Worst relative error of `count` random entries of C against a float64 inner product."""
    rows = rng.integers(0, c64.shape[0], size=count)
    cols = rng.integers(0, c64.shape[1], size=count)
    worst = 0.0
    for i, j in zip(rows, cols):  # noqa: B905 -- zip(strict=) needs Python 3.10
        reference = (a64[i, :] * b64[:, j]).sum()
        scale = (np.abs(a64[i, :]) * np.abs(b64[:, j])).sum()
        worst = max(worst, float(abs(c64[i, j] - reference) / (scale if scale > 0 else 1.0)))
    return worst


def check_product(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, *, seed: int = 12345, entries: int = CHECKED_ENTRIES
) -> dict:
    """Is c the product a @ b to within rounding error of c's dtype?"""
    tol = tolerance(a.shape[1], c.dtype)
    if not np.all(np.isfinite(c)):
        return {
            "max_rel_error": None,
            "freivalds_rel_error": None,
            "entries_rel_error": None,
            "tolerance": tol,
            "finite": False,
            "ok": False,
        }
    rng = np.random.default_rng(seed)
    a64, b64, c64 = a.astype(np.float64), b.astype(np.float64), c.astype(np.float64)
    with np.errstate(all="ignore"):
        freivalds = freivalds_rel_error(a64, b64, c64, rng.standard_normal(b.shape[1]))
        entry = entries_rel_error(a64, b64, c64, rng, entries)
    worst = max(freivalds, entry)
    return {
        "max_rel_error": finite_or_none(worst),
        "freivalds_rel_error": finite_or_none(freivalds),
        "entries_rel_error": finite_or_none(entry),
        "tolerance": tol,
        "finite": True,
        "ok": bool(math.isfinite(worst) and worst <= tol),
    }


def merge_checks(checks: list[dict]) -> dict:
    """One verdict for all products of a case: the worst of them."""

    def badness(check: dict) -> float:
        return math.inf if check["max_rel_error"] is None else check["max_rel_error"]

    merged = dict(max(checks, key=badness))
    merged["ok"] = all(check["ok"] for check in checks)
    merged["checked_products"] = len(checks)
    return merged


def quartiles(values: list[float]) -> tuple[float, float]:
    """(q1, q3) like statistics.quantiles(values, n=4, method="inclusive")."""
    if len(values) < 2:
        return values[0], values[0]
    if hasattr(statistics, "quantiles"):
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return q1, q3
    # Python 3.7 has no statistics.quantiles: the same interpolation, from CPython's implementation.
    data, m = sorted(values), len(values) - 1
    cuts = []
    for i in (1, 3):
        j, delta = divmod(i * m, 4)
        cuts.append((data[j] * (4 - delta) + data[j + 1] * delta) / 4)
    return cuts[0], cuts[1]


def gflops_stats(n: int, times: list[float]) -> dict:
    gflops = [2.0 * n**3 / max(t, 1e-12) / 1e9 for t in times]
    q1, q3 = quartiles(gflops)
    return {"gflops_median": statistics.median(gflops), "gflops_q1": q1, "gflops_q3": q3, "gflops_iqr": q3 - q1}


def timed_matmul(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    c = a @ b
    return c, time.perf_counter() - start


def fp_messages(caught: list) -> list[str]:
    """Floating-point warnings (RuntimeWarning) from matmul, deduplicated, in order."""
    messages: list[str] = []
    for warning in caught:
        text = f"{warning.category.__name__}: {warning.message}"
        if issubclass(warning.category, RuntimeWarning) and text not in messages:
            messages.append(text)
    return messages


def run_case(dtype: str, n: int, repeats: int, seed: int) -> dict:
    a, b = make_inputs(n, dtype, seed)
    times, checks = [], []
    # Products of well-conditioned inputs must raise no FP flags; some NumPy/BLAS builds do on some CPUs.
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        c, _ = timed_matmul(a, b)  # warm-up: pages in kernels, starts BLAS threads
        checks.append(check_product(a, b, c, seed=seed + 1))
        for _ in range(repeats):
            c, elapsed = timed_matmul(a, b)
            times.append(elapsed)
            # Every product is checked (O(n^2), untimed): threaded BLAS bugs can be intermittent.
            checks.append(check_product(a, b, c, seed=seed + 1 + len(times)))
    result = {"dtype": dtype, "n": n, "repeats": repeats, "times_s": times}
    result.update(gflops_stats(n, times))
    result.update(merge_checks(checks))
    result["fp_warnings"] = fp_messages(caught)
    return result


def threadpool_info() -> list | None:
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl.threadpool_info()


def parse_sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="GEMM GFLOP/s and correctness, as one JSON object.")
    parser.add_argument("--sizes", type=parse_sizes, default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--dump-after",
        type=float,
        default=0.0,
        help="dump the Python stack to stderr after this many seconds (0: never)",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dump_after > 0:
        faulthandler.dump_traceback_later(args.dump_after, exit=False)
    results = []
    # Sizes outer, dtypes inner: if the largest size times out, both dtypes have smaller results.
    for n in args.sizes:
        for dtype in DTYPES:
            log(f"{dtype} n={n}")
            result = run_case(dtype, n, args.repeats, args.seed)
            results.append(result)
            sys.stderr.write(RESULT_MARKER + json.dumps(result, allow_nan=False) + "\n")
            sys.stderr.flush()
    payload = {
        "bench_version": BENCH_VERSION,
        "numpy_version": np.__version__,
        "threadpool_info": threadpool_info(),
        "results": results,
    }
    sys.stdout.write(json.dumps(payload, allow_nan=False) + "\n")
    faulthandler.cancel_dump_traceback_later()
    return 0


if __name__ == "__main__":
    sys.exit(main())
