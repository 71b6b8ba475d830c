"""The runner with the fake engine: probes run in containers that are always removed, and one cell's engine
failure is its result while the run goes on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine, fake_builds

from npmatrix.config import matrix
from npmatrix.errors import EngineError
from npmatrix.host.engine import CallResult
from npmatrix.plan import cellplan as plan
from npmatrix.plan import protocol
from npmatrix.records import results
from npmatrix.run import runner
from npmatrix.verdict import Status

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
NO_WHEEL_LOG = "#7 3.1 ERROR: No matching distribution found for numpy==2.3.5\n"
PLANS = plan.plan(matrix.load(REPO / "matrix" / "bookworm.toml").select(names=["colab-like", "pi32-pip"]))


@pytest.fixture
def engine(fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    monkeypatch.setattr(runner, "ensure_bases", lambda *a, **k: {})

    fake_builds(monkeypatch, fake_engine, failing={"pi32-pip": NO_WHEEL_LOG}, image_id="sha256:cell")
    facts = (DATA / "probe-host-amd64-numpy-ok.json").read_text()
    fake_engine.respond = lambda image, command: CallResult(exit_code=0, stdout=facts, stderr="", duration_s=1.0)
    return fake_engine


def test_a_cell_probes_in_a_container_that_is_removed(engine: FakeEngine, tmp_path: Path) -> None:
    (result, no_wheel) = runner.run(PLANS, runner.RunOptions(out_dir=tmp_path), progress=lambda message: None)
    assert (result.status, no_wheel.status) == (Status.OK, Status.NO_WHEEL), result.verdict
    (box,) = engine.created  # the cell that did not build gets no container
    assert box.command == PLANS[0].probe_command(bench_stage="later").argv()
    assert set(box.files) == {f"{protocol.PROBE_DIR}/{name}" for name in protocol.SCRIPTS}
    assert box.labels["org.npmatrix.cell"] == "colab-like"
    assert box.ran and engine.containers == {}  # removed when the cell ended
    # What the run wrote reads back through the one reader, as the same results.
    read = results.load(tmp_path / "results.json")
    assert read.complete and [c.to_json() for c in read.cells] == [result.to_json(), no_wheel.to_json()]


def test_an_engine_error_in_one_cell_keeps_the_others(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def gone(image: str, command: Any) -> CallResult:
        raise EngineError("running npmatrix-x: APIError: 500 Server Error: the daemon went away")

    engine.respond = gone
    results_ = runner.run(PLANS, runner.RunOptions(out_dir=tmp_path), progress=lambda message: None)
    assert [(r.cell.name, r.status) for r in results_] == [
        ("colab-like", Status.ENGINE_ERROR),
        ("pi32-pip", Status.NO_WHEEL),
    ]
    assert "daemon went away" in results_[0].verdict.reason
    assert engine.containers == {}  # removed even though the run failed
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["complete"] is True
    assert [c["status"] for c in document["cells"]] == ["engine-error", "no-wheel"]
    assert document["cells"][0]["as_expected"] is False


def test_probe_containers_get_the_cells_limits_and_the_lockdown() -> None:
    from npmatrix.config import matrix as matrix_module
    from npmatrix.plan.cellplan import plan_cell
    from npmatrix.run import probe as probe_module

    (cell,) = matrix_module.parse(
        {"cell": [{"name": "c", "platform": "amd64", "numpy": "2.3.5", "memory": "512m", "pids": 64}]}
    ).cells
    config = probe_module.lockdown_for(plan_cell(cell)).host_config()
    assert config["mem_limit"] == config["memswap_limit"] == "512m" and config["pids_limit"] == 64
    assert config["cap_drop"] == ["ALL"] and config["security_opt"] == ["no-new-privileges"]
    assert config["read_only"] is True and config["network_mode"] == "none" and config["user"] == "65534:65534"
    assert [m["Target"] for m in config["mounts"]] == ["/npmatrix"]  # type: ignore[attr-defined]
