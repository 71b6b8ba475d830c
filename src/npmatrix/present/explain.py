"""Why does NumPy work on one machine and not on another? Compare two probe files or results cells.

Each side becomes a `Subject`: the facts that decide whether NumPy works (architecture, wheel tag, how it
was installed, BLAS, versions, CPU). `differences` ranks what differs between two subjects, most likely
cause first; `verdict` says it in one paragraph. Everything here is pure except `load_subject`, which reads
the file a command-line argument names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from npmatrix import fileio
from npmatrix.config.platforms import presets
from npmatrix.errors import ConfigError
from npmatrix.judge import advice
from npmatrix.judge.facts import summarize
from npmatrix.present import labels
from npmatrix.present.owntests import cell_tests
from npmatrix.records import probe_file, results
from npmatrix.records.probe_file import ProbeFile
from npmatrix.records.results import CellResult
from npmatrix.text import one_line, strip_controls
from npmatrix.verdict import Status, Verdict


@dataclass(frozen=True, kw_only=True)
class Subject:
    """One side of a comparison. `probed` is False for a cell whose image did not build: then only its
    inputs (platform, NumPy pin, install method) and verdict are known, and every probe fact is None."""

    label: str
    source: str
    status: Status
    reason: str
    fix: str | None = None
    evidence: tuple[str, ...] = ()
    probed: bool = False
    numpy_imports: bool = False  # facts NumPy reports about itself (CPU baseline, features) need it
    platform: str | None = None  # the Docker platform of a cell; None for a machine probed directly
    placement: str | None = None  # where a cell ran, as every view says it (labels.placement); None: a machine
    machine: str | None = None  # platform.machine(): x86_64, aarch64, armv7l
    python_version: str | None = None
    python_executable: str | None = None
    libc: str | None = None
    pip_version: str | None = None
    pip_top_tag: str | None = None
    numpy_version: str | None = None
    numpy_requested: str | None = None  # the pin a cell asked for, e.g. "==2.3.5"
    install_source: str | None = None  # wheel, debian, other, unknown; "pip"/"apt" when only inputs are known
    wheel_tag: str | None = None
    blas: str | None = None
    openblas_core: str | None = None  # the kernel OpenBLAS picked for the CPU it saw
    missing_libraries: tuple[str, ...] = ()
    cpu_model: str | None = None
    cpu_baseline: tuple[str, ...] = ()
    cpu_features: tuple[str, ...] = ()  # what NumPy found at run time (__cpu_features__)
    failing_imports: tuple[str, ...] = ()  # extra modules that did not import (often an ABI mismatch)
    gflops: float | None = None  # float64 GEMM, all threads, the largest size measured
    gflops_f32: float | None = None
    origin: str | None = None  # where NumPy came from, in words (summary.Origin.describe)
    origin_kind: str | None = None  # pypi-wheel, local-wheel, debian, conda, editable, url, source, unknown
    stale: bool = False  # the NumPy that runs is not the one installed
    advisories: tuple[str, ...] = ()  # works, but slow: "message. Fix: fix"
    limits: tuple[str, ...] = ()  # what emulation cannot show about the Pi a cell models (labels.emulation_limits)
    not_asked: tuple[str, ...] = ()  # what a real Pi asks that its run did not: its answer is incomplete
    tests: str | None = None  # a cell's own tests in one line (present/owntests); None: the cell has none
    tests_command: str | None = None
    tests_passed: bool = False
    tests_failed: tuple[str, ...] = ()  # the failing tests by name, as results.json keeps them
    tests_tail: str = ""  # the last lines the test command printed

    @property
    def works(self) -> bool:
        return self.status.works


# ---------------------------------------------------------------------------------------------------------
# Building subjects from documents


def subject_from_probe(
    facts: dict[str, Any] | None, verdict: Verdict, *, label: str, source: str, platform: str | None = None
) -> Subject:
    """A subject from the probe's facts (None: the probe produced none) and the verdict on them."""
    base = Subject(
        label=label,
        source=source,
        status=verdict.status,
        reason=verdict.reason,
        fix=verdict.fix,
        evidence=tuple(verdict.evidence),
        probed=facts is not None,
        platform=platform,
    )
    return _with_probe_facts(base, facts) if facts is not None else base


