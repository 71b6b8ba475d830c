"""Verdicts: a pure function from what a cell left behind (build log, probe facts) to status, reason, fix.

Rules are tried in order, most specific first; each one quotes the line it was read from as evidence.
"""

from __future__ import annotations

import re
from dataclasses import replace

from npmatrix.outcomes import BuildOutcome, ProbeRun
from npmatrix.plan import CellPlan
from npmatrix.platforms import presets
from npmatrix.summary import GemmResult, ProbeSummary, summarize
from npmatrix.verdict import Status, Verdict

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


def classify(plan: CellPlan, build: BuildOutcome, probe: ProbeRun | None) -> Verdict:
    if not build.ok:
        # Builds run as the platform's build CPU whatever the cell's model: the model only matters from here on.
        return classify_build(plan, build)
    return _with_cpu_context(plan, _classify_run(plan, probe))


def _classify_run(plan: CellPlan, probe: ProbeRun | None) -> Verdict:
    if probe is None:
        return Verdict(status=Status.ENGINE_ERROR, reason="the probe did not run")
    verdict = _classify_output(plan, probe)
    if probe.oom_killed and verdict.status is not Status.OK:
        return _out_of_memory(plan, probe, verdict)
    return verdict


def _out_of_memory(plan: CellPlan, probe: ProbeRun, verdict: Verdict) -> Verdict:
    """The kernel's OOM killer ended the probe or one of its children (exit code 137, SIGKILL): say so, rather
    than `crashed` without a word."""
    limit = probe.memory_limit or plan.cell.memory
    return Verdict(
        status=Status.CRASHED,
        reason=f"out of memory: the probe exceeded the container's memory limit ({limit}) and was killed "
        f"(OOMKilled; {verdict.reason})",
        fix=f'raise the cell\'s memory limit (memory = "...", now "{plan.cell.memory}") or use smaller GEMM sizes',
        evidence=("engine: State.OOMKilled = true", *verdict.evidence),
    )


def _classify_output(plan: CellPlan, probe: ProbeRun) -> Verdict:
    if probe.timed_out:
        return Verdict(
            status=Status.TIMEOUT,
            reason=f"no answer within {plan.cell.timeout} s; the container was stopped and removed",
            fix="raise the cell's timeout, or pick another CPU model: some emulated ones hang",
            evidence=_tail(probe.stderr),
        )
    if probe.facts is None:
        return Verdict(
            status=Status.CRASHED,
            reason=probe.parse_error or "the probe printed nothing",
            evidence=_tail(probe.stderr or probe.stdout),
        )
    return classify_probe(summarize(probe.facts))


def _with_cpu_context(plan: CellPlan, verdict: Verdict) -> Verdict:
    """A failure at run time on an emulated CPU says which CPU, and what that CPU is known to mean."""
    if verdict.status in (Status.OK, Status.ENGINE_ERROR):
        return verdict
    if plan.cpu_not_applied:
        context = f"natively on the engine's own CPU: cpu = {plan.cell.cpu!r} not applied (no QEMU on a native engine)"
    elif plan.cell.cpu:
        cpu = presets().cpus[plan.cell.cpu]
        context = f"as {cpu.description}" + (f"; {cpu.note}" if cpu.note else "")
    elif plan.emulated:
        context = "as QEMU's default CPU 'max', which is no real Raspberry Pi: set cpu = \"pi4\" or another model"
    else:
        return verdict
    return replace(verdict, reason=f"{verdict.reason} ({context})")


def classify_build(plan: CellPlan, build: BuildOutcome) -> Verdict:
    if build.timed_out:
        return Verdict(
            status=Status.TIMEOUT,
            reason=f"the image build took longer than {plan.cell.build_timeout} s",
            fix="raise build_timeout; under QEMU a source build of NumPy takes hours",
            evidence=_tail(build.output),
        )
    line = _first(
        build.output,
        r"No matching distribution found for numpy(?![\w.-])\S*",
        r"Could not find a version that satisfies the requirement numpy(?![\w.-])\S*.*",
    )
    if line:
        return _no_wheel(plan, build.output, _strip_step(line))
    key = _first(build.output, r"^(?:#\d+ [\d.]+ )?(?:ERROR|E): .*", r"error: .*") or _last_line(build.output)
    return Verdict(
        status=Status.BUILD_FAILED,
        reason=f"image build failed: {_strip_step(key)}",
        fix=f"read the build log: {build.log_path}",
        evidence=(key,),
    )


# pip understands PEP 600 tags (manylinux_2_28_x86_64), the only ones recent NumPy wheels carry, since 20.3.
PEP600_PIP = (20, 3)


