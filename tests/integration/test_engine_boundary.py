"""The process and container boundary, for real: what the runner relies on when things hang or fail."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from npmatrix.errors import EngineError
from npmatrix.host import process
from npmatrix.host.engine import Engine


def test_run_streams_lines_to_log_and_callback(tmp_path: Path) -> None:
    seen: list[str] = []
    log = tmp_path / "out.log"
    done = process.run(["sh", "-c", "echo one; echo two >&2; exit 3"], log_path=log, on_line=seen.append)
    assert done.exit_code == 3 and not done.ok
    assert sorted(seen) == ["one", "two"]
    assert sorted(log.read_text().split()) == ["one", "two"]


def test_run_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    started = time.monotonic()
    done = process.run(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], timeout=1)
    assert done.timed_out and time.monotonic() - started < 10
    grandchild = int(pidfile.read_text())
    time.sleep(0.2)
    assert not _alive(grandchild), "a timed-out build must not leave its children running"


def test_capture_keeps_streams_apart_and_kills_the_group_on_timeout(tmp_path: Path) -> None:
    done = process.capture(["sh", "-c", "echo out; echo err >&2; exit 5"], timeout=30)
    assert (done.exit_code, done.stdout, done.stderr) == (5, "out\n", "err\n")
    pidfile = tmp_path / "grandchild.pid"
    hung = process.capture(["sh", "-c", f"echo started; sleep 60 & echo $! > {pidfile}; wait"], timeout=1)
    assert hung.timed_out and hung.stdout == "started\n"
    time.sleep(0.2)
    assert not _alive(int(pidfile.read_text()))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child not yet reaped is a zombie: dead for our purpose.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _labelled(docker_client: Any, value: str) -> list[Any]:
    return list(docker_client.containers.list(all=True, filters={"label": f"org.npmatrix.cell={value}"}))


def test_container_run_times_out_kills_and_removes(engine: Engine, docker_client: Any, bookworm_run: Any) -> None:
    image = bookworm_run.cell("colab-like")["image"]["tag"]
    with engine.container(image, ["sleep", "60"], labels={"org.npmatrix.cell": "boundary-timeout"}) as box:
        assert len(_labelled(docker_client, "boundary-timeout")) == 1
        result = box.run(timeout=2)
        assert result.timed_out and result.duration_s < 30
    assert _labelled(docker_client, "boundary-timeout") == []


def test_container_copies_files_in_and_separates_streams(engine: Engine, bookworm_run: Any) -> None:
    image = bookworm_run.cell("colab-like")["image"]["tag"]
    command = ["sh", "-c", "cat /npmatrix/hello.txt; echo oops >&2; exit 4"]
    with engine.container(image, command) as box:
        box.copy_into({"hello.txt": b"hi\n"}, "/npmatrix")
        result = box.run(timeout=60)
    assert (result.exit_code, result.stdout, result.stderr) == (4, "hi\n", "oops\n")


def test_a_container_is_created_once_and_removed_when_its_block_fails(
    engine: Engine, docker_client: Any, bookworm_run: Any
) -> None:
    image = bookworm_run.cell("colab-like")["image"]["tag"]
    box = engine.container(image, ["true"], labels={"org.npmatrix.cell": "boundary-once"})
    with pytest.raises(RuntimeError, match="in the middle"), box:
        with pytest.raises(EngineError, match="already created"), box:
            pass  # entering again would create a second container under the same name
        assert [c.name for c in _labelled(docker_client, "boundary-once")] == [box.name]
        raise RuntimeError("something failed in the middle of a cell")
    assert _labelled(docker_client, "boundary-once") == []


def test_engine_failures_are_our_own_typed_errors(engine: Engine) -> None:
    missing = engine.container("npmatrix-cell:no-such-image", ["true"])
    with pytest.raises(EngineError, match="creating a container of npmatrix-cell:no-such-image") as failure, missing:
        pass
    assert "NotFound" in str(failure.value)
