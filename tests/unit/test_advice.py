"""Works, but slow: advisories read from one cell's facts, and the run-wide GEMM comparison; and where NumPy
came from (summary.Origin), which the table and explain show."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import synthetic

from npmatrix.judge import advice
from npmatrix.judge.classify import classify_probe
from npmatrix.judge.facts import ProbeSummary, summarize
from npmatrix.present import labels, table
from npmatrix.present.reports.junit import render_junit
from npmatrix.present.reports.markdown import render_markdown
from npmatrix.records import results
from npmatrix.verdict import Status

DATA = Path(__file__).resolve().parents[1] / "data"
OK_REPORT: dict[str, Any] = json.loads((DATA / "probe-host-amd64-numpy-ok.json").read_text())
REFERENCE = [
    "/usr/lib/arm-linux-gnueabihf/lapack/liblapack.so.3.11.0",
    "/usr/lib/arm-linux-gnueabihf/blas/libblas.so.3.11.0",
]
ATLAS = ["/usr/lib/arm-linux-gnueabihf/atlas/libblas.so.3", "/usr/lib/arm-linux-gnueabihf/libf77blas.so.3"]
OPENBLAS = ["/usr/lib/arm-linux-gnueabihf/openblas-pthread/libopenblas_armv6p-r0.3.21.so"]


def _summary(
    libraries: list[str], *, core: str | None = None, threads: int | None = None, gflops: float | None = None
) -> ProbeSummary:
    facts = json.loads(json.dumps(OK_REPORT))
    numpy = facts["numpy"]
    numpy["config"] = None  # the BLAS is then named from what is loaded
    numpy["ldd"] = {"output": "", "not_found": []}
    openblas = {"corename": core, "num_threads": threads, "library": libraries[0]} if core else None
    numpy["blas_runtime"] = {"libraries": libraries, "openblas": openblas}
    facts["python"]["multiarch"] = "arm-linux-gnueabihf"
    facts["cpu"]["count"] = 4
    facts["bench"] = None
    if gflops is not None:
        row = {"dtype": "float64", "n": 256, "gflops_median": gflops, "tolerance": 1e-9, "ok": True}
        facts["bench"] = {"runs": [{"threads": "all", "results": [row]}]}
    return summarize(facts)


def _kinds(s: ProbeSummary) -> list[str]:
    return [a.kind for a in advice.for_cell(s)]


def test_reference_blas_gets_its_advisory_and_the_debian_fix() -> None:
    (note,) = advice.for_cell(_summary(REFERENCE))
    assert note.kind == "reference-blas" and "reference BLAS" in note.message
    assert "apt install libopenblas0" in note.fix
    assert "update-alternatives --config libblas.so.3-arm-linux-gnueabihf" in note.fix
    assert "PyPI wheel" in note.fix


def test_atlas_gets_its_own_advisory() -> None:
    assert _kinds(_summary(ATLAS)) == ["atlas"]


def test_openblas_on_all_threads_gets_none() -> None:
    assert _kinds(_summary(OPENBLAS, core="ARMV6", threads=4)) == []


def test_openblas_on_one_thread_of_four_is_single_threaded() -> None:
    (note,) = advice.for_cell(_summary(OPENBLAS, core="ARMV6", threads=1))
    assert note.kind == "single-threaded-blas" and "1 thread of 4 CPUs" in note.message
    assert "libopenblas0-pthread" in note.fix and "OPENBLAS_NUM_THREADS" in note.fix


def _ran(name: str, s: ProbeSummary, *, emulated: bool = False, works: bool = True) -> advice.Ran:
    return advice.Ran(name=name, oci_platform="linux/amd64", under_qemu=emulated, works=works, summary=s)


def test_gemm_far_below_openblas_on_the_same_platform_is_said_with_both_numbers() -> None:
    slow = _summary(["/usr/lib/x86_64-linux-gnu/libfoo_blas.so"], gflops=2.0)
    fast = _summary(OPENBLAS, core="Haswell", threads=4, gflops=30.0)
    notes = advice.for_run([_ran("slow", slow), _ran("fast", fast)])
    (note,) = notes["slow"]
    assert note.kind == "slow-gemm" and "2.0 GFLOP/s, 15x below fast (30.0 GFLOP/s with OpenBLAS)" in note.message
    assert "fast" not in notes


@pytest.mark.parametrize(
    ("mine", "emulated", "peer_works"),
    [(11.0, False, True), (2.0, True, True), (2.0, False, False)],
    ids=["less-than-3x-below", "emulated-speeds-measure-qemu", "failing-peer"],
)
def test_no_gemm_comparison_when_it_would_mislead(mine: float, emulated: bool, peer_works: bool) -> None:
    slow = _summary(["/usr/lib/x86_64-linux-gnu/libfoo_blas.so"], gflops=mine)
    fast = _summary(OPENBLAS, core="Haswell", threads=4, gflops=30.0)
    # An emulated cell (an amd64 cell run as an older x86 CPU under QEMU) is never compared with a native peer.
    cells = [_ran("slow", slow, emulated=emulated), _ran("fast", fast, works=peer_works)]
    assert "slow" not in advice.for_run(cells)


def test_a_failing_cell_gets_no_advisory() -> None:
    assert advice.for_run([_ran("broken", _summary(REFERENCE), works=False)]) == {}


def test_the_default_run_shows_reference_blas_in_results_table_and_reports() -> None:
    run = results.load(DATA / "results-default.json")  # pi32-apt: Debian's NumPy on libblas.so.3
    document = run.to_json()
    (record,) = [c for c in document["cells"] if c["name"] == "pi32-apt"]
    assert record["advisories"][0]["kind"] == "reference-blas"
    assert all("advisories" not in c for c in document["cells"] if c["name"] != "pi32-apt")
    again = results.from_json(document, where="again")  # the schema takes it, and reading recomputes it
    assert results.advisories(again.cells) == results.advisories(run.cells)
    assert "ok (slow: reference BLAS)" in table.table(run.cells, wide=True)
    assert "pi32-apt: NumPy runs on the reference BLAS" in table.advice_lines(list(run.cells))
    markdown = render_markdown(run)
    assert "#### Works, but slow (1)" in markdown and "Fix: apt install libopenblas0" in markdown
    assert "slow: NumPy runs on the reference BLAS" in render_junit(run)


def test_origin_is_stale_when_the_running_numpy_is_another() -> None:
    facts = json.loads(json.dumps(OK_REPORT))
    origin = summarize(facts).origin
    assert origin is not None and not origin.stale and origin.kind == "pypi-wheel"
    facts["numpy"]["version"] = "9.9.9"  # metadata of one install, files of another (a botched reinstall)
    stale = summarize(facts).origin
    assert stale is not None and stale.stale and "is not the one installed" in stale.describe()
    facts = json.loads(json.dumps(OK_REPORT))
    facts["numpy"]["file"] = "/tmp/elsewhere/numpy/__init__.py"  # a shadowing copy
    moved = summarize(facts).origin
    assert moved is not None and moved.stale


def test_a_piwheels_style_wheel_explains_its_missing_library() -> None:
    facts = json.loads(json.dumps(OK_REPORT))
    numpy = facts["numpy"]
    numpy.update(
        import_ok=False, version=None, stderr_tail="ImportError: libopenblas.so.0: cannot open shared object file"
    )
    numpy["install"].update(origin="local-wheel", wheel_tags=["cp311-cp311-linux_armv7l"])
    verdict = classify_probe(summarize(facts))
    assert verdict.status is Status.MISSING_SHARED_LIBRARY
    assert "cp311-cp311-linux_armv7l wheel, built on a machine as piwheels builds them" in verdict.reason
    assert (verdict.fix or "").startswith("apt-get install libopenblas0, or install a manylinux wheel")
    numpy["install"].update(origin="pypi-wheel", wheel_tags=["cp311-cp311-manylinux_2_27_x86_64"])
    assert "piwheels" not in classify_probe(summarize(facts)).reason


def _wheel_origin(origin: str, tag: str, **numpy: Any) -> dict[str, Any]:
    """OK_REPORT's facts as if NumPy came from a wheel of this origin and tag."""
    facts = json.loads(json.dumps(OK_REPORT))
    facts["numpy"].update(numpy)
    facts["numpy"]["install"].update(origin=origin, wheel_tags=[tag])
    return facts