def _no_wheel(plan: CellPlan, log: str, line: str) -> Verdict:
    """Why pip found no wheel: its own age, the Python being too new or old for the pin, or the platform."""
    spec = plan.cell.numpy or ""
    pip = _pip_version(log)
    python_tag = _python_tag(log)
    others = _offered_versions(log)
    evidence = tuple(
        e
        for e in (
            line,
            f"pip {'.'.join(map(str, pip))}" if pip else None,
            f"top wheel tag: {_top_tag(log)}" if _top_tag(log) else None,
        )
        if e
    )
    if pip and pip < PEP600_PIP:
        return Verdict(
            status=Status.NO_WHEEL,
            reason=f"pip {'.'.join(map(str, pip))} is too old to know the manylinux_2_x wheel tags "
            f"(PEP 600, pip >= 20.3) that NumPy{spec} ships; the platform is not the problem",
            fix="upgrade pip first: python -m pip install --upgrade pip",
            evidence=evidence,
        )
    if others:
        return Verdict(
            status=Status.NO_WHEEL,
            reason=f"NumPy{spec} has no wheel for {python_tag or 'this Python'} on linux_{plan.platform.wheel_arch}; "
            f"releases that have one: {others[0]} ... {others[-1]}",
            fix=f"pin a NumPy release with a wheel for {python_tag or 'this Python'} (e.g. numpy=={others[-1]}), "
            "or use a Python that the pinned release supports",
            evidence=evidence,
        )
    tag = f"linux_{plan.platform.wheel_arch}"
    reason = f"PyPI has no NumPy{spec} wheel for {tag} ({plan.platform.oci}); pip would build from source"
    fix = (
        'use Debian\'s python3-numpy (install = "apt"), pin a NumPy that has a wheel for this platform, '
        'or on Raspberry Pi OS add piwheels (extra_index_url = "https://www.piwheels.org/simple")'
    )
    if plan.cell.platform in ("amd64", "arm64"):
        fix = "pin a NumPy release that has a wheel for this Python, or upgrade pip so it knows newer wheel tags"
    return Verdict(status=Status.NO_WHEEL, reason=reason, fix=fix, evidence=evidence)


def _pip_version(log: str) -> tuple[int, ...] | None:
    found = re.findall(r"\bpip (\d+(?:\.\d+)+) from ", log)
    return tuple(int(p) for p in found[-1].split(".")[:2]) if found else None


def _top_tag(log: str) -> str | None:
    found = re.search(r"Compatible tags: \d+\s*\n(?:#\d+ [\d.]+ )?\s*(\S+)", log)
    return found.group(1) if found else None


def _python_tag(log: str) -> str | None:
    tag = _top_tag(log)
    return tag.split("-")[0] if tag else None


def _offered_versions(log: str) -> list[str]:
    found = re.search(r"\(from versions: ([^)]*)\)", log)
    if not found or found.group(1).strip() == "none":
        return []
    return [v.strip() for v in found.group(1).split(",") if v.strip()]


def classify_probe(s: ProbeSummary) -> Verdict:
    """The verdict on the probe facts alone: also what `npmatrix probe` says of the host."""
    if not s.numpy_found:
        return Verdict(status=Status.IMPORT_FAILED, reason="NumPy is not installed in the image")
    if not s.import_ok:
        return classify_import(s)
    for module in s.imports:
        if not module.get("ok"):
            return classify_extension(module, numpy_version=s.numpy_version)
    return classify_bench(s)


def classify_import(s: ProbeSummary) -> Verdict:
    evidence = _crash_evidence(s.import_stderr)
    if s.missing_libraries:
        lib = s.missing_libraries[0]
        package = LIBRARY_PACKAGES.get(lib)
        fix = f"apt-get install {package}" if package else f"install the package that ships {lib}"
        return Verdict(
            status=Status.MISSING_SHARED_LIBRARY,
            reason=f"NumPy needs {lib}, which is not installed",
            fix=fix,
            evidence=evidence,
        )
    if s.import_timed_out:
        return Verdict(
            status=Status.TIMEOUT,
            reason="`import numpy` did not finish",
            fix="try another CPU model",
            evidence=evidence,
        )
    if s.import_signal == "SIGILL" or "baseline optimizations" in s.import_stderr:
        missing = re.search(r"doesn't support:\s*\(([^)]*)\)", s.import_stderr)
        if missing:
            return Verdict(
                status=Status.CPU_UNSUPPORTED,
                reason=f"{_numpy(s)} needs {missing.group(1).strip()}, which this CPU lacks",
                fix="use an older NumPy (< 2.4 for x86-64-v1 CPUs) or a build for this CPU's baseline",
                evidence=evidence,
            )
        return Verdict(
            status=Status.CPU_UNSUPPORTED,
            reason=f"{_numpy(s)} uses instructions this CPU ({s.cpu_model or 'unknown'}) lacks",
            fix="install a NumPy built for this CPU's baseline (an older release or the distribution's)",
            evidence=evidence,
        )
    if s.import_signal:
        return Verdict(status=Status.CRASHED, reason=f"`import numpy` died with {s.import_signal}", evidence=evidence)
    return Verdict(
        status=Status.IMPORT_FAILED, reason=f"`import numpy` failed: {_last_line(s.import_stderr)}", evidence=evidence
    )


