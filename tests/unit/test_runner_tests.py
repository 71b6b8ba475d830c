"""The runner runs a cell's test_command as a third locked-down call, after the probe, with the fake engine;
results.json keeps what it found, and test_skip or a failed probe say the tests did not run."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from fakes import FakeEngine, fake_builds

from npmatrix.config import matrix
from npmatrix.host.engine import CallResult
from npmatrix.plan import cellplan as plan
from npmatrix.plan import testcommand
from npmatrix.records import results
from npmatrix.run import runner
from npmatrix.verdict import Status

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
FACTS = (DATA / "probe-host-amd64-numpy-ok.json").read_text()
FAILED = json.loads((DATA / "testruns" / "failed.json").read_text())


def _plans(top: str = "") -> tuple[plan.CellPlan, ...]:
    text = f"""{top}
[defaults]
numpy = "2.3.5"
project = "ownproject"
test_requires = ["pytest==8.3.4"]
test_command = "pytest {{project}}/tests"
test_timeout = 90
[[cell]]
name = "own"
platform = "amd64"
"""
    return plan.plan(matrix.loads(text, source=str(DATA / "m.toml")))


@pytest.fixture
def engine(fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    monkeypatch.setattr(runner, "ensure_bases", lambda *a, **k: {})
    fake_builds(monkeypatch, fake_engine, failing={}, image_id="sha256:cell")

    def respond(image: str, command: Sequence[str]) -> CallResult:
        if list(command[:1]) == ["sh"]:
            return CallResult(exit_code=1, stdout=FAILED["stdout"], stderr=FAILED["stderr"], duration_s=2.0)
        return CallResult(exit_code=0, stdout=FACTS, stderr="", duration_s=1.0)

    fake_engine.respond = respond
    return fake_engine


def test_the_tests_run_after_the_probe_locked_down_and_end_in_results_json(engine: FakeEngine, tmp_path: Path) -> None:
    seen: list[str] = []
    (result,) = runner.run(_plans(), runner.RunOptions(out_dir=tmp_path), progress=seen.append)
    box = engine.created[-1]
    assert box.command == testcommand.argv("pytest {project}/tests")
    assert box.command[-1] == "pytest /opt/npmatrix-project/tests"
    assert box.lockdown.tmpfs_size == testcommand.TMPFS_SIZE and box.lockdown.scripts_dir is None
    assert box.environment["PYTEST_ADDOPTS"].startswith(f"--junitxml={testcommand.JUNIT_PATH}")
    assert box.timeout == 90
    assert (result.status, result.verdict.reason) == (
        Status.TESTS_FAILED,
        "1 of 2 tests failed: tests/test_sample.py::test_fails_on_purpose",
    )
    assert any("running tests: pytest {project}/tests" in line for line in seen)
    read = results.load(tmp_path / "results.json")
    (cell,) = read.cells
    assert cell.tests is not None and cell.tests.failed == ("tests/test_sample.py::test_fails_on_purpose",)
    assert cell.tests.counts == {"tests": 2, "failures": 1, "errors": 0, "skipped": 0}
    assert cell.durations["tests"] == 2.0
    assert "test_fails_on_purpose" in Path(cell.logs["tests"]).read_text()


def test_a_cell_named_by_test_skip_says_so_and_runs_no_tests(engine: FakeEngine, tmp_path: Path) -> None:
    (result,) = runner.run(_plans('test_skip = ["ow*"]'), runner.RunOptions(out_dir=tmp_path), progress=print)
    assert all(box.command[:1] != ["sh"] for box in engine.created)
    assert result.status is Status.OK
    assert result.verdict.reason.endswith("; tests skipped by test_skip")
    assert result.tests is not None and result.tests.skipped == "tests skipped by test_skip"


def test_an_amd64_cpu_model_not_applied_to_the_tests_is_said_in_the_reason(engine: FakeEngine, tmp_path: Path) -> None:
    plans = _plans()
    cell = dataclasses.replace(plans[0].cell, cpu="x86-64-v1")
    (result,) = runner.run([plan.plan_cell(cell)], runner.RunOptions(out_dir=tmp_path), progress=print)
    assert result.verdict.reason.endswith(
        "(tests run on this machine's own CPU: cpu = 'x86-64-v1' applies to the probe only)"
    )
    assert result.tests is not None and result.tests.note is not None
    assert results.load(tmp_path / "results.json").cells[0].tests == result.tests
