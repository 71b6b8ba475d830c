"""Verdicts: a pure function from what a cell left behind (build log, probe facts) to status, reason, fix.

Rules are tried in order, most specific first; each one quotes the line it was read from as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from npmatrix.judge import buildlog
from npmatrix.judge.facts import GemmResult, ProbeSummary, summarize
from npmatrix.judge.outcomes import BuildOutcome, ProbeRun
from npmatrix.plan import raspios
from npmatrix.plan.cellplan import CellPlan
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
    if plan.placement.cpu_not_applied:
        context = f"natively on the engine's own CPU: cpu = {plan.cell.cpu!r} not applied (no QEMU on a native engine)"
    elif plan.cell.cpu_spec:
        cpu = plan.cell.cpu_spec
        context = f"as {cpu.description}" + (f"; {cpu.note}" if cpu.note else "")
    elif plan.placement.under_qemu:
        context = "as QEMU's default CPU 'max', which is no real Raspberry Pi: set cpu = \"pi4\" or another model"
    else:
        return verdict
    return replace(verdict, reason=f"{verdict.reason} ({context})")


def classify_build(plan: CellPlan, build: BuildOutcome) -> Verdict:
    if build.timed_out:
        return _build_timeout(plan, build)
    line = _first(
        build.output,
        r"No matching distribution found for numpy(?![\w.-])\S*",
        r"Could not find a version that satisfies the requirement numpy(?![\w.-])\S*.*",
    )
    if line:
        return _no_wheel(plan, build.output, _strip_step(line))
    return _build_failed(plan, build)


def _build_failed(plan: CellPlan, build: BuildOutcome) -> Verdict:
    """The build log's own key line (buildlog.key_line), not the first of pip's many lines that say "error"."""
    key = buildlog.key_line(build.output)
    source = buildlog.source_build(build.output)
    if key is None:
        line = _first(build.output, r"^(?:#\d+ [\d.]+ )?(?:ERROR|E): .*", r"error: .*") or _last_line(build.output)
        return Verdict(
            status=Status.BUILD_FAILED,
            reason=f"image build failed: {_strip_step(line)}",
            fix=f"read the build log: {build.log_path}",
            evidence=(line,),
        )
    if source is None:
        reason = f"image build failed: {key.cause}: {key.line}"
    else:
        reason = (
            f"pip fell back to building {source.label} from source (no wheel of it fits {_wheel_target(plan, build)}) "
            f"and the build failed: {key.cause}: {key.line}"
        )
    fix = f"{key.fix}; the whole build log: {build.log_path}" if build.log_path else key.fix
    return Verdict(status=Status.BUILD_FAILED, reason=reason, fix=fix, evidence=(key.quote,))


def _build_timeout(plan: CellPlan, build: BuildOutcome) -> Verdict:
    source = buildlog.source_build(build.output)
    if source is None:
        return Verdict(
            status=Status.TIMEOUT,
            reason=f"the image build took longer than {plan.cell.build_timeout} s",
            fix="raise build_timeout; under QEMU a source build of NumPy takes hours",
            evidence=_tail(build.output),
        )
    return Verdict(
        status=Status.TIMEOUT,
        reason=f"the image build was still running after {plan.cell.build_timeout} s: pip was building "
        f"{source.label} from source, a build that did not finish, because no wheel of it fits "
        f"{_wheel_target(plan, build)}; a NumPy source build takes minutes natively and hours under QEMU",
        fix="install a wheel instead of building one: pin a release with a wheel for this Python and platform "
        "(only_binary = true makes pip refuse the source build at once), use Debian's python3-numpy "
        '(install = "apt"), or on Raspberry Pi OS piwheels (extra_index_url = "https://www.piwheels.org/simple"); '
        "or raise build_timeout",
        evidence=_tail(build.output),
    )


def _wheel_target(plan: CellPlan, build: BuildOutcome) -> str:
    python_tag = _python_tag(build.output)
    return f"{python_tag or 'this Python'} on linux_{plan.platform.wheel_arch}"


# pip understands PEP 600 tags (manylinux_2_28_x86_64), the only ones recent NumPy wheels carry, since 20.3.
PEP600_PIP = (20, 3)

# What pip prints when it cannot reach or read an index: the versions list is then empty for another reason
# than the platform (pip's own words; the urllib3/requests ones it passes on).
_INDEX_TROUBLE = re.compile(
    r"Could not fetch URL [^\n]*|Retrying \(Retry\(total=[^\n]*|NewConnectionError[^\n]*|"
    r"CERTIFICATE_VERIFY_FAILED[^\n]*|Temporary failure in name resolution[^\n]*|"
    r"40[134] Client Error[^\n]*|ProxyError[^\n]*|Max retries exceeded[^\n]*"
)
_ARM32_FIX = 'use Debian\'s python3-numpy (install = "apt"), pin a NumPy that has a wheel for this platform'


def _no_wheel(plan: CellPlan, log: str, line: str) -> Verdict:
    """Why pip refused: read pip's own words (its age, Requires-Python, the versions it offered, yanked
    releases, an index it could not read) before falling back to "no wheel for this platform"."""
    spec = plan.cell.numpy or ""
    pip = _pip_version(log)
    python = _python_of(log)
    others = _offered_versions(log)
    requires = _requires_python(log)
    yanked = _yanked(log)
    trouble = _INDEX_TROUBLE.search(log)
    evidence = _no_wheel_evidence(log, line, pip=pip, yanked=yanked, trouble=trouble)

    def verdict(reason: str, fix: str) -> Verdict:
        return Verdict(status=Status.NO_WHEEL, reason=reason, fix=fix, evidence=evidence)

    if pip and pip < PEP600_PIP:
        return verdict(
            f"pip {'.'.join(map(str, pip))} is too old to know the manylinux_2_x wheel tags "
            f"(PEP 600, pip >= 20.3) that NumPy{spec} ships; the platform is not the problem",
            "upgrade pip first: python -m pip install --upgrade pip",
        )
    pinned = _pinned(spec)
    if pinned and pinned in requires:
        return _wrong_python(pinned, requires[pinned], python, others, verdict)
    if pinned and pinned in yanked:
        return verdict(
            f"NumPy {pinned} was yanked from the index and pip will not pick it for this requirement",
            f"pin a release that is not yanked (e.g. numpy=={others[-1]})"
            if others
            else "pin a release that is not yanked",
        )
    if others:
        return _no_wheel_for_python(spec, pinned, python, others, plan, verdict)
    if trouble:
        index = plan.cell.index_url or "PyPI"
        return verdict(
            f"pip could not read the package index ({index}): it saw no NumPy release at all, so the platform "
            "was never the question",
            "check index_url/extra_index_url, the network and the proxy's CA (pip's own message is in the evidence)",
        )
    tag = f"linux_{plan.platform.wheel_arch}"
    reason = f"PyPI has no NumPy{spec} wheel for {tag} ({plan.platform.oci}); pip would build from source"
    if plan.cell.platform in ("amd64", "arm64"):
        return verdict(
            f"the index offered no NumPy release at all for {f'Python {python}' if python else 'this Python'} on "
            f"linux_{plan.platform.wheel_arch}"
            f" ({plan.platform.oci}), not only no NumPy{spec}: the pin is not the problem",
            "use a Python that NumPy publishes wheels for, check index_url (a mirror may lack wheels), "
            "or upgrade pip so it knows newer wheel tags",
        )
    return verdict(*_no_arm32_wheel(plan, spec, reason))


def _no_arm32_wheel(plan: CellPlan, spec: str, reason: str) -> tuple[str, str]:
    """No wheel for 32-bit ARM: what was asked decides the words. A Raspberry Pi OS cell whose piwheels answered
    asked both indexes; one whose piwheels did not says so in its result (plan/raspios.py), and its fix is to ask
    from where piwheels answers: the Pi itself."""
    piwheels = raspios.piwheels_url(plan.cell)
    if piwheels is None:
        return reason, f'{_ARM32_FIX}, or on Raspberry Pi OS, whose pip also asks piwheels, say os = "raspios"'
    if any(n.source == raspios.PIWHEELS for n in plan.not_asked):
        return reason, (
            f"{_ARM32_FIX}, or ask piwheels from the Pi itself, where it answers "
            f'(pip download "numpy{spec}" --only-binary=:all: --no-deps): it could not be reached from here'
        )
    tag = f"linux_{plan.platform.wheel_arch}"
    return (
        f"neither PyPI nor piwheels ({piwheels}) has a NumPy{spec} wheel for {tag} ({plan.platform.oci}); pip "
        "would build from source",
        f"{_ARM32_FIX} (piwheels builds wheels for the Pythons of Raspberry Pi OS's current releases)",
    )


def _no_wheel_evidence(
    log: str, line: str, *, pip: tuple[int, ...] | None, yanked: list[str], trouble: re.Match[str] | None
) -> tuple[str, ...]:
    """pip's refusal, then what the log says about why: pip's age, the top wheel tag, releases skipped."""
    found = (
        line,
        f"pip {'.'.join(map(str, pip))}" if pip else None,
        f"top wheel tag: {_top_tag(log)}" if _top_tag(log) else None,
        _first(log, r"Ignored the following versions that require a different python version:.{0,160}"),
        f"yanked (pip skips them): {', '.join(yanked)}" if yanked else None,
        _strip_step(trouble.group(0)) if trouble else None,
    )
    return tuple(e for e in found if e)


def _wrong_python(
    pinned: str, requires: str, python: str | None, others: list[str], verdict: Callable[[str, str], Verdict]
) -> Verdict:
    """pip skipped the pinned release for its Requires-Python: say which way the Python is off."""
    too = _python_side(python, requires)
    newest = f" (e.g. numpy=={others[-1]}, the newest release this Python can take)" if others else ""
    if too == "old":
        return verdict(
            f"Python {python} is too old for NumPy {pinned} (Requires-Python {requires})",
            f"use a newer Python (one that satisfies {requires}), or pin an older NumPy{newest}",
        )
    if too == "new":
        return verdict(
            f"Python {python} is too new for NumPy {pinned} (Requires-Python {requires})",
            f"use an older Python (one that satisfies {requires}), or pin a newer NumPy{newest}",
        )
    return verdict(
        f"NumPy {pinned} requires Python {requires}, which this Python ({python or 'unknown'}) is not",
        f"use a Python that satisfies {requires}, or pin another NumPy{newest}",
    )


def _no_wheel_for_python(
    spec: str,
    pinned: str | None,
    python: str | None,
    others: list[str],
    plan: CellPlan,
    verdict: Callable[[str, str], Verdict],
) -> Verdict:
    """pip offered other releases, not the pinned one: the pin's wheels stop before this Python (too new)
    or start after it."""
    where = f"{_cp(python) or 'this Python'} on linux_{plan.platform.wheel_arch}"
    offered = f"releases that have one: {others[0]} ... {others[-1]}"
    if pinned and _version_key(pinned) < _version_key(others[0]):
        return verdict(
            f"Python {python or '?'} is too new for NumPy {pinned}: its wheels stop at an older CPython than "
            f"{_cp(python) or 'this one'} (no wheel for {where}); {offered}",
            f"pin a NumPy release with a wheel for {_cp(python) or 'this Python'} (e.g. numpy=={others[0]} or "
            f"newer), or use an older Python that NumPy {pinned} has wheels for",
        )
    lowest = pinned or _lowest(spec)
    if lowest and _version_key(lowest) > _version_key(others[-1]):
        return verdict(
            f"{f'Python {python}' if python else 'this Python'} is too old for NumPy {lowest}: no wheel for "
            f"{where}; {offered}",
            f"use a newer Python, or pin a NumPy release with a wheel for it (e.g. numpy=={others[-1]})",
        )
    return verdict(
        f"NumPy{spec} has no wheel for {where}; {offered}",
        f"pin a NumPy release with a wheel for {_cp(python) or 'this Python'} (e.g. numpy=={others[-1]}), "
        "or use a Python that the pinned release supports",
    )


def _lowest(spec: str) -> str | None:
    """The least version a '~=2.2.1' or '>=2.2' specifier admits."""
    found = re.fullmatch(r"\s*(?:~=|>=)\s*(\d[\w.]*)\s*", spec)
    return found.group(1) if found else None


def _pinned(spec: str) -> str | None:
    found = re.fullmatch(r"\s*(?:==)?\s*(\d[\w.]*)\s*", spec)
    return found.group(1) if found else None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version.split("rc")[0].split("b")[0])[:3])


def _requires_python(log: str) -> dict[str, str]:
    """{version: Requires-Python} from pip's "Ignored the following versions that require a different python
    version: 1.25.0 Requires-Python >=3.9; ..." (pip >= 22)."""
    found = re.search(r"Ignored the following versions that require a different python version: ([^\n]*)", log)
    if not found:
        return {}
    pairs = re.findall(r"(\S+) Requires-Python ([^;]+)", found.group(1))
    return {version: requirement.strip() for version, requirement in pairs}


