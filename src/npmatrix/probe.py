"""Host side of the probe: run the standalone scripts in container/ and read their JSON into types.

The scripts themselves (container/probe.py, container/bench.py) never import this package: they run
inside images whose Python may be old and whose NumPy may be broken. Here we only parse what they print.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from npmatrix import engine
from npmatrix.errors import EngineUnavailable
from npmatrix.plan import PROBE_DIR, X86_QEMU, X86_QEMU_HOST_PATH, CellPlan

SCRIPTS = ("probe.py", "bench.py")
SCHEMA_VERSION = 1


def script_files() -> dict[str, bytes]:
    folder = resources.files("npmatrix").joinpath("container")
    return {name: folder.joinpath(name).read_bytes() for name in SCRIPTS}


@dataclass(frozen=True)
class ProbeRun:
    """What one probe run left behind: its raw output and, when it printed one, its JSON report."""

    exit_code: int | None  # None: timed out and killed
    stdout: str
    stderr: str
    duration_s: float
    report: dict[str, Any] | None
    parse_error: str | None = None

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


def parse_output(exit_code: int | None, stdout: str, stderr: str, duration_s: float) -> ProbeRun:
    try:
        report = json.loads(stdout)
        if not isinstance(report, dict):
            raise ValueError("the probe printed JSON but not an object")
    except ValueError as exc:
        return ProbeRun(exit_code, stdout, stderr, duration_s, None, f"probe printed no JSON report: {exc}")
    return ProbeRun(exit_code, stdout, stderr, duration_s, report)


def files_for(plan: CellPlan) -> dict[str, bytes]:
    files = script_files()
    if plan.runs_x86_emulator:
        emulator = Path(X86_QEMU_HOST_PATH)
        if not emulator.is_file():
            raise EngineUnavailable(
                f"cell {plan.cell.name} runs as CPU {plan.qemu_cpu!r} and needs {emulator}: "
                "run `make engine` or apt-get install qemu-user-static"
            )
        files[Path(X86_QEMU).name] = emulator.read_bytes()
    return files


def run_in_container(plan: CellPlan, docker: Any, *, labels: dict[str, str], keep: bool = False) -> ProbeRun:
    with engine.Container(
        docker, plan.image_tag, platform=plan.platform.docker, environment=plan.environment, labels=labels, keep=keep
    ) as box:
        result = box.call(plan.probe_argv(), timeout=plan.cell.timeout, files=files_for(plan), files_dir=PROBE_DIR)
    return parse_output(result.exit_code, result.stdout, result.stderr, result.duration_s)


def run_on_host(
    *, bench: bool, sizes: tuple[int, ...], repeats: int = 5, timeout: int = 300, imports: tuple[str, ...] = ()
) -> ProbeRun:
    """The same probe on this machine, with this Python: for a real Pi or a Colab notebook."""
    import tempfile
    import time

    with tempfile.TemporaryDirectory(prefix="npmatrix-probe-") as tmp:
        for name, data in script_files().items():
            Path(tmp, name).write_bytes(data)
        argv = [sys.executable, str(Path(tmp, "probe.py")), "--timeout", str(timeout), "--bench-timeout", str(timeout)]
        if bench:
            argv += ["--bench", "--sizes", ",".join(map(str, sizes)), "--repeats", str(repeats)]
        for module in imports:
            argv += ["--import", module]
        started = time.monotonic()
        try:
            # Each child has its own limit inside the probe; this one only guards against the probe itself.
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout * 4, check=False)
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            return ProbeRun(None, "", stderr, time.monotonic() - started, None, "the probe did not finish")
    return parse_output(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


# ---------------------------------------------------------------------------------------------------------
# A typed view of the report: the facts classification and the table use.


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class BenchRun:
    threads: str
    returncode: int | None
    signal: str | None
    timed_out: bool
    stderr_tail: str


@dataclass(frozen=True)
class Summary:
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
    blas_core: str | None  # the kernel OpenBLAS picked for the CPU it saw ("cortexa72", "Haswell", ...)
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


def summarize(report: dict[str, Any]) -> Summary:
    numpy = report.get("numpy") or {}
    install = numpy.get("install") or {}
    pip = report.get("pip") or {}
    libc = (report.get("platform") or {}).get("libc") or {}
    bench = report.get("bench") or {}
    return Summary(
        machine=(report.get("platform") or {}).get("machine"),
        python_version=(report.get("python") or {}).get("version"),
        libc=" ".join(v for v in (libc.get("name"), libc.get("version")) if v) or None,
        pip_version=pip.get("version"),
        pip_top_tag=(pip.get("tags") or [None])[0],
        numpy_found=bool(numpy.get("found")),
        numpy_version=numpy.get("version") or install.get("dist_version") or install.get("debian_version"),
        install_source=install.get("source"),
        wheel_tag=(install.get("wheel_tags") or [None])[0],
        blas=blas_name(numpy),
        blas_core=((numpy.get("blas_runtime") or {}).get("openblas") or {}).get("corename") or None,
        import_ok=bool(numpy.get("import_ok")),
        import_signal=numpy.get("signal"),
        import_timed_out=bool(numpy.get("timed_out")),
        import_stderr=numpy.get("stderr_tail") or "",
        missing_libraries=missing_libraries(numpy),
        cpu_model=(report.get("cpu") or {}).get("model_name"),
        cpu_baseline=tuple(numpy.get("cpu_baseline") or ()),
        gemm=tuple(_gemm_rows(bench)),
        bench_runs=tuple(_bench_runs(bench)),
        bench_skipped=bench.get("skipped_reason"),
        bench_requested=report.get("bench") is not None,
        imports=tuple(report.get("imports") or ()),
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
