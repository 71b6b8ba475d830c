"""Classification re-run on outputs captured from a real gallery run (tests/data/gallery, made by
scripts/capture-fixtures): the verdict is a pure function of the build log and the probe report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from npmatrix.config import matrix
from npmatrix.judge import advice
from npmatrix.judge.classify import classify
from npmatrix.judge.facts import summarize
from npmatrix.judge.outcomes import BuildOutcome, ProbeRun
from npmatrix.plan.cellplan import plan_cell
from npmatrix.verdict import Status

CAPTURED = sorted((Path(__file__).resolve().parents[1] / "data" / "gallery").glob("*.json"))


def _cell(inputs: dict[str, Any]) -> matrix.Cell:
    given = {k: v for k, v in inputs.items() if v not in (None, [], "")}
    return matrix.parse({"cell": [given]}, source="captured").cells[0]


def test_the_capture_covers_every_gallery_status() -> None:
    statuses = {json.loads(p.read_text())["expected"] for p in CAPTURED}
    assert {
        "ok",
        "no-wheel",
        "missing-shared-library",
        "abi-mismatch",
        "cpu-unsupported",
        "timeout",
        "wrong-result",
    } <= statuses


@pytest.mark.parametrize("path", CAPTURED, ids=[p.stem for p in CAPTURED])
def test_captured_outputs_classify_as_expected(path: Path) -> None:
    captured = json.loads(path.read_text())
    cell = _cell(captured["inputs"])
    build = captured["build"]
    outcome = BuildOutcome(
        tag="captured",
        ok=build["ok"],
        image_id="sha256:captured" if build["ok"] else None,
        cached=build["cached"],
        exit_code=0 if build["ok"] else 1,
        timed_out=False,
        duration_s=0.0,
        log_path=None,
        output=build["output"],
    )
    probe = None
    if build["ok"]:
        exit_code = None if captured["probe_timed_out"] else 0
        probe = ProbeRun(
            exit_code=exit_code,
            stdout=json.dumps(captured["probe"]),
            stderr="",
            duration_s=0.0,
            facts=captured["probe"],
        )
    verdict = classify(plan_cell(cell), outcome, probe)
    assert verdict.status is Status(captured["expected"]), verdict
    assert verdict.status is Status(captured["status_at_capture"])
    assert verdict.reason and (verdict.status is Status.OK or verdict.evidence or verdict.status is Status.TIMEOUT)
    reason, fix = HELD[path.stem]
    for fragment in reason:
        assert fragment in verdict.reason, (fragment, verdict.reason)
        assert fragment in captured["reason_at_capture"], (fragment, captured["reason_at_capture"])
    for fragment in fix:
        assert fragment in (verdict.fix or ""), (fragment, verdict.fix)
        assert fragment in (captured["fix_at_capture"] or ""), (fragment, captured["fix_at_capture"])
    if not fix:
        assert verdict.fix is None and captured["fix_at_capture"] is None


# What each captured cell must be told: fragments of its reason and of its fix, as the real run said them too.
HELD: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pi32-blas-missing": (("NumPy needs libblas.so.3", "Raspberry Pi 4"), ("apt-get install libblas3",)),
    "numpy2-old-pandas": (("pandas was compiled against NumPy 1.x", "NumPy 2.3.5"), ("pin numpy<2",)),
    "py313-numpy126": (("Python 3.13 is too new for NumPy 1.26.4", "2.1.0 ... "), ("numpy==2.1.0 or newer",)),
    "old-pip": (("pip 20.2 is too old", "PEP 600"), ("upgrade pip",)),
    "pi-zero-armhf": (("no answer within 30 s", "ARMv6"), ("another CPU model",)),
    "numpy24-old-x86": (("NumPy 2.4.6 was built for a CPU baseline (X86_V2)",), ("< 2.4 for x86-64-v1",)),
    "numpy23-old-x86": (("NumPy 2.3.5 imports and GEMM is numerically right",), ()),
    "colab-like": (("NumPy 2.3.5 imports and GEMM is numerically right",), ()),
    "pi32-pip": (("PyPI has no NumPy==2.3.5 wheel for linux_armv7l",), ("piwheels", "python3-numpy")),
    "pi64-qemu-max": (("float32 GEMM",), ("OPENBLAS_CORETYPE",)),
    "pi32-apt-refblas": (("NumPy 1.24.2 imports and GEMM is numerically right",), ()),
    "pi32-apt-openblas": (("NumPy 1.24.2 imports and GEMM is numerically right",), ()),
}
# Works, but slow: the advisories each working cell carries (none for the others).
ADVISED = {"pi32-apt-refblas": ["reference-blas"]}
# Where NumPy came from, as the probe found it.
ORIGINS = {
    "colab-like": "pypi-wheel",
    "numpy2-old-pandas": "pypi-wheel",
    "pi32-blas-missing": "debian",
    "pi32-apt-refblas": "debian",
    "pi32-apt-openblas": "debian",
    "pi64-qemu-max": "pypi-wheel",
}


def test_every_captured_cell_has_its_reasons_held() -> None:
    assert {p.stem for p in CAPTURED} == set(HELD)


def test_captured_advisories_and_origins() -> None:
    captured = {p.stem: json.loads(p.read_text()) for p in CAPTURED}
    for name, fixture in captured.items():
        kinds = [a["kind"] for a in fixture["advisories_at_capture"]]
        assert kinds == ADVISED.get(name, []), name
        summary = summarize(fixture["probe"]) if fixture["probe"] else None
        origin = summary.origin.kind if summary and summary.origin else None
        assert origin == ORIGINS.get(name, origin), name
    for name, kind in ORIGINS.items():
        summary = summarize(captured[name]["probe"])
        assert summary.origin is not None and summary.origin.kind == kind
    refblas = summarize(captured["pi32-apt-refblas"]["probe"])
    (note,) = advice.for_cell(refblas)
    assert "update-alternatives --config libblas.so.3-arm-linux-gnueabihf" in note.fix
