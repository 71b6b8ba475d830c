"""Verdicts from what a cell left behind, table-driven over saved and hand-written outputs.

tests/data/probe-*.json are real probe reports (saved from runs on the host); the rest are small edits of
them and build logs in BuildKit's plain-progress form ("#<step> <seconds> <line>").
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from npmatrix.config import matrix
from npmatrix.judge.classify import classify
from npmatrix.judge.outcomes import BuildOutcome, ProbeRun
from npmatrix.plan.cellplan import CellPlan, plan_cell
from npmatrix.records.probe_file import parse_output
from npmatrix.verdict import Status

DATA = Path(__file__).resolve().parents[1] / "data"
OK_REPORT = json.loads((DATA / "probe-host-amd64-numpy-ok.json").read_text())
SEGV_REPORT = json.loads((DATA / "probe-host-numpy-segv.json").read_text())
LOG = Path("/results/logs/cell.build.log")


def _plan(platform: str = "amd64", **extra: Any) -> CellPlan:
    raw = {"name": "cell", "platform": platform, "numpy": "2.3.5", **extra}
    (cell,) = matrix.parse({"cell": [raw]}).cells
    return plan_cell(cell)


def _built(output: str = "", *, ok: bool = True, timed_out: bool = False) -> BuildOutcome:
    return BuildOutcome(
        tag="npmatrix-cell:cell-0123456789ab",
        ok=ok,
        image_id="sha256:feed" if ok else None,
        cached=False,
        exit_code=None if timed_out else (0 if ok else 1),
        timed_out=timed_out,
        duration_s=12.5,
        log_path=LOG,
        output=output,
    )


def _failed(output: str, *, timed_out: bool = False) -> BuildOutcome:
    return _built(output, ok=False, timed_out=timed_out)


def _ran(report: dict[str, Any]) -> ProbeRun:
    return parse_output(exit_code=0, stdout=json.dumps(report), stderr="probe: done\n", duration_s=3.2)


def _edited(edit: Callable[[dict[str, Any]], None], base: dict[str, Any] = OK_REPORT) -> ProbeRun:
    report = copy.deepcopy(base)
    edit(report)
    return _ran(report)


# --- build logs -------------------------------------------------------------------------------------------

NO_WHEEL_LOG = """\
#0 building with "default" instance using docker driver
#6 [3/4] RUN python3 -m venv /opt/venv
#6 DONE 9.8s
#7 [4/4] RUN --mount=type=secret,id=pipconf --mount=type=secret,id=pipcert     python3 -m pip --version
#7 2.104 pip 23.0.1 from /opt/venv/lib/python3.11/site-packages/pip (python 3.11)
#7 9.870 Compatible tags: 396
#7 9.871   cp311-cp311-manylinux_2_36_armv7l
#7 12.34 ERROR: Could not find a version that satisfies the requirement numpy==2.3.5 (from versions: none)
#7 12.34 ERROR: No matching distribution found for numpy==2.3.5
#7 ERROR: process "/bin/sh -c python3 -m pip install --only-binary=:all: \\"numpy==2.3.5\\"" did not complete \
successfully: exit code: 1
------
 > [4/4] RUN --mount=type=secret,id=pipconf --mount=type=secret,id=pipcert     python3 -m pip --version:
12.34 ERROR: Could not find a version that satisfies the requirement numpy==2.3.5 (from versions: none)
12.34 ERROR: No matching distribution found for numpy==2.3.5
------
ERROR: failed to solve: process "/bin/sh -c python3 -m pip install" did not complete successfully: exit code: 1
"""

APT_LOG = """\
#5 [2/3] RUN apt-get update  && apt-get install -y --no-install-recommends python3-numpy libopenblas00  && rm -rf
#5 0.412 Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]
#5 5.873 Reading package lists...
#5 6.102 Building dependency tree...
#5 6.120 E: Unable to locate package libopenblas00
#5 ERROR: process "/bin/sh -c apt-get update" did not complete successfully: exit code: 100
------
 > [2/3] RUN apt-get update  && apt-get install -y --no-install-recommends python3-numpy libopenblas00:
