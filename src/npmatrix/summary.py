"""A typed view of the probe's facts: what classification, the table, explain and the reports use.

Pure: the facts are the JSON object container/probe.py prints; here we only read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class GemmResult:
    dtype: str
    n: int
    threads: str
    gflops_median: float
    gflops_iqr: float
    max_rel_error: float
    tolerance: float
    ok: bool
    fp_warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class BenchRun:
    threads: str
    returncode: int | None
    signal: str | None
    timed_out: bool
    stderr_tail: str


@dataclass(frozen=True, kw_only=True)
class ProbeSummary:
    machine: str | None
    python_version: str | None
    libc: str | None
    pip_version: str | None
    pip_top_tag: str | None
    numpy_found: bool
    numpy_version: str | None
    install_source: str | None  # wheel, debian, other, unknown
    wheel_tag: str | None
    blas: str | None
    openblas_core: str | None  # the kernel OpenBLAS picked for the CPU it saw ("cortexa72", "Haswell", ...)
    import_ok: bool
    import_signal: str | None
    import_timed_out: bool
    import_stderr: str
    missing_libraries: tuple[str, ...]
    cpu_model: str | None
    cpu_baseline: tuple[str, ...]
    gemm: tuple[GemmResult, ...] = ()
    bench_runs: tuple[BenchRun, ...] = ()
    bench_skipped: str | None = None
    bench_requested: bool = True
    imports: tuple[dict[str, Any], ...] = field(default=())

    def best_gflops(self, dtype: str, threads: str = "all") -> float | None:
        """GFLOP/s at the largest size measured for `dtype`, from the run with `threads`."""
        rows = [g for g in self.gemm if g.dtype == dtype and g.threads == threads]
        return max(rows, key=lambda g: g.n).gflops_median if rows else None


def summarize(facts: dict[str, Any]) -> ProbeSummary:
    numpy = facts.get("numpy") or {}
    install = numpy.get("install") or {}
    pip = facts.get("pip") or {}
    libc = (facts.get("platform") or {}).get("libc") or {}
    bench = facts.get("bench") or {}
    return ProbeSummary(
        machine=(facts.get("platform") or {}).get("machine"),
        python_version=(facts.get("python") or {}).get("version"),
        libc=" ".join(v for v in (libc.get("name"), libc.get("version")) if v) or None,
        pip_version=pip.get("version"),
        pip_top_tag=(pip.get("tags") or [None])[0],
        numpy_found=bool(numpy.get("found")),
        numpy_version=numpy.get("version") or install.get("dist_version") or install.get("debian_version"),
        install_source=install.get("source"),
        wheel_tag=(install.get("wheel_tags") or [None])[0],
        blas=blas_name(numpy),
        openblas_core=((numpy.get("blas_runtime") or {}).get("openblas") or {}).get("corename") or None,
        import_ok=bool(numpy.get("import_ok")),
        import_signal=numpy.get("signal"),
        import_timed_out=bool(numpy.get("timed_out")),
        import_stderr=numpy.get("stderr_tail") or "",
        missing_libraries=missing_libraries(numpy),
        cpu_model=(facts.get("cpu") or {}).get("model_name"),
        cpu_baseline=tuple(numpy.get("cpu_baseline") or ()),
        gemm=tuple(_gemm_rows(bench)),
        bench_runs=tuple(_bench_runs(bench)),
        bench_skipped=bench.get("skipped_reason"),
        bench_requested=facts.get("bench") is not None,
        imports=tuple(m for m in facts.get("imports") or () if isinstance(m, dict)),  # a failed section is null
    )


def _gemm_rows(bench: dict[str, Any]) -> list[GemmResult]:
    rows = []
    for run in bench.get("runs") or []:
        for r in run.get("results") or []:
            rows.append(
                GemmResult(
                    dtype=r["dtype"],
                    n=int(r["n"]),
                    threads=run.get("threads", "all"),
                    gflops_median=float(r["gflops_median"]),
                    gflops_iqr=float(r.get("gflops_iqr") or 0.0),
                    # the probe writes null for a non-finite error: JSON has no inf or nan
                    max_rel_error=_float_or_inf(r.get("max_rel_error")),
                    tolerance=float(r["tolerance"]),
                    ok=bool(r["ok"]),
                    fp_warnings=tuple(r.get("fp_warnings") or ()),
                )
            )
    return rows


_CANNOT_OPEN = re.compile(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file")


def missing_libraries(numpy: dict[str, Any]) -> tuple[str, ...]:
    """Libraries NumPy needs and cannot load: the one the import error names first (that is the one that
    failed), then what ldd reports not found (ldd sees nothing when the extension itself never loaded)."""
    named = _CANNOT_OPEN.findall(numpy.get("stderr_tail") or "")
    not_found = (numpy.get("ldd") or {}).get("not_found") or []
    return tuple(dict.fromkeys([*named, *not_found]))


def _float_or_inf(value: Any) -> float:
    return float("inf") if value is None else float(value)


def _bench_runs(bench: dict[str, Any]) -> list[BenchRun]:
    return [
        BenchRun(
            threads=r.get("threads", "?"),
            returncode=r.get("returncode"),
            signal=r.get("signal"),
            timed_out=bool(r.get("timed_out")),
            stderr_tail=r.get("stderr_tail") or "",
        )
        for r in bench.get("runs") or []
    ]


_LDD_BLAS = re.compile(
    r"(lib(?:scipy_)?openblas\w*|libblas|libcblas|libmkl_rt|libblis|libf77blas|libatlas|libflexiblas)"
    r"[\w.-]*\.so[\w.]*"
)


def blas_name(numpy: dict[str, Any]) -> str | None:
    """The BLAS NumPy uses: from show_config's dicts (NumPy >= 1.26), else from what its extension links."""
    config = numpy.get("config") or {}
    deps = config.get("Build Dependencies") or {}
    blas = deps.get("blas") or {}
    if blas.get("name"):
        return " ".join(str(v) for v in (blas.get("name"), blas.get("version")) if v and v != "unknown")
    ldd = (numpy.get("ldd") or {}).get("output") or ""
    found = _LDD_BLAS.search(ldd)
    return found.group(0) if found else None