@pytest.mark.parametrize("arch", ["armv7l", "armv6l"])
def test_a_plain_32_bit_arm_wheel_is_labelled_piwheels_style(arch: str) -> None:
    facts = _wheel_origin("local-wheel", f"cp313-cp313-linux_{arch}")
    origin = summarize(facts).origin
    assert origin is not None and origin.piwheels_style
    assert origin.label == f"piwheels-style wheel (linux_{arch})"
    assert origin.describe().startswith(f"piwheels-style wheel (linux_{arch}), as piwheels builds them")
    assert f"(cp313-cp313-linux_{arch}, installer pip)" in origin.describe()
    cell = dataclasses.replace(synthetic.cell_result("pi32", emulated=True), facts=facts)
    # The table's "installed", wide or short (short drops the architecture: "linux" alone would say nothing).
    assert labels.installed(cell) == labels.installed(cell, short=True) == f"piwheels-style wheel (linux_{arch})"
    assert cell.to_json()["summary"]["origin"]["kind"] == "local-wheel"  # results.json keeps the machine name


@pytest.mark.parametrize(
    ("origin", "tag", "installed"),
    [
        ("local-wheel", "cp313-cp313-linux_x86_64", "local-wheel linux_x86_64"),  # pip's own build, not a Pi's
        ("local-wheel", "cp313-cp313-linux_aarch64", "local-wheel linux_aarch64"),  # piwheels has no 64-bit wheels
        ("pypi-wheel", "cp313-cp313-manylinux_2_31_armv7l", "wheel manylinux_2_31_armv7l"),  # PyPI's, bundles OpenBLAS
    ],
)
def test_other_wheels_are_not_called_piwheels_style(origin: str, tag: str, installed: str) -> None:
    facts = _wheel_origin(origin, tag)
    summary = summarize(facts)
    assert summary.origin is not None and not summary.origin.piwheels_style
    assert "piwheels-style" not in summary.origin.describe()
    assert labels.installed(dataclasses.replace(synthetic.cell_result("c"), facts=facts)) == installed