def _yanked(log: str) -> list[str]:
    found = re.search(r"Ignored the following yanked versions: ([^\n]*)", log)
    return [v.strip() for v in found.group(1).split(",") if v.strip()] if found else []


def _python_side(python: str | None, requires: str) -> str | None:
    """'old' when the Python is below a >= bound of `requires`, 'new' when at or above a < bound."""
    if not python:
        return None
    have = _version_key(python)[:2]
    for op, bound in re.findall(r"(>=|>|<=|<|!=|==)\s*([\d.*]+)", requires):
        want = _version_key(bound.replace("*", "0"))[:2]
        if op in (">=", ">") and have < want:
            return "old"
        if (op == "<" and have >= want) or (op == "<=" and have > want):
            return "new"
    return None


def _python_of(log: str) -> str | None:
    """The Python pip runs under: 'pip 25.1.1 from ... (python 3.13)'."""
    found: list[str] = re.findall(r"\bpip \d[\w.]* from \S+ \(python (\d+\.\d+)\)", log)
    if found:
        return found[-1]
    # A wheel pip chose for another package names the CPython: "lxml-6.0.2-cp310-cp310-macosx_....whl".
    wheel = re.search(r"-cp(\d)(\d+)-cp\d+\w*-[\w.]+\.whl", log)
    if wheel and not _python_tag(log):
        return f"{wheel.group(1)}.{wheel.group(2)}"
    tag = _python_tag(log)
    digits = re.fullmatch(r"cp(\d)_?(\d+)", tag or "")
    return f"{digits.group(1)}.{digits.group(2)}" if digits else None


