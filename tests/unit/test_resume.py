"""`npmatrix run --resume DIR`: only the cells missing or ended by an engine error in DIR run again."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeEngine

from npmatrix.cli import cli
from npmatrix.config import matrix
from npmatrix.errors import ConfigError
from npmatrix.host.engine import CallResult
from npmatrix.plan import cellplan as plan
from npmatrix.records import results

DATA = Path(__file__).resolve().parents[1] / "data"
OK_REPORT = (DATA / "probe-host-amd64-numpy-ok.json").read_text()
MATRIX = """
[[cell]]
name = "first"
platform = "amd64"
numpy = "2.3.5"

[[cell]]
name = "second"
platform = "amd64"
numpy = "2.3.4"
"""


def _ok(image: str, command: Sequence[str]) -> CallResult:
    return CallResult(exit_code=0, stdout=OK_REPORT, stderr="", duration_s=1.0)


@pytest.fixture
def setup(fake_engine: FakeEngine, tmp_path: Path) -> tuple[FakeEngine, Path, list[plan.CellPlan]]:
    matrix_file = tmp_path / "m.toml"
    matrix_file.write_text(MATRIX)
    plans = list(plan.plan(matrix.load(matrix_file)))
    fake_engine.respond = _ok
    fake_engine.images = {p.base_image: "sha256:base" for p in plans}
    fake_engine.images[plans[0].image_tag] = "sha256:first"  # the second cell's image is missing: engine error
    return fake_engine, matrix_file, plans


def _run(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(cli, ["run", *args])
    if isinstance(done.exception, ConfigError):
        return 2, str(done.exception)
    return done.exit_code, done.output


def test_resume_runs_only_what_did_not_finish(
    setup: tuple[FakeEngine, Path, list[plan.CellPlan]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, matrix_file, plans = setup
    out = tmp_path / "out"
    # The first run: "second" fails in the engine, as when the daemon goes away in the middle of a run.
    import npmatrix.run.build as build_module

    original = build_module.build_cell
    with monkeypatch.context() as patch:
        patch.setattr(
            build_module, "build_cell", lambda p, **kw: original(p, **kw) if p.cell.name == "first" else _vanish()
        )
        code, _ = _run("--matrix", str(matrix_file), "--out", str(out))
    first = results.load(out / "results.json")
    assert [c.status.value for c in first.cells] == ["ok", "engine-error"] and code == 3
    created_before = len(fake.created)

    fake.images[plans[1].image_tag] = "sha256:second"  # the engine is back
    code, output = _run("--matrix", str(matrix_file), "--resume", str(out))
    assert code == 0, output
    resumed = results.load(out / "results.json")
    assert [c.status.value for c in resumed.cells] == ["ok", "ok"]
    assert resumed.complete
    assert resumed.cells[0].to_json() == first.cells[0].to_json()  # kept as it was, not run again
    assert [b.image for b in fake.created[created_before:]] == [plans[1].image_tag]


def _vanish() -> None:
    from npmatrix.errors import EngineError

    raise EngineError("building: ConnectionError: the engine went away")


def test_resume_of_a_complete_run_runs_nothing(
    setup: tuple[FakeEngine, Path, list[plan.CellPlan]], tmp_path: Path
) -> None:
    fake, matrix_file, plans = setup
    fake.images[plans[1].image_tag] = "sha256:second"
    out = tmp_path / "out"
    assert _run("--matrix", str(matrix_file), "--out", str(out))[0] == 0
    created = len(fake.created)
    assert _run("--matrix", str(matrix_file), "--resume", str(out))[0] == 0
    assert len(fake.created) == created


def test_resume_refuses_another_matrix(setup: tuple[FakeEngine, Path, list[plan.CellPlan]], tmp_path: Path) -> None:
    fake, matrix_file, plans = setup
    fake.images[plans[1].image_tag] = "sha256:second"
    out = tmp_path / "out"
    _run("--matrix", str(matrix_file), "--out", str(out))
    code, message = _run("--matrix", "bookworm", "--resume", str(out))
    assert code == 2 and "was written for matrix" in message and "builtin:bookworm" in message


def test_resume_refuses_cells_whose_inputs_changed(
    setup: tuple[FakeEngine, Path, list[plan.CellPlan]], tmp_path: Path
) -> None:
    fake, matrix_file, plans = setup
    fake.images[plans[1].image_tag] = "sha256:second"
    out = tmp_path / "out"
    _run("--matrix", str(matrix_file), "--out", str(out))
    matrix_file.write_text(MATRIX.replace('"2.3.4"', '"2.3.3"'))
    code, message = _run("--matrix", str(matrix_file), "--resume", str(out))
    assert code == 2 and "cell 'second' was run with other inputs (numpy changed since)" in message


def test_resume_needs_a_results_file_and_the_same_out(
    setup: tuple[FakeEngine, Path, list[plan.CellPlan]], tmp_path: Path
) -> None:
    _, matrix_file, _ = setup
    code, message = _run("--matrix", str(matrix_file), "--resume", str(tmp_path / "nothing"))
    assert code == 2 and "cannot read it" in message
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "results.json").write_text(json.dumps({"schema_version": 1}))
    code, message = _run("--matrix", str(matrix_file), "--resume", str(tmp_path / "nothing"), "--out", str(tmp_path))
    assert code == 2 and "--out" in message


def test_resume_removes_containers_its_interrupted_run_left(
    setup: tuple[FakeEngine, Path, list[plan.CellPlan]], tmp_path: Path
) -> None:
    import subprocess
    import sys

    from npmatrix.host import owner
    from npmatrix.host.engine import LABEL, OWNER_LABEL, RUN_LABEL

    fake, matrix_file, plans = setup
    fake.images[plans[1].image_tag] = "sha256:second"
    out = tmp_path / "out"
    _run("--matrix", str(matrix_file), "--out", str(out))
    run_id = results.load(out / "results.json").host["run_id"]
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True).stdout)
    fake.containers = {
        "npmatrix-left": {LABEL: "1", RUN_LABEL: run_id, OWNER_LABEL: owner.current(pid=dead)},
        "npmatrix-other-run": {LABEL: "1", RUN_LABEL: "another", OWNER_LABEL: owner.current(pid=dead)},
    }
    assert _run("--matrix", str(matrix_file), "--resume", str(out))[0] == 0
    assert list(fake.containers) == ["npmatrix-other-run"]


def test_an_output_directory_that_fills_up_ends_the_run_with_one_line_and_keeps_finished_cells(
    setup: tuple[FakeEngine, Path, list[plan.CellPlan]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    fake, matrix_file, plans = setup
    fake.images[plans[1].image_tag] = "sha256:second"
    out = tmp_path / "out"
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        # results.json is written at the start and after each cell, the probe log before each: fail the fifth
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    # one cell at a time: the fsyncs counted above come in this order only then
    code, message = _run("--matrix", str(matrix_file), "--out", str(out), "--jobs", "1")
    assert code == 2 and "cannot write: No space left on device" in message and "\n" not in message
    kept = results.load(out / "results.json")
    assert [c.name for c in kept.cells] == ["first"] and not kept.complete


def test_build_logs_are_redacted(tmp_path: Path) -> None:
    import subprocess

    from npmatrix.host import process

    # The unit tier refuses process.run itself; its pump, which writes the log, is what redacts.
    log = tmp_path / "build.log"
    leak = "Looking in indexes: https://alice:secret@h/simple\\n"
    with open(log, "w+b") as out:
        proc = subprocess.Popen(["printf", leak], stdout=subprocess.PIPE)
        process._pump(proc, out, timeout=10, on_line=None)
    assert log.read_text() == "Looking in indexes: https://***@h/simple\n"