@pytest.mark.parametrize(
    ("stderr_lib", "not_found", "reason", "fix"),
    [
        (
            "libblas.so.3",
            ["libblas.so.3", "liblapack.so.3"],  # scripts/piwheels-standin's wheel: both, the loader names one
            "NumPy needs libblas.so.3 and liblapack.so.3, which are not installed (NumPy is a "
            "cp313-cp313-linux_armv7l wheel, built on a machine as piwheels builds them",
            "apt-get install libblas3 liblapack3, or install a manylinux wheel",
        ),
        (
            "libopenblas.so.0",
            [],
            "NumPy needs libopenblas.so.0, which is not installed (NumPy is a cp313-cp313-linux_armv7l wheel",
            "apt-get install libopenblas0, or install a manylinux wheel",
        ),
        (
            "libblas.so.3",
            ["libfoo.so.7", "libbar.so.1"],
            "NumPy needs libblas.so.3, libfoo.so.7 and libbar.so.1, which are not installed",
            "apt-get install libblas3, and install the package that ships libfoo.so.7 and libbar.so.1, or",
        ),
    ],
)
def test_the_fix_installs_the_package_of_every_missing_library(
    stderr_lib: str, not_found: list[str], reason: str, fix: str
) -> None:
    facts = _wheel_origin(
        "local-wheel",
        "cp313-cp313-linux_armv7l",
        import_ok=False,
        version=None,
        stderr_tail=f"ImportError: {stderr_lib}: cannot open shared object file: No such file or directory",
        ldd={"output": "", "not_found": not_found},
    )
    verdict = classify_probe(summarize(facts))
    assert verdict.status is Status.MISSING_SHARED_LIBRARY
    assert verdict.reason.startswith(reason), verdict.reason
    assert (verdict.fix or "").startswith(fix), verdict.fix


# The end of the probe's stderr for scripts/piwheels-standin's wheel without libblas3 (trixie arm/v7, NumPy
# 2.2.4): NumPy 2 re-raises the loader's error as the "source directory" one, so the last lines hide it.
STANDIN_STDERR = """Please carefully study the documentation linked above for further help.

Original error was: libblas.so.3: cannot open shared object file: No such file or directory


The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/npmatrix/probe.py", line 793, in child_numpy
    import numpy
  File "/opt/venv/lib/python3.13/site-packages/numpy/__init__.py", line 119, in <module>
    raise ImportError(msg) from e
ImportError: Error importing numpy: you should not try to import numpy from
        its source directory; please exit the numpy source tree, and relaunch
        your python interpreter from there.
"""


def test_the_evidence_quotes_the_loaders_line_when_numpy_re_raises_it() -> None:
    facts = _wheel_origin("local-wheel", "cp313-cp313-linux_armv7l", import_ok=False, version=None)
    facts["numpy"].update(stderr_tail=STANDIN_STDERR, ldd={"output": "", "not_found": []})
    verdict = classify_probe(summarize(facts))
    assert verdict.status is Status.MISSING_SHARED_LIBRARY
    assert (
        verdict.evidence[0]
        == "Original error was: libblas.so.3: cannot open shared object file: No such file or directory"
    )
    assert verdict.evidence[-1].strip() == "your python interpreter from there."  # the tail, as for every import