def _cp(python: str | None) -> str | None:
    return "cp" + python.replace(".", "") if python else None


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
            if module.get("signal") == "SIGILL":
                return classify_extension_sigill(s, module)
            return classify_extension(module, numpy_version=s.numpy_version)
    return classify_bench(s)


# The shared library a debugger or crash report says the fault is in: "... in _mi_options_init () from
# /usr/local/lib/python3.13/dist-packages/torch/lib/libc10.so" (gdb).
_FAULTING_LIBRARY = re.compile(r"\bfrom (?:\S*/)?([\w.+-]+\.so[\w.]*)")


def classify_extension_sigill(s: ProbeSummary, module: dict[str, object]) -> Verdict:
    """`import MODULE` died of SIGILL after NumPy imported: the OpenBLAS the module bundles (scipy's), judged
    as for NumPy's import, else the module's own code (torch 2.10.0's LSE atomics on a Pi 4), never NumPy's."""
    name = str(module.get("module"))
    stderr = str(module.get("stderr_tail") or "")
    evidence = _crash_evidence(stderr)
    if _OPENBLAS_FAULT.search(stderr):
        verdict = classify_sigill(replace(s, import_stderr=stderr, sigill=None), evidence)
        return replace(verdict, reason=f"`import {name}`: {verdict.reason}")
    library = _FAULTING_LIBRARY.search(stderr)
    where = f" (the fault is in {library.group(1)})" if library else ""
    return Verdict(
        status=Status.CPU_UNSUPPORTED,
        # No /proc/cpuinfo model name here: under qemu-user it is the host's; the cell's CPU model is appended.
        reason=f"`import {name}` died of an illegal instruction (SIGILL): {name} uses instructions this CPU lacks"
        f"{where}; {_numpy(s)} itself imports",
        # Another release either way: such an instruction comes and goes with a build (pytorch/pytorch#174344).
        fix=f"install a build of {name} for this CPU's baseline, or another release of {name} (an older one, or "
        "a newer one that fixed it)",
        evidence=evidence,
    )


