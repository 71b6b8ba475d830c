"""The runner with a fake engine: one cell's engine failure is its result, and the run goes on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError

from npmatrix import build, engine, matrix, plan, runner
from npmatrix.build import BuildOutcome
from npmatrix.status import Status

REPO = Path(__file__).resolve().parents[2]
NO_WHEEL_LOG = "#7 3.1 ERROR: No matching distribution found for numpy==2.3.5\n"


def test_an_engine_error_in_one_cell_keeps_the_others(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    plans = plan.plan(matrix.load(REPO / "matrix" / "default.toml").select(names=["colab-like", "pi32-pip"]))
    monkeypatch.setattr(engine, "client", lambda: object())
    monkeypatch.setattr(engine, "detect_builder", lambda: engine.Builder("buildkit", "/usr/bin/docker"))
    monkeypatch.setattr(runner, "ensure_bases", lambda *a, **k: {})

    def fake_build(p: plan.CellPlan, **kwargs: Any) -> BuildOutcome:
        if p.cell.name == "colab-like":
            raise APIError("500 Server Error: the daemon went away")
        return BuildOutcome(p.image_tag, False, None, False, 1, False, 1.0, None, NO_WHEEL_LOG)

    monkeypatch.setattr(build, "build_cell", fake_build)
    results = runner.run(plans, runner.RunOptions(out_dir=tmp_path), progress=lambda message: None)
    assert [(r.cell.name, r.status) for r in results] == [
        ("colab-like", Status.ENGINE_ERROR),
        ("pi32-pip", Status.NO_WHEEL),
    ]
    assert "daemon went away" in results[0].verdict.reason
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["complete"] is True
    assert [c["status"] for c in document["cells"]] == ["engine-error", "no-wheel"]
    assert document["cells"][0]["as_expected"] is False
