"""Probe containers are locked down (issue 8), proven on a live container of the bookworm colab-like cell, and
a probe over its memory limit is classified as out of memory. Small on purpose: the engine is shared, and the
colab-like image is built once (about a minute) and reused after."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import CliRun, npmatrix

from npmatrix.config import matrix
from npmatrix.host.engine import Engine
from npmatrix.plan import cellplan as plan
from npmatrix.plan import protocol
from npmatrix.run import probe

OOM_MATRIX = """
[[cell]]
name = "colab-like"          # the bookworm colab-like cell's Dockerfile: its image is reused
platform = "amd64"
suite = "bookworm"
numpy = "2.3.5"
note = "x86_64 with a manylinux wheel from PyPI, as on Colab"
memory = "40m"               # Python starts; NumPy's import and the benchmark do not fit
expect = "crashed"
"""


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    out = tmp_path_factory.mktemp("colab-like")
    ran = npmatrix("run", "--matrix", "bookworm", "--cell", "colab-like", "--out", str(out), out_dir=out)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran


def _plan() -> plan.CellPlan:
    return plan.plan(matrix.load_spec("bookworm", cwd=Path.cwd()).select(names=["colab-like"]))[0]


def _exec(box: Any, *command: str) -> tuple[int, str]:
    code, output = box.exec_run(list(command), user="")  # as the container's own user
    return code, output.decode(errors="replace")


def test_a_live_probe_container_is_locked_down(colab_like: CliRun, engine: Engine, docker_client: Any) -> None:
    cell_plan = _plan()
    box = engine.container(
        cell_plan.image_tag,
        cell_plan.probe_command().argv(),
        oci_platform=cell_plan.platform.oci,
        labels={"org.npmatrix.run": "test-lockdown"},
        lockdown=probe.lockdown_for(cell_plan),
    )
    with box:
        box.copy_into(probe.files_for(cell_plan), protocol.PROBE_DIR)
        outcome: dict[str, Any] = {}
        runner = threading.Thread(target=lambda: outcome.update(result=box.run(timeout=300)))
        runner.start()
        live = docker_client.containers.get(box.name)
        deadline = time.monotonic() + 30
        while live.status != "running" and time.monotonic() < deadline:
            time.sleep(0.2)
            live.reload()
        assert live.status == "running"
        host = live.attrs["HostConfig"]
        # What the engine was told ...
        assert host["NetworkMode"] == "none"
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
        assert host["SecurityOpt"] == ["no-new-privileges"]
        assert host["ReadonlyRootfs"] is True
        assert "/tmp" in host["Tmpfs"] and "size=64m" in host["Tmpfs"]["/tmp"]
        assert host["Memory"] == 2 * 1024**3 and host["MemorySwap"] == 2 * 1024**3
        assert host["PidsLimit"] == 512
        assert host["Privileged"] is False
        assert live.attrs["Config"]["User"] == "65534:65534"
        # ... and what a process inside sees.
        assert _exec(live, "id", "-u") == (0, "65534\n")
        status = _exec(live, "cat", "/proc/self/status")[1]
        assert "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status
        assert _exec(live, "touch", "/opt/venv/x")[0] != 0, "the root file system is writable"
        assert _exec(live, "touch", "/tmp/x") == (0, "")
        assert _exec(live, "ls", f"{protocol.PROBE_DIR}/probe.py")[0] == 0
        runner.join(timeout=300)
    result = outcome["result"]
    assert result.exit_code == 0, result.stderr
    facts = probe.probe_file.parse_output(
        exit_code=result.exit_code, stdout=result.stdout, stderr=result.stderr, duration_s=1.0
    ).facts
    assert facts is not None and facts["numpy"]["import_ok"] is True, "NumPy must import as nobody"
    assert facts["pip"]["version"], "pip must answer with a read-only root"
    assert box.name not in [c.name for c in docker_client.containers.list(all=True)]


def test_a_probe_over_its_memory_limit_is_out_of_memory(colab_like: CliRun, tmp_path: Path) -> None:
    matrix_file = tmp_path / "oom.toml"
    matrix_file.write_text(OOM_MATRIX)
    out = tmp_path / "out"
    ran = npmatrix("run", "--matrix", str(matrix_file), "--out", str(out), out_dir=out)
    cell = ran.cell("colab-like")
    assert cell["status"] == "crashed", cell["reason"]
    assert cell["reason"].startswith("out of memory:"), cell["reason"]
    assert "40m" in cell["reason"] and "OOMKilled" in cell["reason"]
    assert cell["evidence"][0] == "engine: State.OOMKilled = true"
    assert ran.returncode == 0, ran.stdout + ran.stderr  # crashed was expected
