"""What happens when things go wrong on the real engine: timeouts, Ctrl-C, bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import CLI_ENV, REPO, CliRun, containers_of, npmatrix

from npmatrix.host.engine import Engine

# The same Dockerfile as the default pi32-apt cell (so its image is reused), with a 1 s limit. Not a Pi 1: an
# ARMv6 CPU on Debian's armhf now ends before anything is built (judge/before.py). The limit holds for each of
# the probe's two calls; the second, the benchmark, multiplies 1024x1024 matrices on the reference BLAS under
# QEMU (measured here at 0.2-0.3 GFLOP/s, so seconds per product): no machine emulates that in 1 s, so the
# cell times out however fast or idle the machine is. Its container must be killed and removed.
TIMEOUT_MATRIX = """
[[cell]]
name = "pi32-apt"
platform = "arm/v7"
cpu = "pi4"
install = "apt"
timeout = 1
expect = "timeout"
"""


def test_a_cell_over_its_timeout_is_stopped_removed_and_reported(
    bookworm_run: CliRun, tmp_path: Path, engine: Engine
) -> None:
    matrix = tmp_path / "timeout.toml"
    matrix.write_text(TIMEOUT_MATRIX)
    started = time.monotonic()
    ran = npmatrix("run", "--matrix", str(matrix), "--out", str(tmp_path / "out"), out_dir=tmp_path / "out")
    assert ran.returncode == 0, ran.stdout + ran.stderr  # timeout was expected
    cell = ran.cell("pi32-apt")
    assert cell["status"] == "timeout"
    assert "1 s" in cell["reason"]
    assert time.monotonic() - started < 60
    assert containers_of(engine, ran.results) == []


def test_ctrl_c_keeps_finished_cells_and_removes_containers(
    bookworm_run: CliRun, tmp_path: Path, docker_client: Any, engine: Engine
) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "npmatrix",
            "run",
            "--matrix",
            "bookworm",
            "--cell",
            "colab-like",
            "--cell",
            "pi64",
            "--out",
            str(out),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=CLI_ENV,
    )
    results = out / "results.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # wait until colab-like is recorded and pi64's probe container runs
        cells = json.loads(results.read_text())["cells"] if results.exists() else []
        if cells and _running(docker_client):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("the run never reached the second cell")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    document = json.loads(results.read_text())
    assert [c["name"] for c in document["cells"]] == ["colab-like"]
    assert document["complete"] is False
    assert containers_of(engine, document) == []


def _running(docker_client: Any) -> bool:
    return bool(docker_client.containers.list(filters={"label": "org.npmatrix.cell=pi64"}))


def test_bad_matrix_is_one_line_exit_2_and_touches_nothing(tmp_path: Path) -> None:
    matrix = tmp_path / "bad.toml"
    matrix.write_text('[[cell]]\nname = "x"\nplatform = "arm64"\nnumpy = "2.3.5"\nexpcet = "ok"\n')
    ran = npmatrix("run", "--matrix", str(matrix), "--out", str(tmp_path / "out"), out_dir=tmp_path / "out")
    assert ran.returncode == 2
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and "did you mean 'expect'" in lines[0] and str(matrix) in lines[0]
    assert not (tmp_path / "out").exists()