def _numpy(s: ProbeSummary) -> str:
    """'NumPy 2.4.6', or 'NumPy' when the probe could not tell the version."""
    return f"NumPy {s.numpy_version}" if s.numpy_version else "NumPy"


# NumPy 2's own message for an extension built against NumPy 1.x.
_BUILT_FOR_1X = re.compile(r"compiled using NumPy 1\.x|_ARRAY_API not found|numpy\.core\.multiarray failed to import")
# Cython's struct-size check; it fires both ways, so the running NumPy's major version says which way.
_SIZE_CHANGED = re.compile(r"numpy\.(?:dtype|ufunc|ndarray) size changed")


def classify_extension(module: dict[str, object], *, numpy_version: str | None = None) -> Verdict:
    stderr = str(module.get("stderr_tail") or "")
    name = module.get("module")
    running = f"NumPy {numpy_version}" if numpy_version else "the installed NumPy"
    evidence = tuple(
        dict.fromkeys(
            line.strip() for line in stderr.splitlines() if _BUILT_FOR_1X.search(line) or _SIZE_CHANGED.search(line)
        )
    )
    running_2x = _major(numpy_version) >= 2
    if _BUILT_FOR_1X.search(stderr) or (_SIZE_CHANGED.search(stderr) and running_2x):
        return Verdict(
            status=Status.ABI_MISMATCH,
            reason=f"{name} was compiled against NumPy 1.x and cannot run with {running}",
            fix=f'pin numpy<2 (e.g. numpy = "1.26.4") while {name} is this old, or upgrade {name} to a release '
            "built for NumPy 2",
            evidence=tuple(dict.fromkeys(evidence[:3] + _tail(stderr, 2))),
        )
    if _SIZE_CHANGED.search(stderr):
        return Verdict(
            status=Status.ABI_MISMATCH,
            reason=f"{name} was compiled against a newer NumPy than {running} (binary incompatibility)",
            fix=f"upgrade numpy to the version {name} was built with, or pin an older {name}",
            evidence=tuple(dict.fromkeys(evidence[:3] + _tail(stderr, 2))),
        )
    return Verdict(
        status=Status.IMPORT_FAILED, reason=f"`import {name}` failed: {_last_line(stderr)}", evidence=_tail(stderr, 6)
    )


def _major(version: str | None) -> int:
    try:
        return int((version or "").split(".")[0])
    except ValueError:
        return 0


def classify_bench(s: ProbeSummary) -> Verdict:
    for run in s.bench_runs:
        if run.timed_out:
            return Verdict(
                status=Status.TIMEOUT,
                reason=f"GEMM benchmark ({run.threads} threads) did not finish",
                evidence=_tail(run.stderr_tail),
            )
        if run.signal:
            return Verdict(
                status=Status.CRASHED,
                reason=f"GEMM benchmark ({run.threads} threads) died with {run.signal}",
                evidence=_tail(run.stderr_tail),
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
            status=Status.WRONG_RESULT,
            reason=f"{g.dtype} GEMM n={g.n} ({g.threads} threads): {detail}",
            fix="the BLAS kernel is wrong for this CPU: try OPENBLAS_CORETYPE or another NumPy build",
            evidence=tuple(_gemm_line(w) for w in wrong[:6])
            + ((f"OpenBLAS kernel: {s.openblas_core}",) if s.openblas_core else ()),
        )
    if not s.bench_requested:
        return Verdict(
            status=Status.OK, reason=f"NumPy {s.numpy_version} imports (GEMM not checked: add --bench to check it)"
        )
    if not s.gemm:
        return Verdict(
            status=Status.CRASHED,
            reason=f"the benchmark produced no results: {s.bench_skipped or 'unknown'}",
            evidence=_tail(s.bench_runs[0].stderr_tail) if s.bench_runs else (),
        )
    return Verdict(status=Status.OK, reason=f"NumPy {s.numpy_version} imports and GEMM is numerically right")


def _gemm_line(g: GemmResult) -> str:
    return (
        f"{g.dtype} n={g.n} threads={g.threads}: {g.gflops_median:.2f} GFLOP/s, "
        f"max relative error {g.max_rel_error:.2e} (tolerance {g.tolerance:.2e})"
        + (f", FP warnings: {', '.join(g.fp_warnings)}" if g.fp_warnings else "")
    )


def _crash_evidence(stderr: str) -> tuple[str, ...]:
    """faulthandler prints the most recent call first, so after a crash the head is what matters."""
    lines = stderr.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Fatal Python error")), None)
    if start is None:
        return _tail(stderr, 6)
    return tuple(line for line in lines[start : start + 8] if line.strip())


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