def _with_probe_facts(subject: Subject, facts: dict[str, Any]) -> Subject:
    s = summarize(facts)
    numpy = facts.get("numpy") or {}
    return dataclasses.replace(
        subject,
        machine=s.machine,
        numpy_imports=s.import_ok,
        python_version=s.python_version,
        python_executable=(facts.get("python") or {}).get("executable"),
        libc=s.libc,
        pip_version=s.pip_version,
        pip_top_tag=s.pip_top_tag,
        numpy_version=s.numpy_version,
        install_source=s.install_source,
        wheel_tag=s.wheel_tag,
        blas=s.blas,
        openblas_core=s.openblas_core,
        missing_libraries=s.missing_libraries,
        cpu_model=s.cpu_model,
        cpu_baseline=s.cpu_baseline,
        cpu_features=tuple(numpy.get("cpu_features_found") or ()),
        failing_imports=tuple(str(m.get("module")) for m in s.imports if not m.get("ok")),
        gflops=s.best_gflops("float64"),
        gflops_f32=s.best_gflops("float32"),
        origin=s.origin.describe() if s.origin else None,
        origin_kind=s.origin.kind if s.origin else None,
        stale=bool(s.origin and s.origin.stale),
        advisories=tuple(f"{a.message}. Fix: {a.fix}" for a in advice.for_cell(s)) if subject.status.works else (),
    )


def subject_from_probe_file(kept: ProbeFile, *, label: str, source: str) -> Subject:
    """A subject from a probe file, or from the bare output of probe.py read as one."""
    return subject_from_probe(kept.facts, kept.verdict, label=label, source=source)


def subject_from_result(result: CellResult, *, label: str | None = None, source: str = "") -> Subject:
    """A subject from one cell of results.json; a cell whose build failed keeps only its inputs."""
    subject = subject_from_probe(
        result.facts, result.verdict, label=label or result.name, source=source, platform=result.placement.oci
    )
    # Under qemu-user /proc/cpuinfo describes the host's CPU, not the one QEMU emulates.
    emulated_cpu = labels.emulated_cpu(result.placement)
    subject = _with_tests(subject, result)
    return dataclasses.replace(
        subject,
        placement=labels.placement(result),
        limits=labels.emulation_limits(result.cell),
        not_asked=labels.not_asked_lines(result),
        cpu_model=emulated_cpu or subject.cpu_model,
        numpy_requested=result.cell.numpy,
        machine=subject.machine or _preset_machine(result.cell.platform),
        install_source=subject.install_source if subject.probed else f"{result.cell.install} (not installed)",
    )


def _with_tests(subject: Subject, result: CellResult) -> Subject:
    tests = cell_tests(result)
    if tests is None:
        return subject
    return dataclasses.replace(
        subject,
        tests=tests.summary,
        tests_command=tests.command,
        tests_passed=tests.passed,
        tests_failed=tests.failed,
        tests_tail=tests.tail,
    )


def _preset_machine(platform_name: str | None) -> str | None:
    preset = presets().platforms.get(platform_name or "")
    return preset.machine if preset else None


# ---------------------------------------------------------------------------------------------------------
# Reading what the command line names


def load_subject(spec: str) -> Subject:
    """`probe.json`, `results.json:CELL`, or `results.json` when it holds a single cell."""
    path, cell = _split_spec(spec)
    document = fileio.read_json(path)
    if results.is_results_document(document):
        result = results.from_json(document, where=str(path)).cell(cell)
        return subject_from_result(result, source=f"{path}:{result.name}")
    if probe_file.is_probe_document(document):
        if cell is not None:
            raise ConfigError(f"a probe file has no cells, so ':{cell}' means nothing", where=str(path))
        kept = probe_file.from_json(document, where=str(path))
        return subject_from_probe_file(kept, label=path.stem, source=str(path))
    raise ConfigError(
        "neither a probe file (from `npmatrix probe --out`) nor a results file (from `npmatrix run`)", where=str(path)
    )


