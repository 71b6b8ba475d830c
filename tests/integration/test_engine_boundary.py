"""The process and container boundary, for real: what the runner relies on when things hang."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from npmatrix import engine


def test_run_streams_lines_to_log_and_callback(tmp_path: Path) -> None:
    seen: list[str] = []
    log = tmp_path / "out.log"
    done = engine.run(["sh", "-c", "echo one; echo two >&2; exit 3"], log_path=log, on_line=seen.append)
    assert done.returncode == 3 and not done.ok
    assert sorted(seen) == ["one", "two"]
    assert sorted(log.read_text().split()) == ["one", "two"]


def test_run_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    started = time.monotonic()
    done = engine.run(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], timeout=1)
    assert done.timed_out and time.monotonic() - started < 10
    grandchild = int(pidfile.read_text())
    time.sleep(0.2)
    assert not _alive(grandchild), "a timed-out build must not leave its children running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child not yet reaped is a zombie: dead for our purpose.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_container_call_times_out_kills_and_removes(docker_client: Any, default_run: Any) -> None:
    image = default_run.cell("colab-like")["image"]["tag"]
    box = engine.Container(docker_client, image, labels={"org.npmatrix.cell": "boundary-test"})
    with box:
        result = box.call(["sleep", "60"], timeout=2)
        assert result.timed_out and result.duration_s < 30
    assert not docker_client.containers.list(all=True, filters={"label": "org.npmatrix.cell=boundary-test"})


def test_container_copies_files_in_and_separates_streams(docker_client: Any, default_run: Any) -> None:
    image = default_run.cell("colab-like")["image"]["tag"]
    with engine.Container(docker_client, image) as box:
        result = box.call(
            ["sh", "-c", "cat /npmatrix/hello.txt; echo oops >&2; exit 4"], timeout=60, files={"hello.txt": b"hi\n"}
        )
    assert (result.exit_code, result.stdout, result.stderr) == (4, "hi\n", "oops\n")