def classify_import(s: ProbeSummary) -> Verdict:
    evidence = _crash_evidence(s.import_stderr)
    if s.missing_libraries:
        return _missing_library(s, evidence)
    if s.import_timed_out:
        return Verdict(
            status=Status.TIMEOUT,
            reason="`import numpy` did not finish",
            fix="try another CPU model",
            evidence=evidence,
        )
    if s.import_signal == "SIGILL" or "baseline optimizations" in s.import_stderr:
        return classify_sigill(s, evidence)
    if s.import_signal:
        return Verdict(status=Status.CRASHED, reason=f"`import numpy` died with {s.import_signal}", evidence=evidence)
    return Verdict(
        status=Status.IMPORT_FAILED, reason=f"`import numpy` failed: {_last_line(s.import_stderr)}", evidence=evidence
    )


_CANNOT_OPEN = "cannot open shared object file"


def _missing_library(s: ProbeSummary, evidence: tuple[str, ...]) -> Verdict:
    libs = s.missing_libraries
    fix = install_fix(libs)
    reason = f"NumPy needs {_and(libs)}, which {'is' if len(libs) == 1 else 'are'} not installed"
    if s.origin and s.origin.kind == "local-wheel":
        # Where it came from is the why: piwheels builds against Raspberry Pi OS's libraries, and pip
        # installs no Debian package.
        reason += (
            f" (NumPy is a {s.origin.wheel_tag or 'linux_<arch>'} wheel, built on a machine as piwheels builds "
            "them: it links the system's libraries, which pip does not install)"
        )
        fix += ", or install a manylinux wheel (which bundles its OpenBLAS) where the platform has one"
    # NumPy 2 re-raises the loader's error from its __init__ as "you should not try to import numpy from its
    # source directory", so the tail may not hold the line the library was read from: quote it first.
    named = next((line.strip() for line in s.import_stderr.splitlines() if _CANNOT_OPEN in line), None)
    if named and not any(_CANNOT_OPEN in line for line in evidence):
        evidence = (named, *evidence)
    return Verdict(status=Status.MISSING_SHARED_LIBRARY, reason=reason, fix=fix, evidence=evidence)