def _split_spec(spec: str) -> tuple[Path, str | None]:
    if fileio.is_file(Path(spec)):
        return Path(spec), None
    path, sep, cell = spec.rpartition(":")
    if sep and path and fileio.is_file(Path(path)):
        return Path(path), cell or None
    missing = path if sep and path else spec
    raise ConfigError(
        "no such file; give a probe file (`npmatrix probe --out FILE`) or RESULTS.json:CELL", where=missing
    )


# ---------------------------------------------------------------------------------------------------------
# What differs, and how much it matters


@dataclass(frozen=True, kw_only=True)
class Difference:
    key: str
    a_value: str
    b_value: str
    weight: int
    why: str


def _same(a: object, b: object) -> bool:
    return a == b


def _same_speed(a: object, b: object) -> bool:
    # Benchmarks wobble by tens of percent between runs; only a factor of 1.5 or more is a difference.
    # A side that ran no benchmark is not slower, only unmeasured.
    if not isinstance(a, float) or not isinstance(b, float):
        return True
    return max(a, b) <= 1.5 * min(a, b)


@dataclass(frozen=True)
class Aspect:
    key: str
    weight: int
    get: Callable[[Subject], object]
    why: str
    from_probe: bool = True  # unknown for a cell that was never probed
    needs_numpy: bool = False  # unknown where NumPy does not import
    same: Callable[[object, object], bool] = _same
    absent: str = "none"  # how a known-but-empty value reads


# Ordered by how often a difference here decides whether NumPy works at all. The weights only rank.
ASPECTS: tuple[Aspect, ...] = (
    Aspect(
        "architecture",
        100,
        lambda s: s.machine,
        "NumPy binaries are built per architecture: PyPI has wheels for x86_64 and aarch64, none for 32-bit ARM",
        from_probe=False,
    ),
    Aspect("wheel tag", 90, lambda s: s.wheel_tag, "the platform, Python and glibc the installed NumPy was built for"),
    Aspect("pip's best tag", 85, lambda s: s.pip_top_tag, "pip installs only wheels whose tag it accepts"),
    Aspect(
        "installed from",
        80,
        lambda s: s.install_source,
        "a PyPI wheel bundles its OpenBLAS; Debian's python3-numpy uses the system BLAS; a source build needs "
        "compilers",
        from_probe=False,
    ),
    Aspect(
        "NumPy came from",
        78,
        lambda s: s.origin_kind,
        "a manylinux wheel is PyPI's build with its own OpenBLAS; a linux_<arch> wheel was built on a machine "
        "(piwheels) and links the system's libraries; Debian's package follows Debian's BLAS",
    ),
    Aspect(
        "missing libraries",
        75,
        lambda s: s.missing_libraries,
        "NumPy's extensions link to these shared libraries; without them `import numpy` fails",
    ),
    Aspect("BLAS", 70, lambda s: s.blas, "BLAS does the matrix products: it decides speed, and on odd CPUs results"),
    Aspect(
        "BLAS kernel",
        68,
        lambda s: s.openblas_core,
        "the kernel OpenBLAS picked for the CPU it saw; one chosen for the wrong CPU computes fast and wrong",
        needs_numpy=True,
    ),
    Aspect(
        "NumPy",
        60,
        lambda s: s.numpy_version,
        "releases drop platforms and raise CPU baselines; extensions are built for one major version",
    ),
    Aspect("NumPy requested", 58, lambda s: s.numpy_requested, "which release pip was asked for", from_probe=False),
    Aspect("Python", 55, lambda s: s.python_version, "wheels exist per Python minor version (cp311, cp312, ...)"),
    Aspect("libc", 50, lambda s: s.libc, "a manylinux wheel needs at least the glibc its tag names"),
    Aspect("pip", 45, lambda s: s.pip_version, "an old pip does not know newer wheel tags and builds from source"),
    Aspect(
        "CPU baseline",
        35,
        lambda s: s.cpu_baseline,
        "NumPy refuses to import on a CPU without its baseline features",
        needs_numpy=True,
    ),
    Aspect(
        "CPU features",
        30,
        lambda s: s.cpu_features,
        "the SIMD features NumPy found and can dispatch to: speed, and which kernels run",
        needs_numpy=True,
    ),
    Aspect("CPU", 25, lambda s: s.cpu_model, "another CPU, or QEMU emulating one", absent="unknown"),
    Aspect(
        "failing imports",
        20,
        lambda s: s.failing_imports,
        "extensions built against another NumPy major version fail to import (ABI)",
    ),
    Aspect(
        "GFLOP/s f64",
        10,
        lambda s: s.gflops,
        "speed only; under QEMU it measures the emulator, not the CPU",
        same=_same_speed,
        needs_numpy=True,
    ),
)