6.120 E: Unable to locate package libopenblas00
------
ERROR: failed to solve: process "/bin/sh -c apt-get update" did not complete successfully: exit code: 100
"""

OTHER_PACKAGE_LOG = """\
#7 [4/4] RUN --mount=type=secret,id=pipconf --mount=type=secret,id=pipcert     python3 -m pip --version
#7 20.51 Collecting numpy==1.26.4
#7 21.02   Downloading numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl (14.2 MB)
#7 25.77 ERROR: Could not find a version that satisfies the requirement scipy==9.9.9 (from versions: 1.11.4)
#7 25.77 ERROR: No matching distribution found for scipy==9.9.9
#7 ERROR: process "/bin/sh -c python3 -m pip install" did not complete successfully: exit code: 1
"""

COMPILE_LOG = """\
#7 [4/4] RUN --mount=type=secret,id=pipconf --mount=type=secret,id=pipcert     python3 -m pip install
#7 301.2       ../numpy/_core/src/umath/loops.c:42:10: fatal error: Python.h: No such file or directory
#7 301.2   error: subprocess-exited-with-error
"""

NO_ERROR_LINE_LOG = """\
#3 [internal] load metadata for docker.io/library/npmatrix-base:bookworm-amd64-65b69fad5283
#3 DONE 0.1s
failed to solve: npmatrix-base:bookworm-amd64-65b69fad5283: not found
"""


BUILD_CASES = [
    pytest.param(
        _plan("arm/v7", cpu="pi4", expect="no-wheel"),
        _failed(NO_WHEEL_LOG),
        Status.NO_WHEEL,
        ["==2.3.5", "linux_armv7l", "linux/arm/v7", "build from source"],
        ["python3-numpy", "piwheels"],
        "No matching distribution found for numpy==2.3.5",
        id="no-wheel-armv7",
    ),
    pytest.param(
        _plan("amd64"),
        _failed(NO_WHEEL_LOG.replace("armv7l", "x86_64")),
        Status.NO_WHEEL,
        ["linux_x86_64", "linux/amd64", "no NumPy release at all for Python 3.11"],
        ["use a Python that NumPy publishes wheels for", "check index_url"],
        "No matching distribution found for numpy==2.3.5",
        id="no-wheel-amd64",
    ),
    pytest.param(
        _plan("arm/v7"),
        _failed(APT_LOG),
        Status.BUILD_FAILED,
        ["image build failed: E: Unable to locate package libopenblas00"],
        [str(LOG)],
        "#5 6.120 E: Unable to locate package libopenblas00",
        id="apt-error",
    ),
    pytest.param(
        _plan("arm64", numpy="1.26.4", packages=["scipy==9.9.9"]),
        _failed(OTHER_PACKAGE_LOG),
        Status.BUILD_FAILED,
        [
            "image build failed: pip found no release of a requirement that fits this Python and platform: "
            "ERROR: Could not find a version that satisfies the requirement scipy==9.9.9 (from versions: 1.11.4)"
        ],
        ["find_links", "extra_index_url", str(LOG)],
        "#7 25.77 ERROR: Could not find a version that satisfies the requirement scipy==9.9.9 (from versions: 1.11.4)",
        id="another-package-has-no-wheel",
    ),
    pytest.param(
        _plan("amd64", only_binary=False),
        _failed(COMPILE_LOG),
        Status.BUILD_FAILED,
        # the compiler's line, not pip's summary after it (buildlog.key_line)
        ["image build failed: Python's C headers are missing (python3-dev): fatal error: Python.h: No such file"],
        ["apt-get install python3-dev", str(LOG)],
        "#7 301.2       ../numpy/_core/src/umath/loops.c:42:10: fatal error: Python.h: No such file or directory",
        id="source-build-error",
    ),
    pytest.param(
        _plan("amd64"),
        _failed(NO_ERROR_LINE_LOG),
        Status.BUILD_FAILED,
        ["image build failed: failed to solve: npmatrix-base:bookworm-amd64-65b69fad5283: not found"],
        [str(LOG)],
        "failed to solve: npmatrix-base:bookworm-amd64-65b69fad5283: not found",
        id="no-error-line-quotes-last-line",
    ),
    pytest.param(
        _plan("arm/v7", build_timeout=1800),
        _failed(NO_WHEEL_LOG.split("#7 12.34")[0], timed_out=True),
        Status.TIMEOUT,
        ["longer than 1800 s"],
        ["build_timeout"],
        "#7 9.871   cp311-cp311-manylinux_2_36_armv7l",
        id="build-timed-out",
    ),
    pytest.param(
        _plan("arm/v7"),
        _failed(NO_WHEEL_LOG, timed_out=True),
        Status.TIMEOUT,
        ["image build took longer"],
        [],
        None,
        id="timeout-wins-over-log-content",
    ),
]


@pytest.mark.parametrize(("plan", "build", "status", "in_reason", "in_fix", "evidence"), BUILD_CASES)
def test_build_verdicts(
    plan: CellPlan, build: BuildOutcome, status: Status, in_reason: list[str], in_fix: list[str], evidence: str | None
) -> None:
    verdict = classify(plan, build, None)
    assert verdict.status is status, verdict
    for fragment in in_reason:
        assert fragment in verdict.reason, (fragment, verdict.reason)
    for fragment in in_fix:
        assert fragment in (verdict.fix or ""), (fragment, verdict.fix)
    if evidence is not None:
        assert evidence in verdict.evidence, verdict.evidence
    assert "\n" not in verdict.reason


def test_a_package_named_numpy_something_is_not_numpy() -> None:
    log = NO_WHEEL_LOG.replace("requirement numpy==2.3.5", "requirement numpy-financial==9.9").replace(
        "found for numpy==2.3.5", "found for numpy-financial==9.9"
    )
    verdict = classify(_plan("amd64", packages=["numpy-financial==9.9"]), _failed(log), None)
    assert verdict.status is Status.BUILD_FAILED


# --- probe reports ----------------------------------------------------------------------------------------


def _missing_openblas(r: dict[str, Any]) -> None:
    r["numpy"].update(
        import_ok=False,
        returncode=1,
        signal=None,
        stderr_tail=(
            "Traceback (most recent call last):\n"
            '  File "/usr/lib/python3/dist-packages/numpy/core/__init__.py", line 23, in <module>\n'
            "    from . import multiarray\n"
            "ImportError: libopenblas.so.0: cannot open shared object file: No such file or directory"
        ),
    )
    r["bench"] = {"ran": False, "skipped_reason": "numpy does not import", "runs": []}


def _missing_from_ldd(r: dict[str, Any]) -> None:
    r["numpy"].update(
        import_ok=False,
        returncode=1,
        signal=None,
        stderr_tail="ImportError: numpy._core._multiarray_umath failed to import",
    )
    r["numpy"]["ldd"]["not_found"] = ["libgfortran.so.5"]


def _missing_unknown_library(r: dict[str, Any]) -> None:
    r["numpy"].update(
        import_ok=False,
        returncode=1,
        signal=None,
        stderr_tail="ImportError: libfoo.so.7: cannot open shared object file: No such file or directory",
    )


def _sigill(r: dict[str, Any]) -> None:
    r["numpy"].update(
        import_ok=False,
        returncode=-4,
        signal="SIGILL",
        stderr_tail="Fatal Python error: Illegal instruction\n\nCurrent thread 0x0000f7f1 ...",
    )
    r["cpu"]["model_name"] = "ARMv7 Processor rev 5 (v7l)"


def _baseline(r: dict[str, Any]) -> None:
    r["numpy"].update(
        import_ok=False,
        returncode=1,
        signal=None,
        stderr_tail=(
            "RuntimeError: NumPy was built with baseline optimizations: \n"
            "(SSE SSE2 SSE3 SSSE3 SSE41 POPCNT SSE42) but your machine doesn't support:\n(SSE41 POPCNT SSE42)."
        ),
    )


def _import_hangs(r: dict[str, Any]) -> None:
    r["numpy"].update(import_ok=False, returncode=None, signal=None, timed_out=True, stderr_tail="")


def _import_other(r: dict[str, Any]) -> None:
    r["numpy"].update(
        import_ok=False,
        returncode=1,
        signal=None,
        stderr_tail=("Traceback (most recent call last):\nModuleNotFoundError: No module named 'numpy._core'"),
    )


def _not_installed(r: dict[str, Any]) -> None:
    r["numpy"] = {"found": False, "find_error": "No module named 'numpy'"}


ABI_STDERR = """\

