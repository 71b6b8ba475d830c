"""Verdicts: a pure function from what a cell left behind (build log, probe report) to status, reason, fix.

Rules are tried in order, most specific first; each one quotes the line it was read from as evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from npmatrix.build import BuildOutcome
from npmatrix.plan import CellPlan
from npmatrix.probe import ProbeRun, Summary, summarize
from npmatrix.status import Status

# Shared libraries NumPy's extensions link to, and the Debian package that ships each.
LIBRARY_PACKAGES = {
    "libopenblas.so.0": "libopenblas0",
    "libblas.so.3": "libblas3",
    "libcblas.so.3": "libatlas3-base",
    "libf77blas.so.3": "libatlas3-base",
    "libatlas.so.3": "libatlas3-base",
    "liblapack.so.3": "liblapack3",
    "libgfortran.so.5": "libgfortran5",
    "libgfortran.so.3": "libgfortran3",
    "libquadmath.so.0": "libquadmath0",
    "libgomp.so.1": "libgomp1",
}


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str
    fix: str | None = None
    evidence: tuple[str, ...] = ()


def classify(plan: CellPlan, build: BuildOutcome, probe: ProbeRun | None) -> Verdict:
    if not build.ok:
        return classify_build(plan, build)
    if probe is None:
        return Verdict(Status.ENGINE_ERROR, "the probe did not run")
    if probe.timed_out:
        return Verdict(
            Status.TIMEOUT,
            f"no answer within {plan.cell.timeout} s; the container was stopped and removed",
            "raise the cell's timeout, or pick another CPU model: some emulated ones hang",
            _tail(probe.stderr),
        )
    if probe.report is None:
        return Verdict(
            Status.CRASHED,
            probe.parse_error or "the probe printed nothing",
            evidence=_tail(probe.stderr or probe.stdout),
        )
    return classify_probe(summarize(probe.report))


def classify_build(plan: CellPlan, build: BuildOutcome) -> Verdict:
    if build.timed_out:
        return Verdict(
            Status.TIMEOUT,
            f"the image build took longer than {plan.cell.build_timeout} s",
            "raise build_timeout; under QEMU a source build of NumPy takes hours",
            _tail(build.output),
        )
    line = _first(
        build.output,
        r"No matching distribution found for numpy\S*",
        r"Could not find a version that satisfies the requirement numpy\S*",
    )
    if line:
        return _no_wheel(plan, line)
    key = _first(build.output, r"^(?:#\d+ [\d.]+ )?(?:ERROR|E): .*", r"error: .*") or _last_line(build.output)
    return Verdict(
        Status.BUILD_FAILED, f"image build failed: {_strip_step(key)}", f"read the build log: {build.log_path}", (key,)
    )


def _no_wheel(plan: CellPlan, line: str) -> Verdict:
    spec = plan.cell.numpy or ""
    tag = f"linux_{plan.platform.wheel_arch}"
    reason = f"PyPI has no NumPy{spec} wheel for {tag} ({plan.platform.docker}); pip would build from source"
    fix = (
        'use Debian\'s python3-numpy (install = "apt"), pin a NumPy that has a wheel for this platform, '
        'or on Raspberry Pi OS add piwheels (extra_index_url = "https://www.piwheels.org/simple")'
    )
    if plan.cell.platform in ("amd64", "arm64"):
        fix = "pin a NumPy release that has a wheel for this Python, or upgrade pip so it knows newer wheel tags"
    return Verdict(Status.NO_WHEEL, reason, fix, (_strip_step(line),))


def classify_probe(s: Summary) -> Verdict:
    """The verdict on a probe report alone: also what `npmatrix probe` says of the host."""
    if not s.numpy_found:
        return Verdict(Status.IMPORT_FAILED, "NumPy is not installed in the image", None, ())
    if not s.import_ok:
        return classify_import(s)
    for module in s.imports:
        if not module.get("ok"):
            return classify_extension(module)
    return classify_bench(s)


def classify_import(s: Summary) -> Verdict:
    evidence = _tail(s.import_stderr, 6)
    missing = re.search(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file", s.import_stderr)
    if missing or s.missing_libraries:
        lib = missing.group(1) if missing else s.missing_libraries[0]
        package = LIBRARY_PACKAGES.get(lib)
        fix = f"apt-get install {package}" if package else f"install the package that ships {lib}"
        return Verdict(Status.MISSING_SHARED_LIBRARY, f"NumPy needs {lib}, which is not installed", fix, evidence)
    if s.import_timed_out:
        return Verdict(Status.TIMEOUT, "`import numpy` did not finish", "try another CPU model", evidence)
    if s.import_signal == "SIGILL" or "baseline optimizations" in s.import_stderr:
        return Verdict(
            Status.CPU_UNSUPPORTED,
            f"NumPy {s.numpy_version or ''} uses instructions this CPU ({s.cpu_model or 'unknown'}) lacks",
            "install a NumPy built for this CPU's baseline (an older release or the distribution's)",
            evidence,
        )
    if s.import_signal:
        return Verdict(Status.CRASHED, f"`import numpy` died with {s.import_signal}", None, evidence)
    return Verdict(Status.IMPORT_FAILED, f"`import numpy` failed: {_last_line(s.import_stderr)}", None, evidence)


def classify_extension(module: dict[str, object]) -> Verdict:
    stderr = str(module.get("stderr_tail") or "")
    name = module.get("module")
    if re.search(
        r"compiled using NumPy 1\.x|_ARRAY_API not found|numpy\.dtype size changed|"
        r"numpy\.core\.multiarray failed to import",
        stderr,
    ):
        return Verdict(
            Status.ABI_MISMATCH,
            f"{name} was built against another NumPy major version",
            f"pin numpy to the major version {name} was built for, or upgrade {name}",
            _tail(stderr, 6),
        )
    return Verdict(Status.IMPORT_FAILED, f"`import {name}` failed: {_last_line(stderr)}", None, _tail(stderr, 6))


def classify_bench(s: Summary) -> Verdict:
    for run in s.bench_runs:
        if run.timed_out:
            return Verdict(
                Status.TIMEOUT, f"GEMM benchmark ({run.threads} threads) did not finish", None, _tail(run.stderr_tail)
            )
        if run.signal:
            return Verdict(
                Status.CRASHED,
                f"GEMM benchmark ({run.threads} threads) died with {run.signal}",
                None,
                _tail(run.stderr_tail),
            )
    wrong = [g for g in s.gemm if not g.ok or g.fp_warnings]
    if wrong:
        g = wrong[0]
        detail = (
            f"FP warnings {', '.join(g.fp_warnings)}"
            if g.fp_warnings and g.ok
            else (f"relative error {g.max_rel_error:.2e} > tolerance {g.tolerance:.2e}")
        )
        return Verdict(
            Status.WRONG_RESULT,
            f"{g.dtype} GEMM n={g.n} ({g.threads} threads): {detail}",
            "the BLAS kernel is wrong for this CPU: try OPENBLAS_CORETYPE or another NumPy build",
        )
    if not s.gemm:
        return Verdict(
            Status.CRASHED,
            f"the benchmark produced no results: {s.bench_skipped or 'unknown'}",
            None,
            _tail(s.bench_runs[0].stderr_tail) if s.bench_runs else (),
        )
    return Verdict(Status.OK, f"NumPy {s.numpy_version} imports and GEMM is numerically right")


def _first(text: str, *patterns: str) -> str | None:
    for pattern in patterns:
        found = re.search(pattern, text, re.MULTILINE)
        if found:
            return found.group(0).strip()
    return None


def _strip_step(line: str) -> str:
    """'#7 1.23 ERROR: x' (BuildKit's plain progress) -> 'ERROR: x'."""
    return re.sub(r"^#\d+ [\d.]+ ", "", line)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def _tail(text: str, n: int = 10) -> tuple[str, ...]:
    return tuple(line for line in text.strip().splitlines()[-n:] if line.strip())
