"""Faults against a real engine of our own: a second Docker daemon (shared/ENGINE.md), started and stopped by
these tests, so stopping it in the middle of a run harms no one else's work on the main engine.

- the engine stops while a cell builds, and again while a cell's probe runs: that cell (and those after it)
  end as engine-error, results.json stays valid, the run exits 3 with the fix; once the engine is back,
  `--resume` finishes the run;
- `clean` on an engine with a live run's container and a dead run's: only the dead one goes.

The daemon has no images of its own: the bookworm amd64 base image is copied from the main engine
(`docker save | docker load`), so `make test` must have made it (the bookworm matrix needs it anyway).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CLI_ENV, REPO

from npmatrix.config import matrix
from npmatrix.host import owner
from npmatrix.host.engine import LABEL, OWNER_LABEL, RUN_LABEL
from npmatrix.plan import cellplan as plan
from npmatrix.records import results

NAME = "npm-fault"
SOCKET = f"/run/{NAME}.sock"
HOST = f"unix://{SOCKET}"
DATA_ROOT = Path(f"/var/lib/{NAME}")
EXEC_ROOT = Path(f"/run/{NAME}")
PIDFILE = Path(f"/run/{NAME}.pid")
DOCKER = "/usr/bin/docker"

# The bookworm colab-like cell, twice (the second differs only in name, so its image builds from cache in
# seconds): enough to stop the engine while the first builds and to see the second fail after it.
MATRIX = """
[defaults]
suite = "bookworm"

[[cell]]
name = "colab-like"
platform = "amd64"
numpy = "2.3.5"
note = "x86_64 with a manylinux wheel from PyPI, as on Colab"

[[cell]]
name = "colab-like-2"
platform = "amd64"
numpy = "2.3.5"
"""


class FaultDaemon:
    """A dockerd of our own, without a bridge, on its own socket, data and exec roots."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [
            "dockerd",
            "--host",
            HOST,
            "--data-root",
            str(DATA_ROOT),
            "--exec-root",
            str(EXEC_ROOT),
            "--pidfile",
            str(PIDFILE),
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
        ]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.docker("info", check=False).returncode == 0:
                return
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            time.sleep(0.5)
        raise AssertionError(f"the fault daemon did not answer in 60 s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop it as `systemctl stop docker` would: SIGTERM, then wait (SIGKILL after 30 s)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKER, *args], env={**os.environ, "DOCKER_HOST": HOST}, capture_output=True, text=True, check=check
        )


def _stop_stale() -> None:
    """A fault daemon left by an interrupted run (its pidfile names a live dockerd on our socket): stopped, so
    that a killed test run does not fail every later one. Any other daemon on the socket still fails below."""
    try:
        pid = int(PIDFILE.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if HOST.encode() not in cmdline:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.5)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultDaemon]:
    fault = FaultDaemon(tmp_path_factory.mktemp("fault-daemon") / "dockerd.log")
    _stop_stale()
    assert fault.docker("info", check=False).returncode != 0, f"a daemon answers on {SOCKET} already"
    fault.start()
    try:
        base = _colab_plan().base_image
        save = subprocess.Popen([DOCKER, "save", base], stdout=subprocess.PIPE)
        load = subprocess.run(
            [DOCKER, "load"],
            stdin=save.stdout,
            env={**os.environ, "DOCKER_HOST": HOST},
            capture_output=True,
            check=False,
        )
        assert save.wait() == 0 and load.returncode == 0, f"copying {base}: {load.stderr.decode()}"
        yield fault
    finally:
        fault.stop()
        shutil.rmtree(DATA_ROOT, ignore_errors=True)
        shutil.rmtree(EXEC_ROOT, ignore_errors=True)
        for leftover in (Path(SOCKET), PIDFILE):
            leftover.unlink(missing_ok=True)


def _colab_plan() -> plan.CellPlan:
    return plan.plan(matrix.load_spec("bookworm", cwd=REPO).select(names=["colab-like"]))[0]