A module that was compiled using NumPy 1.x cannot be run in
NumPy 2.3.5 as it may crash. To support both 1.x and 2.x
versions of NumPy, modules must be compiled with NumPy 2.0.
Some module may need to rebuild instead e.g. with 'pybind11>=2.12'.

Traceback (most recent call last):
  File "/opt/venv/lib/python3.11/site-packages/scipy/__init__.py", line 134, in <module>
AttributeError: _ARRAY_API not found
ImportError: numpy.core.multiarray failed to import"""


def _abi_size_changed(r: dict[str, Any]) -> None:
    # Cython's struct-size check, as pandas 1.5.3 (built for NumPy 1.x) prints it under NumPy 2.
    _abi_mismatch(r)
    r["imports"][0]["module"] = "pandas"
    r["imports"][0]["stderr_tail"] = (
        '  File "pandas/_libs/interval.pyx", line 1, in init pandas._libs.interval\n'
        "ValueError: numpy.dtype size changed, may indicate binary incompatibility. "
        "Expected 96 from C header, got 88 from PyObject\n"
    )


def _abi_reverse(r: dict[str, Any]) -> None:
    # The same check under NumPy 1.x: the extension was built against a newer NumPy than the one installed.
    _abi_size_changed(r)
    r["numpy"]["version"] = "1.21.6"


def _abi_mismatch(r: dict[str, Any]) -> None:
    r["imports"] = [
        {
            "module": "scipy",
            "ok": False,
            "returncode": 1,
            "signal": None,
            "timed_out": False,
            "stderr_tail": ABI_STDERR,
            "duration_s": 0.4,
            "version": None,
        }
    ]


def _extension_other(r: dict[str, Any]) -> None:
    r["imports"] = [
        {
            "module": "pandas",
            "ok": True,
            "returncode": 0,
            "signal": None,
            "timed_out": False,
            "stderr_tail": "",
            "duration_s": 0.4,
            "version": "2.2.3",
        },
        {
            "module": "sklearn",
            "ok": False,
            "returncode": 1,
            "signal": None,
            "timed_out": False,
            "stderr_tail": "ModuleNotFoundError: No module named 'sklearn'",
            "duration_s": 0.1,
            "version": None,
        },
    ]


def _wrong_gemm(r: dict[str, Any]) -> None:
    row = r["bench"]["runs"][1]["results"][3]  # the "all threads" run, float64 n=256
    assert (row["dtype"], row["n"]) == ("float64", 256)
    row.update(ok=False, max_rel_error=0.31)


def _non_finite_gemm(r: dict[str, Any]) -> None:
    row = r["bench"]["runs"][0]["results"][0]  # single thread, float32 n=128
    row.update(ok=False, max_rel_error=None, finite=False)


def _fp_warnings(r: dict[str, Any]) -> None:
    r["bench"]["runs"][0]["results"][2]["fp_warnings"] = ["overflow", "invalid"]


def _bench_crashes(r: dict[str, Any]) -> None:
    r["bench"]["runs"][1].update(
        returncode=-11,
        signal="SIGSEGV",
        results=[],
        stderr_tail="bench: float32 n=128\nFatal Python error: Segmentation fault",
    )


def _bench_hangs(r: dict[str, Any]) -> None:
    r["bench"]["runs"][0].update(returncode=None, timed_out=True, results=[])


def _bench_skipped(r: dict[str, Any]) -> None:
    r["bench"] = {"ran": False, "skipped_reason": "bench.py is missing", "runs": []}


PROBE_CASES = [
    pytest.param(_ran(OK_REPORT), Status.OK, ["NumPy 2.4.6", "numerically right"], None, id="saved-ok"),
    pytest.param(_ran(SEGV_REPORT), Status.CRASHED, ["`import numpy` died with SIGSEGV"], None, id="saved-segv"),
    pytest.param(
        _edited(_missing_openblas),
        Status.MISSING_SHARED_LIBRARY,
        ["libopenblas.so.0"],
        "apt-get install libopenblas0",
        id="missing-openblas",
    ),
    pytest.param(
        _edited(_missing_from_ldd),
        Status.MISSING_SHARED_LIBRARY,
        ["libgfortran.so.5"],
        "apt-get install libgfortran5",
        id="missing-from-ldd",
    ),
    pytest.param(
        _edited(_missing_unknown_library),
        Status.MISSING_SHARED_LIBRARY,
        ["libfoo.so.7"],
        "install the package that ships libfoo.so.7",
        id="missing-unknown-library",
    ),
    pytest.param(
        _edited(_sigill), Status.CPU_UNSUPPORTED, ["NumPy 2.4.6", "ARMv7 Processor rev 5 (v7l)"], None, id="sigill"
    ),
    pytest.param(_edited(_baseline), Status.CPU_UNSUPPORTED, ["lacks"], None, id="baseline-check"),
    pytest.param(_edited(_import_hangs), Status.TIMEOUT, ["`import numpy` did not finish"], None, id="import-hangs"),
    pytest.param(
        _edited(_import_other), Status.IMPORT_FAILED, ["No module named 'numpy._core'"], None, id="import-other"
    ),
    pytest.param(_edited(_not_installed), Status.IMPORT_FAILED, ["not installed"], None, id="numpy-not-installed"),
    pytest.param(
        _edited(_abi_mismatch),
        Status.ABI_MISMATCH,
        ["scipy", "compiled against NumPy 1.x", "NumPy 2.4.6"],
        "pin numpy<2",
        id="abi-mismatch",
    ),
    pytest.param(
        _edited(_abi_reverse),
        Status.ABI_MISMATCH,
        ["pandas", "newer NumPy than NumPy 1.21.6", "NumPy is the one to move"],
        "upgrade NumPy",
        id="abi-mismatch-reverse",
    ),
    pytest.param(
        _edited(_abi_size_changed),
        Status.ABI_MISMATCH,
        ["pandas", "compiled against NumPy 1.x", "NumPy 2.4.6"],
        "pin numpy<2",
        id="abi-mismatch-size-changed-under-2x",
    ),
    pytest.param(
        _edited(_extension_other),
        Status.IMPORT_FAILED,
        ["`import sklearn` failed", "No module named 'sklearn'"],
        None,
        id="extension-import-fails",
    ),
    pytest.param(
        _edited(_wrong_gemm),
        Status.WRONG_RESULT,
        ["float64", "n=256", "all threads", "3.10e-01"],
        "BLAS",
        id="wrong-gemm",
    ),
    pytest.param(
        _edited(_non_finite_gemm),
        Status.WRONG_RESULT,
        ["float32", "n=128", "single threads", "inf"],
        "BLAS",
        id="non-finite-gemm",
    ),
    pytest.param(
        _edited(_fp_warnings),
        Status.WRONG_RESULT,
        ["float32", "n=256", "FP warnings overflow, invalid"],
        "BLAS",
        id="fp-warnings",
    ),
    pytest.param(
        _edited(_bench_crashes),
        Status.CRASHED,
        ["GEMM benchmark (all threads) died with SIGSEGV"],
        None,
        id="bench-crashes",
    ),
    pytest.param(
        _edited(_bench_hangs),
        Status.TIMEOUT,
        ["GEMM benchmark (single threads) did not finish"],
        None,
        id="bench-hangs",
    ),
    pytest.param(
        _edited(_bench_skipped), Status.CRASHED, ["no results", "bench.py is missing"], None, id="bench-skipped"
    ),
    pytest.param(
        ProbeRun(exit_code=None, stdout="", stderr="probe: importing numpy in a child\n", duration_s=300.0, facts=None),
        Status.TIMEOUT,
        ["no answer within 300 s"],
        "timeout",
        id="probe-timed-out",
    ),
    pytest.param(
        parse_output(exit_code=-11, stdout="", stderr="Segmentation fault (core dumped)\n", duration_s=0.5),
        Status.CRASHED,
        ["probe printed no JSON report"],
        None,
        id="probe-printed-nothing",
    ),
    pytest.param(
        parse_output(
            exit_code=1, stdout='{"probe_version": 1, "python": {', stderr="Traceback ...\nKilled\n", duration_s=0.5
        ),
        Status.CRASHED,
        ["probe printed no JSON report"],
        None,
        id="probe-printed-half-a-report",
    ),
    pytest.param(
        parse_output(exit_code=0, stdout="[1, 2]", stderr="", duration_s=0.5),
        Status.CRASHED,
        ["not an object"],
        None,
        id="probe-printed-a-list",
    ),
]


@pytest.mark.parametrize(("ran", "status", "in_reason", "in_fix"), PROBE_CASES)
def test_probe_verdicts(ran: ProbeRun, status: Status, in_reason: list[str], in_fix: str | None) -> None:
    verdict = classify(_plan("amd64", timeout=300), _built(), ran)
    assert verdict.status is status, verdict
    for fragment in in_reason:
        assert fragment in verdict.reason, (fragment, verdict.reason)
    if in_fix is not None:
        assert in_fix in (verdict.fix or ""), verdict.fix
    if status is Status.OK:
        assert verdict.fix is None


@pytest.mark.parametrize(
    ("ran", "expected_evidence"),
    [
        pytest.param(
            _edited(_missing_openblas),
            "ImportError: libopenblas.so.0: cannot open shared object file: No such file or directory",
            id="missing-library-line",
        ),
        pytest.param(
            parse_output(exit_code=-11, stdout="", stderr="Segmentation fault (core dumped)\n", duration_s=0.5),
            "Segmentation fault (core dumped)",
            id="no-json-stderr",
        ),
        pytest.param(_edited(_abi_mismatch), "ImportError: numpy.core.multiarray failed to import", id="abi"),
    ],
)
def test_verdicts_quote_their_evidence(ran: ProbeRun, expected_evidence: str) -> None:
    verdict = classify(_plan(), _built(), ran)
    assert expected_evidence in verdict.evidence


def test_crash_evidence_names_the_crashing_module() -> None:
    verdict = classify(_plan(), _built(), _ran(SEGV_REPORT))
    assert verdict.status is Status.CRASHED
    assert any("numpy/__init__.py" in line for line in verdict.evidence), verdict.evidence


def test_no_probe_after_a_good_build_is_an_engine_error() -> None:
    verdict = classify(_plan(), _built(), None)
    assert verdict.status is Status.ENGINE_ERROR


def test_a_failed_build_is_judged_without_the_probe() -> None:
    # Even if a stale probe run is passed along, the build failure decides.
    verdict = classify(_plan("arm/v7"), _failed(APT_LOG), _ran(OK_REPORT))
    assert verdict.status is Status.BUILD_FAILED


def test_cpu_context_is_added_to_run_failures_only() -> None:
    # Builds run on QEMU's default CPU whatever the cell's model; only what ran on the model names it.
    pi = plan_cell(matrix.Cell(name="pi", platform="arm/v7", install="apt", cpu="pi1", timeout=30))
    build_timeout = BuildOutcome(
        tag="t",
        ok=False,
        image_id=None,
        cached=False,
        exit_code=None,
        timed_out=True,
        duration_s=1800.0,
        log_path=None,
        output="#5 1.0 Reading package lists",
    )
    assert "ARMv6" not in classify(pi, build_timeout, None).reason
    built = BuildOutcome(
        tag="t",
        ok=True,
        image_id="sha256:1",
        cached=True,
        exit_code=0,
        timed_out=False,
        duration_s=0.0,
        log_path=None,
        output="",
    )
    hung = ProbeRun(exit_code=None, stdout="", stderr="", duration_s=30.0, facts=None)
    verdict = classify(pi, built, hung)
    assert verdict.status is Status.TIMEOUT
    assert "ARMv6" in verdict.reason and "30 s" in verdict.reason


# --- out of memory: the engine's OOMKilled flag turns a bare SIGKILL or a lost report into a reason -------


@pytest.mark.parametrize(
    ("probe", "kept_reason"),
    [
        pytest.param(
            ProbeRun(
                exit_code=137, stdout="", stderr="", duration_s=2.0, facts=None, oom_killed=True, memory_limit="8m"
            ),
            "the probe printed nothing",
            id="probe-killed",
        ),
        pytest.param(
            replace(_edited(lambda r: r["numpy"].update(import_ok=False, signal="SIGKILL")), oom_killed=True),
            "died with SIGKILL",
            id="child-killed",
        ),
    ],
)
def test_oom_killed_probe_says_out_of_memory(probe: ProbeRun, kept_reason: str) -> None:
    verdict = classify(_plan(memory="64m"), _built(), probe)
    assert verdict.status is Status.CRASHED
    assert verdict.reason.startswith("out of memory: the probe exceeded the container's memory limit")
    assert kept_reason in verdict.reason
    assert (probe.memory_limit or "64m") in verdict.reason
    assert verdict.fix is not None and 'now "64m"' in verdict.fix
    assert verdict.evidence[0] == "engine: State.OOMKilled = true"


def test_oom_flag_on_a_probe_that_worked_changes_nothing() -> None:
    ok = replace(_ran(OK_REPORT), oom_killed=True)
    assert classify(_plan(), _built(), ok) == classify(_plan(), _built(), _ran(OK_REPORT))


def test_without_oom_flag_a_killed_probe_is_crashed_without_memory_words() -> None:
    verdict = classify(_plan(), _built(), ProbeRun(exit_code=137, stdout="", stderr="", duration_s=2.0, facts=None))
    assert verdict.status is Status.CRASHED and "memory" not in verdict.reason


# --- pip's refusals, each read from pip's own words ----------------------------------------------------------

_REQUIRES = (
    "#7 2.104 pip 24.0 from /opt/venv/lib/python3.{minor}/site-packages/pip (python 3.{minor})\n"
    "#7 12.30 ERROR: Ignored the following versions that require a different python version: "
    "1.25.0 Requires-Python >=3.9; 1.26.0 Requires-Python <3.13,>=3.9; 2.3.5 Requires-Python >=3.11\n"
    "#7 12.34 ERROR: Could not find a version that satisfies the requirement numpy=={pin} (from versions: 1.24.4)\n"
    "#7 12.34 ERROR: No matching distribution found for numpy=={pin}\n"
)


@pytest.mark.parametrize(
    ("platform", "minor", "pin", "in_reason", "in_fix"),
    [
        ("amd64", 8, "2.3.5", "Python 3.8 is too old for NumPy 2.3.5 (Requires-Python >=3.11)", "use a newer Python"),
        (
            "arm64",
            13,
            "1.26.0",
            "Python 3.13 is too new for NumPy 1.26.0 (Requires-Python <3.13,>=3.9)",
            "older Python",
        ),
        ("arm/v7", 8, "1.25.0", "Python 3.8 is too old for NumPy 1.25.0 (Requires-Python >=3.9)", "newer Python"),
    ],
)
def test_requires_python_says_which_way(platform: str, minor: int, pin: str, in_reason: str, in_fix: str) -> None:
    log = NO_WHEEL_LOG.split("#7 2.104")[0] + _REQUIRES.format(minor=minor, pin=pin)
    verdict = classify(_plan(platform, numpy=pin), _failed(log), None)
    assert verdict.status is Status.NO_WHEEL
    assert in_reason in verdict.reason and in_fix in (verdict.fix or "")
    assert "piwheels" not in (verdict.fix or "")  # the platform is not the cause: no platform advice


@pytest.mark.parametrize("platform", ["amd64", "arm64"])
def test_no_wheel_fixes_off_the_pi_carry_no_pi_advice(platform: str) -> None:
    verdict = classify(_plan(platform), _failed(NO_WHEEL_LOG), None)
    assert verdict.status is Status.NO_WHEEL
    for pi_only in ("piwheels", "python3-numpy", 'install = "apt"'):
        assert pi_only not in (verdict.fix or ""), verdict.fix


def test_a_yanked_pin_is_said() -> None:
    log = NO_WHEEL_LOG.replace(
        "#7 12.34 ERROR: Could not find",
        "#7 12.30 ERROR: Ignored the following yanked versions: 2.3.5, 2.4.0\n#7 12.34 ERROR: Could not find",
    ).replace("(from versions: none)", "(from versions: 2.3.4, 2.3.6)")
    verdict = classify(_plan("amd64"), _failed(log), None)
    assert "NumPy 2.3.5 was yanked" in verdict.reason and "not yanked (e.g. numpy==2.3.6)" in (verdict.fix or "")
    assert "yanked (pip skips them): 2.3.5, 2.4.0" in verdict.evidence


@pytest.mark.parametrize(
    "trouble",
    [
        "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection "
        "broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object>: Failed to "
        "establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/numpy/",
        "Could not fetch URL https://mirror.example/simple/numpy/: There was a problem confirming the ssl "
        "certificate: HTTPSConnectionPool(host='mirror.example', port=443): Max retries exceeded with url: "
        "/simple/numpy/ (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED]')))",
        "ERROR: HTTP error 404 while getting https://mirror.example/simple/numpy/ 404 Client Error: Not Found",
    ],
    ids=["dns", "tls", "404"],
)
def test_an_unreadable_index_is_not_blamed_on_the_platform(trouble: str) -> None:
    log = NO_WHEEL_LOG.replace("#7 12.34 ERROR: Could not find", f"#7 11.00 {trouble}\n#7 12.34 ERROR: Could not find")
    verdict = classify(_plan("arm/v7", index_url="https://mirror.example/simple"), _failed(log), None)
    assert "could not read the package index (https://mirror.example/simple)" in verdict.reason
    assert "check index_url" in (verdict.fix or "") and "piwheels" not in (verdict.fix or "")