# For a side that fails with this status, the aspects that can cause it, most likely first: they rank above
# all others, in this order.
CAUSES: dict[Status, tuple[str, ...]] = {
    Status.NO_WHEEL: ("architecture", "Python", "pip's best tag", "pip", "libc", "NumPy requested"),
    Status.BUILD_FAILED: ("architecture", "installed from", "Python"),
    Status.MISSING_SHARED_LIBRARY: ("missing libraries", "installed from", "BLAS"),
    Status.ABI_MISMATCH: ("failing imports", "NumPy"),
    Status.CPU_UNSUPPORTED: ("CPU baseline", "CPU features", "CPU", "NumPy"),
    Status.WRONG_RESULT: ("BLAS kernel", "BLAS", "CPU features", "CPU"),
    Status.CRASHED: ("BLAS", "BLAS kernel", "CPU", "CPU features", "NumPy"),
    Status.TESTS_FAILED: ("CPU", "CPU features", "architecture", "NumPy"),
    Status.TIMEOUT: ("CPU", "architecture"),
    Status.IMPORT_FAILED: ("installed from", "NumPy", "Python"),
}
CAUSE_BOOST = 100  # above every aspect weight, so any likely cause outranks every other difference


def _cause_boost(key: str, failing: list[Subject]) -> int:
    boosts = [0]
    for s in failing:
        causes = CAUSES.get(s.status, ())
        if key in causes:
            boosts.append(CAUSE_BOOST * (len(causes) - causes.index(key)))
    return max(boosts)


def differences(a: Subject, b: Subject) -> list[Difference]:
    """What differs between a and b, most likely cause of a works/fails split first; equal or unknown omitted."""
    failing = [s for s in (a, b) if not s.works]
    found = []
    for aspect in ASPECTS:
        if (aspect.from_probe and not (a.probed and b.probed)) or (
            aspect.needs_numpy and not (a.numpy_imports and b.numpy_imports)
        ):
            continue
        va, vb = aspect.get(a), aspect.get(b)
        if aspect.same(va, vb) or (not aspect.from_probe and (va is None or vb is None)):
            continue
        weight = aspect.weight + _cause_boost(aspect.key, failing)
        shown_a, shown_b = _show_pair(va, vb, aspect.absent)
        found.append(Difference(key=aspect.key, a_value=shown_a, b_value=shown_b, weight=weight, why=aspect.why))
    return sorted(found, key=lambda d: -d.weight)


def _show_pair(a: object, b: object, absent: str) -> tuple[str, str]:
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) + len(b) > 8:
        # Long feature lists: show only what one side has and the other lacks.
        only_a, only_b = [x for x in a if x not in b], [x for x in b if x not in a]
        return _only(only_a, absent), _only(only_b, absent)
    return _show(a, absent), _show(b, absent)


