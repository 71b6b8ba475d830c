"""Whole verdicts, not only statuses: every case of test_classify.py's tables and every output captured from
the real gallery run is classified, and its status, reason, fix and evidence compared with
tests/data/verdicts.golden.json. The tables check the words that matter; this checks that nothing else in a
verdict changes unnoticed (mutation testing found reasons and fixes no test read: docs/mutation.md).

After a deliberate change to a verdict: NPMATRIX_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_classify_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from test_classify import BUILD_CASES, PROBE_CASES, _built, _plan
from test_classify_captured import CAPTURED, _cell

from npmatrix.classify import classify
from npmatrix.outcomes import BuildOutcome, ProbeRun
from npmatrix.plan import plan_cell

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "verdicts.golden.json"


def _captured(path: Path) -> dict[str, Any]:
    captured = json.loads(path.read_text())
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
        probe = ProbeRun(
            exit_code=None if captured["probe_timed_out"] else 0,
            stdout="",
            stderr="",
            duration_s=0.0,
            facts=captured["probe"],
        )
    return classify(plan_cell(_cell(captured["inputs"])), outcome, probe).to_json()


def _all_verdicts() -> dict[str, Any]:
    verdicts: dict[str, Any] = {}
    for case in BUILD_CASES:
        cell_plan, build = case.values[0], case.values[1]
        verdicts[f"build/{case.id}"] = classify(cell_plan, build, None).to_json()
    for case in PROBE_CASES:
        verdicts[f"probe/{case.id}"] = classify(_plan(), _built(), case.values[0]).to_json()
        verdicts[f"probe-on-pi4/{case.id}"] = classify(_plan("arm64", cpu="pi4"), _built(), case.values[0]).to_json()
    for path in CAPTURED:
        verdicts[f"captured/{path.stem}"] = _captured(path)
    return verdicts


def test_verdicts_match_the_golden_file() -> None:
    verdicts = _all_verdicts()
    if os.environ.get("NPMATRIX_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(verdicts, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert sorted(verdicts) == sorted(golden), "cases were added or removed: update the golden file"
    for key, verdict in verdicts.items():
        assert verdict == golden[key], key


@pytest.mark.parametrize("key", ["build/no-wheel-armv7", "captured/old-pip", "captured/py313-numpy126"])
def test_the_golden_file_holds_real_reasons(key: str) -> None:
    golden = json.loads(GOLDEN.read_text())
    assert golden[key]["status"] == "no-wheel" and golden[key]["reason"] and golden[key]["fix"]