def _run_until(args: list[str], marker: str, then: Any, *, timeout: float = 900) -> tuple[int, str]:
    """Run npmatrix against the fault daemon; when a progress line contains `marker`, call `then`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "npmatrix", *args],
        cwd=REPO,
        env={**CLI_ENV, "DOCKER_HOST": HOST},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None and proc.stdout is not None
    seen: list[str] = []
    fired = False
    started = time.monotonic()
    for line in proc.stderr:
        seen.append(line)
        if not fired and marker in line:
            fired = True
            then()
        assert time.monotonic() - started < timeout, "".join(seen[-20:])
    proc.wait(timeout=60)
    sys.stderr.write("".join(seen[-30:]))
    assert fired, f"never saw {marker!r}: {''.join(seen[-20:])}"
    return proc.returncode, "".join(seen) + proc.stdout.read()


def _stop_soon(fault: FaultDaemon, delay: float) -> Any:
    def stop() -> None:
        time.sleep(delay)
        fault.stop()

    return stop


def test_engine_stopped_during_a_build_then_resumed(daemon: FaultDaemon, tmp_path: Path) -> None:
    matrix_file = tmp_path / "m.toml"
    matrix_file.write_text(MATRIX)
    out = tmp_path / "out"
    args = ["run", "--matrix", str(matrix_file), "--out", str(out)]
    code, output = _run_until(args, "building npmatrix-cell:colab-like-", _stop_soon(daemon, 3))
    assert code == 3, output
    assert "engine error" in output and f"npmatrix run --resume {out}" in output
    assert "Traceback" not in output
    stopped = results.load(out / "results.json")  # valid: written through the one writer, checked on reading
    assert [c.status.value for c in stopped.cells] == ["engine-error", "engine-error"]
    assert stopped.complete

    daemon.start()
    code, output = _run_until(["run", "--matrix", str(matrix_file), "--resume", str(out)], "resuming", lambda: None)
    assert code == 0, output
    resumed = results.load(out / "results.json")
    assert [c.status.value for c in resumed.cells] == ["ok", "ok"], output


def test_engine_stopped_during_a_probe_then_resumed(daemon: FaultDaemon, tmp_path: Path) -> None:
    # After the test above, the daemon has both cell images: this run goes straight to the probes.
    if daemon.proc is None:
        daemon.start()
    matrix_file = tmp_path / "m.toml"
    matrix_file.write_text(MATRIX)
    out = tmp_path / "out"
    args = ["run", "--matrix", str(matrix_file), "--out", str(out)]
    code, output = _run_until(args, "probing and benchmarking", _stop_soon(daemon, 2))
    assert code == 3, output
    stopped = results.load(out / "results.json")
    assert stopped.cells[0].status.value == "engine-error", output
    assert "Traceback" not in output

    daemon.start()
    code, output = _run_until(["run", "--matrix", str(matrix_file), "--resume", str(out)], "resuming", lambda: None)
    assert code == 0, output
    assert [c.status.value for c in results.load(out / "results.json").cells] == ["ok", "ok"]
    assert daemon.docker("ps", "-aq", "--filter", f"label={LABEL}").stdout.strip() == "", "a probe container leaked"


def test_clean_spares_a_live_run_and_removes_a_dead_one(daemon: FaultDaemon, tmp_path: Path) -> None:
    if daemon.proc is None:
        daemon.start()
    base = _colab_plan().base_image
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owners = {"live": owner.current(), "dead": owner.current(pid=int(dead.stdout))}
    for run, label in owners.items():
        daemon.docker(
            "create", "--name", f"npmatrix-clean-{run}", "--network", "none",
            "--label", f"{LABEL}=1", "--label", f"{RUN_LABEL}={run}", "--label", f"{OWNER_LABEL}={label}",
            base, "sleep", "600",
        )  # fmt: skip
    daemon.docker("start", "npmatrix-clean-live")  # a live run's probe container, running
    matrix_file = tmp_path / "m.toml"
    matrix_file.write_text(MATRIX)
    done = subprocess.run(
        [sys.executable, "-m", "npmatrix", "clean", "--matrix", str(matrix_file)],
        cwd=REPO,
        env={**CLI_ENV, "DOCKER_HOST": HOST},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    left = daemon.docker("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.split("\n")
    assert "npmatrix-clean-live running" in left, left
    assert not any(line.startswith("npmatrix-clean-dead") for line in left), left
    assert "kept container npmatrix-clean-live: its run live is still going" in done.stderr
    daemon.docker("rm", "-f", "npmatrix-clean-live")