def _only(items: list[object], absent: str, *, limit: int = 10) -> str:
    if not items:
        return "(nothing extra)"
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return f"only here: {_show(tuple(items[:limit]), absent)}{more}"


def _show(value: object, absent: str) -> str:
    if value is None or value == ():
        return absent
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


# ---------------------------------------------------------------------------------------------------------
# Saying it


def verdict(a: Subject, b: Subject, diffs: list[Difference] | None = None) -> str:
    """One paragraph: which side works, why the other does not, and what to do."""
    diffs = differences(a, b) if diffs is None else diffs
    if a.works and b.works:
        return _both_work(a, b, diffs)
    if a.works != b.works:
        good, bad = (a, b) if a.works else (b, a)
        cause = f" Likely cause: {_describe(diffs[0], a, b)}." if diffs else " No recorded fact differs."
        return (
            f"{good.label} works and {bad.label} does not ({bad.status}): {_sentence(bad.reason)}{cause}{_fix(bad)}"
            + _stale(bad)
        )
    same = " Both fail the same way." if a.status is b.status and a.reason == b.reason else ""
    each = " ".join(f"{s.label} ({s.status}): {_sentence(s.reason)}{_fix(s)}" for s in (a, b))
    between = f" The biggest difference: {_describe(diffs[0], a, b)}." if diffs else ""
    return f"Neither works.{same} {each}{between}"


def _both_work(a: Subject, b: Subject, diffs: list[Difference]) -> str:
    text = f"Both {a.label} and {b.label} work."
    if a.numpy_version and b.numpy_version and a.numpy_version != b.numpy_version:
        # "It works on both" hides the surprise a user meets first: the same pins gave another NumPy.
        text = (
            f"Both {a.label} and {b.label} work, but not with the same NumPy: {a.label} has {a.numpy_version}"
            f"{_how(a)}, {b.label} has {b.numpy_version}{_how(b)}."
        )
    setup = [d for d in diffs if d.key != "GFLOP/s f64"]
    if setup:
        text += f" The biggest setup difference: {_describe(setup[0], a, b)}."
    if a.gflops and b.gflops:
        (fast, fast_gflops), (slow, slow_gflops) = sorted([(a, a.gflops), (b, b.gflops)], key=lambda p: -p[1])
        text += (
            f" float64 GEMM: {fast.label} {fast_gflops:.3g} GFLOP/s, {slow.label} {slow_gflops:.3g} "
            f"({fast_gflops / slow_gflops:.3g}x)."
        )
        if "QEMU" in f"{a.cpu_model} {b.cpu_model}":
            text += " Emulated speeds measure QEMU, not the CPU."
    return text + _advice(a) + _advice(b) + _stale(a) + _stale(b)


def _advice(s: Subject) -> str:
    return "".join(f" {s.label} works, but slowly: {_sentence(a)}" for a in s.advisories)


def _stale(s: Subject) -> str:
    return (
        f" Note: {s.label}'s NumPy is not the one its metadata describes ({s.origin}): reinstall it." if s.stale else ""
    )


def _how(s: Subject) -> str:
    return f" ({s.install_source})" if s.install_source else ""


def _describe(d: Difference, a: Subject, b: Subject) -> str:
    return f"{d.key} differs ({a.label}: {d.a_value}; {b.label}: {d.b_value}) — {d.why}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _fix(s: Subject) -> str:
    return f" Fix: {_sentence(s.fix)}" if s.fix else " No fix known: read its evidence."


# ---------------------------------------------------------------------------------------------------------
# Rendering

TESTS_TAIL_LINES = 20  # of a failing test command's output; the HTML report shows all that results.json keeps


def to_json(a: Subject, b: Subject) -> dict[str, Any]:
    diffs = differences(a, b)
    return {
        "a": _subject_json(a),
        "b": _subject_json(b),
        "differences": [dataclasses.asdict(d) for d in diffs],
        "verdict": verdict(a, b, diffs),
    }


