"""`clean` removes only containers of runs that are over: two runs on one engine do not interfere."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeEngine

from npmatrix.cli import cli
from npmatrix.host import owner
from npmatrix.host.engine import LABEL, OWNER_LABEL, RUN_LABEL


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(done.stdout)


def test_this_process_is_alive() -> None:
    assert owner.liveness(owner.current()) is owner.Liveness.ALIVE


def test_a_finished_process_is_dead() -> None:
    assert owner.liveness(owner.current(pid=_dead_pid())) is owner.Liveness.DEAD


def test_a_reused_pid_is_dead(tmp_path: Path) -> None:
    # Same pid, another start time: the run that labelled the container is gone, a new process has its pid.
    pid = os.getpid()
    host = socket.gethostname()
    assert owner.liveness(f"{host}/{pid}/1") is owner.Liveness.DEAD


@pytest.mark.parametrize("label", ["", "garbage", "otherhost/1/2", "h/x/2", "a/b/c/d"])
def test_labels_that_cannot_be_checked_are_unknown(label: str) -> None:
    assert owner.liveness(label) is owner.Liveness.UNKNOWN


def test_start_time_survives_a_command_name_with_spaces_and_parens(tmp_path: Path) -> None:
    (tmp_path / "42").mkdir()
    fields = " ".join(str(i) for i in range(3, 30))
    (tmp_path / "42" / "stat").write_text(f"42 (evil ) name) {fields}\n")
    assert owner.current(pid=42, proc=tmp_path).endswith("/42/22")


def _labels(run: str, owner_label: str | None) -> dict[str, str]:
    labels = {LABEL: "1", RUN_LABEL: run}
    if owner_label is not None:
        labels[OWNER_LABEL] = owner_label
    return labels


def test_clean_keeps_live_runs_and_removes_finished_ones(fake_engine: FakeEngine) -> None:
    fake_engine.containers = {
        "npmatrix-live": _labels("live", owner.current()),
        "npmatrix-dead": _labels("dead", owner.current(pid=_dead_pid())),
        "npmatrix-remote": _labels("remote", "elsewhere/1/1"),
        "npmatrix-old": _labels("old", None),
    }
    done = CliRunner().invoke(cli, ["clean", "--matrix", "bookworm"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert sorted(fake_engine.containers) == ["npmatrix-live", "npmatrix-old", "npmatrix-remote"]
    assert "removed container npmatrix-dead" in done.stdout
    assert "kept container npmatrix-live: its run live is still going" in done.stderr
    assert "--all removes it" in done.stderr


def test_clean_all_removes_unknown_owners_but_never_a_live_run(fake_engine: FakeEngine) -> None:
    fake_engine.containers = {
        "npmatrix-live": _labels("live", owner.current()),
        "npmatrix-old": _labels("old", None),
    }
    done = CliRunner().invoke(cli, ["clean", "--matrix", "bookworm", "--all"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert sorted(fake_engine.containers) == ["npmatrix-live"]


def test_clean_reads_its_input_before_the_engine(fake_engine: FakeEngine, tmp_path: Path) -> None:
    fake_engine.containers = {"npmatrix-dead": _labels("dead", owner.current(pid=_dead_pid()))}
    fake_engine.fail_with = "the engine must not be asked"
    done = CliRunner().invoke(cli, ["clean", "--matrix", str(tmp_path / "typo.toml")])
    assert done.exit_code != 0 and "cannot read matrix file" in str(done.exception)
    assert list(fake_engine.containers) == ["npmatrix-dead"]


def test_runs_label_their_containers_with_their_owner(fake_engine: FakeEngine, tmp_path: Path) -> None:
    from npmatrix.config import matrix
    from npmatrix.plan import cellplan as plan
    from npmatrix.run import runner

    (cell,) = matrix.parse({"cell": [{"name": "c", "platform": "amd64", "numpy": "2.3.5"}]}).cells
    (cell_plan,) = plan.plan(matrix.Matrix(source="m", cells=(cell,)))
    fake_engine.images = {cell_plan.image_tag: "sha256:x", cell_plan.base_image: "sha256:b"}
    runner.run([cell_plan], runner.RunOptions(out_dir=tmp_path, keep_containers=True), progress=lambda m: None)
    (box,) = fake_engine.created
    assert owner.liveness(box.labels[OWNER_LABEL]) is owner.Liveness.ALIVE
    assert box.labels[RUN_LABEL]