def install_fix(libraries: tuple[str, ...]) -> str:
    """Every missing library's package in one apt-get: the loader names only the first library it cannot
    find, so a fix for that one alone (libblas3 of a wheel that also links liblapack.so.3) only moves the
    failure to the next."""
    packages = dict.fromkeys(LIBRARY_PACKAGES[lib] for lib in libraries if lib in LIBRARY_PACKAGES)
    unknown = [lib for lib in libraries if lib not in LIBRARY_PACKAGES]
    fixes = [f"apt-get install {' '.join(packages)}"] if packages else []
    if unknown:
        fixes.append(f"install the package that ships {_and(unknown)}")
    return ", and ".join(fixes)


def _and(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return " and ".join(items) if len(items) < 3 else f"{', '.join(items[:-1])} and {items[-1]}"


# The library that faulted, as gdb, dmesg or a crash report names it (real reports paste these), and
# OpenBLAS's own dispatch/init functions.
_OPENBLAS_LIBRARY = re.compile(r"lib(?:scipy_)?openblas[\w.-]*\.so[\w.]*")
_OPENBLAS_FAULT = re.compile(
    r"lib(?:scipy_)?openblas[\w.-]*\.so[\w.]*|gotoblas_(?:dynamic_)?init|\binit_parameter\b|OpenBLAS[^\n]*Core: \S+"
)
# OpenBLAS kernels that exist only for cores with SVE or SME (the aarch64 ones that SIGILL on cores, VMs or
# emulators that lack them).
_SVE_CORES = re.compile(r"(?i)neoversev[12]|neoversen2|a64fx|armv8sve|armv9|sme")


def classify_sigill(s: ProbeSummary, evidence: tuple[str, ...]) -> Verdict:
    """An illegal instruction at import: NumPy's own build baseline, or the kernel OpenBLAS's runtime
    dispatch chose for this core. Different culprits, different fixes."""
    missing = re.search(r"doesn't support:\s*\(([^)]*)\)", s.import_stderr)
    if missing:
        return Verdict(
            status=Status.CPU_UNSUPPORTED,
            reason=f"{_numpy(s)} was built for a CPU baseline ({missing.group(1).strip()}) that this CPU lacks",
            fix="use an older NumPy (< 2.4 for x86-64-v1 CPUs) or a build for this CPU's baseline",
            evidence=evidence,
        )
    check = s.sigill
    library = _OPENBLAS_LIBRARY.search(s.import_stderr)
    fault = library or _OPENBLAS_FAULT.search(s.import_stderr)
    chosen = (check.chosen_core or check.library_core if check else None) or _verbose_core(s.import_stderr)
    alone_dies = bool(check and check.library and check.library_signal == "SIGILL")
    if (check and check.imports_with_safe_core) or fault or alone_dies:
        safe = (check.safe_core if check else None) or _safe_core(s.machine)
        if check and check.imports_with_safe_core:
            proof = f"with OPENBLAS_CORETYPE={safe} the import works"
        elif alone_dies and check:
            proof = f"loading {check.library} alone, without NumPy, dies of SIGILL too"
        else:
            proof = f"the fault is in {fault.group(0) if fault else 'OpenBLAS'}"
        picked = f"the kernel '{chosen}'" if chosen else "a kernel"
        sve = " (an SVE/SME kernel)" if chosen and _SVE_CORES.search(chosen) else ""
        return Verdict(
            status=Status.CPU_UNSUPPORTED,
            reason=f"OpenBLAS's runtime dispatch chose {picked}{sve} that this CPU ({s.cpu_model or 'unknown'}) "
            f"cannot run: {proof}; NumPy's own code is not the problem",
            fix=f"set OPENBLAS_CORETYPE={safe} (a kernel every core of this architecture runs) before starting "
            "Python, or install a NumPy whose OpenBLAS knows this core (another release, or the distribution's)",
            evidence=tuple(dict.fromkeys(((f"OpenBLAS chose core: {chosen}",) if chosen else ()) + evidence)),
        )
    tried = (
        f"; forcing OPENBLAS_CORETYPE={check.safe_core} did not help, so it is not OpenBLAS's kernel choice"
        if check and check.safe_core and check.imports_with_safe_core is False
        else ""
    )
    return Verdict(
        status=Status.CPU_UNSUPPORTED,
        reason=f"{_numpy(s)} uses instructions this CPU ({s.cpu_model or 'unknown'}) lacks{tried}",
        fix="install a NumPy built for this CPU's baseline (an older release or the distribution's); on a "
        "Raspberry Pi Zero/1 (ARMv6) use Raspberry Pi OS's own armhf packages, not Debian's (ARMv7) or armv7l wheels",
        evidence=evidence,
    )


def _verbose_core(stderr: str) -> str | None:
    found = re.findall(r"Core:\s*(\S+)", stderr)
    return found[-1] if found else None


def _safe_core(machine: str | None) -> str:
    return {"x86_64": "Prescott", "aarch64": "ARMV8"}.get(machine or "", "ARMV8")


def _numpy(s: ProbeSummary) -> str:
    """'NumPy 2.4.6', or 'NumPy' when the probe could not tell the version."""
    return f"NumPy {s.numpy_version}" if s.numpy_version else "NumPy"


# NumPy 2's own words for an extension built against NumPy 1.x.
_BUILT_FOR_1X = re.compile(r"compiled using NumPy 1\.x|_ARRAY_API not found")
# NumPy 1.x's words for an extension built against a newer C API than the running NumPy's:
# "module compiled against API version 0xe but this version of numpy is 0xd" (0xe = 14 > 13).
_API_VERSION = re.compile(
    r"compiled against API version (0x[0-9a-fA-F]+|\d+) but this version of numpy is (0x[0-9a-fA-F]+|\d+)"
)
# What follows either of the two: on its own it does not say which way.
_MULTIARRAY_FAILED = re.compile(r"numpy\.core\.multiarray failed to import")
# Cython's struct-size check: "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from
# C header, got 88 from PyObject". The header is what the extension was compiled with; the object is the running
# NumPy's. NumPy 2 shrank the dtype object (96 -> 88 bytes on 64-bit), so dtype 96/88 is 1.x-built under 2.x; any
# other header larger than the object means the extension was built against a newer NumPy than the running one.
_SIZE_CHANGED = re.compile(
    r"numpy\.(dtype|ufunc|ndarray) size changed(?:[^\n]*?Expected (\d+) from C header, got (\d+) from PyObject)?"
)
_ABI_LINE = re.compile("|".join(p.pattern for p in (_BUILT_FOR_1X, _API_VERSION, _MULTIARRAY_FAILED, _SIZE_CHANGED)))


def classify_extension(module: dict[str, object], *, numpy_version: str | None = None) -> Verdict:
    stderr = str(module.get("stderr_tail") or "")
    name = str(module.get("module"))
    direction = abi_direction(stderr, numpy_version)
    if direction is None:
        return Verdict(
            status=Status.IMPORT_FAILED,
            reason=f"`import {name}` failed: {_last_line(stderr)}",
            evidence=_tail(stderr, 6),
        )
    evidence = tuple(dict.fromkeys(line.strip() for line in stderr.splitlines() if _ABI_LINE.search(line)))
    evidence = tuple(dict.fromkeys(evidence[:3] + _tail(stderr, 2)))
    running = f"NumPy {numpy_version}" if numpy_version else "the installed NumPy"
    if direction == "built-for-1x":
        return Verdict(
            status=Status.ABI_MISMATCH,
            reason=f"{name} was compiled against NumPy 1.x and cannot run with {running}",
            fix=f'pin numpy<2 (e.g. numpy = "1.26.4") while {name} is this old, or upgrade {name} to a release '
            "built for NumPy 2",
            evidence=evidence,
        )
    return Verdict(
        status=Status.ABI_MISMATCH,
        reason=f"{name} was compiled against a newer NumPy than {running} (its C API is older than the one "
        f"{name} needs); NumPy is the one to move, not pinned lower",
        fix=f"upgrade NumPy (pip install --upgrade numpy, or the version {name} was built with), or install the "
        f"{name} build that matches this NumPy (e.g. Debian's python3-{name.split('.')[0]} next to Debian's "
        "python3-numpy, without a pip NumPy)",
        evidence=evidence,
    )


def abi_direction(stderr: str, numpy_version: str | None) -> str | None:
    """'built-for-1x' (an extension from before NumPy 2, running under 2.x), 'built-for-newer' (an extension
    built against a newer NumPy than the running one), or None when stderr shows no ABI message."""
    if _BUILT_FOR_1X.search(stderr):
        return "built-for-1x"
    api = _API_VERSION.search(stderr)
    if api:
        built, running = (int(v, 0) for v in api.groups())
        return "built-for-newer" if built > running else "built-for-1x"
    size = _SIZE_CHANGED.search(stderr)
    if size and size.group(2):
        kind, header, found = size.group(1), int(size.group(2)), int(size.group(3))
        if header > found:
            # dtype 96 -> 88 is NumPy 2 (or, before 1.15, an older 1.x): the running version decides; unknown,
            # it is NumPy 2, which is what every such report since 2024 is.
            if kind == "dtype" and (header, found) == (96, 88) and (not numpy_version or _major(numpy_version) >= 2):
                return "built-for-1x"
            return "built-for-newer"
        # A header smaller than the object is an older extension, which NumPy 1.x accepts with a warning.
        return "built-for-1x" if _major(numpy_version) >= 2 else None
    if size or _MULTIARRAY_FAILED.search(stderr):
        # No numbers: the running NumPy's major version says which way.
        return "built-for-1x" if _major(numpy_version) >= 2 else "built-for-newer"
    return None


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
        if run.signal == "SIGILL":
            # NumPy imported, so its baseline is met: the GEMM's illegal instruction is in the BLAS kernel.
            core = s.openblas_core or _verbose_core(run.stderr_tail)
            picked = f"kernel '{core}'" if core else "kernel its runtime dispatch chose"
            return Verdict(
                status=Status.CPU_UNSUPPORTED,
                reason=f"GEMM ({run.threads} threads) died with SIGILL although NumPy imports: the BLAS "
                f"{picked} uses instructions this CPU ({s.cpu_model or 'unknown'}) lacks",
                fix=f"set OPENBLAS_CORETYPE={_safe_core(s.machine)} before starting Python, or install a NumPy "
                "whose OpenBLAS knows this core",
                evidence=((f"OpenBLAS kernel: {core}",) if core else ()) + _tail(run.stderr_tail),
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
