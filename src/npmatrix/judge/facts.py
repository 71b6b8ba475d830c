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
    exit_code: int | None  # the probe output says "returncode" (its own format, probe_version 1)
    signal: str | None
    timed_out: bool
    stderr_tail: str


ORIGIN_WORDS = {
    "pypi-wheel": "a manylinux/musllinux wheel, as PyPI ships them",
    "local-wheel": "a wheel tagged linux_<arch>, built on a machine (piwheels, or pip building from source)",
    "debian": "Debian's package (apt)",
    "conda": "a conda package",
    "editable": "an editable install of a source tree",
    "url": "a file or URL pip was given",
    "source": "a setup.py/egg install from source",
    "unknown": "unknown",
}


# Platform tags of the wheels piwheels builds (32-bit Raspberry Pi OS): a plain, not manylinux, tag.
PIWHEELS_PLATFORMS = ("linux_armv7l", "linux_armv6l")


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Where the NumPy that runs came from, and whether it is the one installed ("how did you install numpy?")."""

    kind: str  # a key of ORIGIN_WORDS
    wheel_tag: str | None
    installer: str | None  # pip, uv, conda, debian's dpkg ... (the dist-info's INSTALLER)
    url: str | None  # where pip recorded it came from (direct_url.json): only for a file, URL or VCS install
    installed_version: str | None
    running_version: str | None
    installed_at: str | None
    running_from: str | None

    @property
    def stale(self) -> bool:
        """The NumPy that imports is not the one the metadata describes: another version (a botched reinstall)
        or another directory (a shadowing copy earlier on sys.path). The probe imports in a fresh process, so a
        long-running one (a notebook kernel) is out of its sight."""
        if self.installed_version and self.running_version and self.installed_version != self.running_version:
            return True
        if self.installed_at and self.running_from:
            return not self.running_from.startswith(self.installed_at.rstrip("/") + "/")
        return False

    @property
    def platform_tag(self) -> str | None:
        """The wheel's platform tag: "linux_armv7l" of "cp313-cp313-linux_armv7l"."""
        return self.wheel_tag.split("-")[-1] if self.wheel_tag else None

    @property
    def piwheels_style(self) -> bool:
        """A plain linux_armv7l/armv6l wheel: what piwheels publishes for Raspberry Pi OS, built against the
        system's BLAS/LAPACK. The files cannot tell piwheels from pip's own source build on a Pi (both are
        `pip wheel`'s output), hence "-style"; on other architectures a plain tag is a local build."""
        return self.kind == "local-wheel" and self.platform_tag in PIWHEELS_PLATFORMS

    @property
    def label(self) -> str:
        """Where NumPy came from, in a few words; the start of `describe` and the table's "installed"."""
        if self.piwheels_style:
            return f"piwheels-style wheel ({self.platform_tag})"
        text = ORIGIN_WORDS.get(self.kind, self.kind)
        if self.kind == "pypi-wheel" and self.wheel_tag:
            text = text.replace("manylinux/musllinux", "musllinux" if "musllinux" in self.wheel_tag else "manylinux")
        return text

    def describe(self) -> str:
        text = self.label
        if self.piwheels_style:
            text += ", as piwheels builds them for Raspberry Pi OS"
        details = [d for d in (self.wheel_tag, f"installer {self.installer}" if self.installer else None) if d]
        if self.url:
            details.append(f"from {self.url}")
        if details:
            text += f" ({', '.join(details)})"
        if self.stale:
            text += (
                f"; the NumPy that imports ({self.running_version or '?'}, {self.running_from or '?'}) is not the "
                f"one installed ({self.installed_version or '?'})"
            )
        return text


def origin_of(numpy: dict[str, Any]) -> Origin | None:
    install = numpy.get("install") or {}
    if not numpy.get("found"):
        return None
    return Origin(
        kind=install.get("origin") or _legacy_origin(install),
        wheel_tag=(install.get("wheel_tags") or [None])[0],
        installer=install.get("installer"),
        url=install.get("direct_url"),
        installed_version=install.get("dist_version") or _debian_upstream(install.get("debian_version")),
        running_version=numpy.get("version"),
        installed_at=numpy.get("location"),
        running_from=numpy.get("file"),
    )


def _legacy_origin(install: dict[str, Any]) -> str:
    """Probe outputs from before `origin` existed: judge from the wheel tag and source alone."""
    tags = install.get("wheel_tags") or []
    if install.get("source") == "debian":
        return "debian"
    if any("manylinux" in t or "musllinux" in t for t in tags):
        return "pypi-wheel"
    return "local-wheel" if tags else "unknown"


def _debian_upstream(version: str | None) -> str | None:
    """'1:1.24.2-1+deb12u1' -> '1.24.2'."""
    if not version:
        return None
    return version.split(":", 1)[-1].rsplit("-", 1)[0]


@dataclass(frozen=True, kw_only=True)
class SigillCheck:
    """What the probe learnt after `import numpy` died of SIGILL: the kernel OpenBLAS's runtime dispatch chose
    (OPENBLAS_VERBOSE=2 prints it before running it) and whether the import works with a safe core forced."""

    chosen_core: str | None
    safe_core: str | None
    imports_with_safe_core: bool | None
    library: str | None = None  # the OpenBLAS the NumPy wheel bundles, loaded alone through ctypes
    library_core: str | None = None  # its openblas_get_corename, when loading it alone worked
    library_signal: str | None = None  # how loading it alone died, e.g. SIGILL in its own init


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
    sigill: SigillCheck | None = None
    origin: Origin | None = None
    blas_libraries: tuple[str, ...] = ()  # the BLAS/LAPACK libraries loaded in the process, by path
    openblas_threads: int | None = None  # OpenBLAS's own thread count (openblas_get_num_threads)
    cpu_count: int | None = None
    multiarch: str | None = None  # Debian's triplet, e.g. arm-linux-gnueabihf (update-alternatives names)

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
        sigill=_sigill(numpy.get("sigill_check")),
        origin=origin_of(numpy),
        blas_libraries=tuple((numpy.get("blas_runtime") or {}).get("libraries") or ()),
        openblas_threads=((numpy.get("blas_runtime") or {}).get("openblas") or {}).get("num_threads"),
        cpu_count=(facts.get("cpu") or {}).get("count"),
        multiarch=(facts.get("python") or {}).get("multiarch"),
    )


def _sigill(check: Any) -> SigillCheck | None:
    if not isinstance(check, dict):
        return None
    return SigillCheck(
        chosen_core=check.get("chosen_core") or None,
        safe_core=check.get("safe_core") or None,
        imports_with_safe_core=check.get("imports_with_safe_core"),
        library=check.get("library"),
        library_core=check.get("library_core"),
        library_signal=check.get("library_signal"),
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
            exit_code=r.get("returncode"),
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
