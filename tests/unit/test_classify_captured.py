"""Classification re-run on outputs captured from a real gallery run (tests/data/gallery, made by
scripts/capture-fixtures): the verdict is a pure function of the build log and the probe report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from npmatrix import matrix
from npmatrix.classify import classify
from npmatrix.outcomes import BuildOutcome, ProbeRun
from npmatrix.plan import plan_cell
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
        returncode=0 if build["ok"] else 1,
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