def _subject_json(s: Subject) -> dict[str, Any]:
    record = dataclasses.asdict(s)
    record["status"] = s.status.value
    return record


def render_text(a: Subject, b: Subject) -> str:
    diffs = differences(a, b)
    header = f"{_heading(a)}\n{_heading(b)}\n"
    if diffs:
        # Made printable before tabulate: it measures (and closes) ANSI sequences it finds in cells.
        rows = [(d.key, one_line(d.a_value), one_line(d.b_value), d.why) for d in diffs]
        table = tabulate(
            rows,
            headers=("", one_line(a.label), one_line(b.label), "why it matters"),
            tablefmt="simple",
            disable_numparse=True,
            maxcolwidths=[None, 34, 34, 60],
        )
    else:
        table = "no recorded fact differs"
    # Before the verdict, which stays the last line: what the table cannot show, for a cell that models a Pi.
    gaps = "".join(f"\n{s.label}: incomplete: {_sentence(line)}" for s in (a, b) for line in s.not_asked)
    limits = "".join(f"\n{s.label}: {line}" for s in (a, b) for line in s.limits)
    tests = "".join(_tests_text(s) for s in (a, b))
    return f"{header}\n{table}{gaps}{limits}{tests}\n\n{verdict(a, b, diffs)}"


def _tests_text(s: Subject) -> str:
    """A cell's own tests: how they ended, the failing tests by name and, unless they passed, the last lines
    they printed. Each line made printable on its own: the names and the tail come from the results file."""
    if s.tests is None:
        return ""
    lines = [f"{s.label}: {s.tests} ({s.tests_command})"]
    lines += [f"  failed test: {name}" for name in s.tests_failed]
    tail = s.tests_tail.splitlines()[-TESTS_TAIL_LINES:] if not s.tests_passed else []
    if tail:
        lines.append(f"  output, last {len(tail)} lines:")
        lines += [f"    {line}" for line in tail]
    # Colour codes removed, as the reports do; whatever else is unprintable is shown escaped.
    return "\n\n" + "\n".join(one_line(strip_controls(line)) for line in lines)


def _heading(s: Subject) -> str:
    """ "pi64: ok on arm64 (qemu cortex-a72) (results.json:pi64)"; a probed machine has no placement."""
    where = f" on {s.placement}" if s.placement else ""
    return f"{s.label}: {s.status}{where} ({s.source})"


def host_summary(s: Subject) -> str:
    """The short human summary `npmatrix probe` prints."""
    numpy = s.numpy_version or "not importable"
    how = s.install_source or "not found"
    if s.wheel_tag:
        how += f" {s.wheel_tag}"
    rows = [
        ("machine", s.machine or "unknown"),
        ("Python", f"{s.python_version or '?'} ({s.python_executable or '?'})"),
        ("libc", s.libc or "unknown"),
        ("pip", f"{s.pip_version or 'none'}, best tag {s.pip_top_tag or '-'}"),
        ("NumPy", f"{numpy}, installed as {how}"),
        ("came from", s.origin or "unknown"),
        ("BLAS", s.blas or "none found"),
        ("missing libraries", ", ".join(s.missing_libraries) or "none"),
        ("CPU", f"{s.cpu_model or 'unknown'}; NumPy baseline {' '.join(s.cpu_baseline) or '-'}"),
    ]
    if s.gflops is not None or s.gflops_f32 is not None:
        rows.append(("GEMM GFLOP/s", f"float64 {_show(s.gflops, '-')}, float32 {_show(s.gflops_f32, '-')}"))
    rows.append(("verdict", f"{s.status}: {s.reason}"))
    if s.fix:
        rows.append(("fix", s.fix))
    rows += [("slow", a) for a in s.advisories]
    return tabulate([(k, one_line(v)) for k, v in rows], tablefmt="plain", disable_numparse=True)
