"""Beyond one Docker daemon, on real engines (issue 11):

- Podman, through its Docker-compatible socket (scripts/podman-up) and `podman build`: the default matrix's
  amd64 cell and one emulated cell (pi5-64: arm64 under QEMU) end to end, nothing of the CA/pip settings in
  a layer, no container left;
- a platform sent to another engine: a second, independent dockerd on its own socket (scripts/remote-engine-up)
  stands in for the remote ARM machine. It is an x86 machine too, so the arm64 cell is emulated there: a real
  native ARM engine cannot be had here (the unit tests cover native placement with a fake engine).

Base images come from the main engine (`docker save | podman load`, `| docker load`), copied by the scripts
only when missing. What each engine builds is chosen to keep the suite short on a cold machine, by sharing
images rather than skipping: each engine builds an amd64 cell itself (the build path: `podman build`, BuildKit on
the second daemon; about 1.5 min from nothing), and the emulated cell podman runs is the image the default run
built on Docker, copied (building pi5-64 under QEMU on a cold podman took 520 s; running it there is the point).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import docker
import pytest
from conftest import REPO, CliRun, containers_of, npmatrix

from npmatrix.config import matrix
from npmatrix.config.engine_choice import PODMAN_SOCKET, EngineTarget
from npmatrix.host.engine import Engine
from npmatrix.plan import cellplan as plan

REMOTE = "unix:///run/npm-remote.sock"
PODMAN_CELLS = ("colab", "pi5-64")  # the default matrix's amd64 cell, and an emulated one (arm64 as a Pi 5)
# The bookworm matrix's amd64 and arm64 cells: the amd64 one goes to the second daemon, which builds it there;
# the arm64 one stays on the main engine, where the bookworm run built it.
REMOTE_CELLS = ("colab-like", "pi64")


def _bases(spec: str, names: tuple[str, ...]) -> list[str]:
    plans = plan.plan(matrix.load_spec(spec, cwd=REPO).select(names=names))
    return sorted({p.base_image for p in plans})


def _script(name: str, *images: str) -> None:
    done = subprocess.run([str(REPO / "scripts" / name), *images], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"scripts/{name}: {done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def podman_run(tmp_path_factory: pytest.TempPathFactory, default_run: CliRun) -> CliRun:
    emulated = default_run.cell("pi5-64")["image"]["tag"]  # built on Docker by the default run: shared, not rebuilt
    _script("podman-up", *_bases("default", PODMAN_CELLS), emulated)
    out = tmp_path_factory.mktemp("podman-run")
    cells = [arg for name in PODMAN_CELLS for arg in ("--cell", name)]
    return npmatrix("run", "--engine", "podman", *cells, "--out", str(out), out_dir=out, timeout=3600)


@pytest.fixture(scope="module")
def podman() -> Engine:
    return Engine.connect(EngineTarget(kind="podman", host=PODMAN_SOCKET))


def test_the_podman_service_does_not_run_in_a_deleted_directory(podman_run: CliRun) -> None:
    """scripts/podman-up starts the service from / and restarts one left in a deleted directory (a service
    started from an earlier CI clone answered _ping but failed every container start: conmon "Failed to get
    working directory", HTTP 500 "write child: broken pipe")."""
    pids = subprocess.run(["pgrep", "-f", "^podman system service"], capture_output=True, text=True).stdout.split()
    assert pids, "no podman system service runs"
    for pid in pids:
        assert not Path(f"/proc/{pid}/cwd").readlink().name.endswith(" (deleted)"), pid


def test_podman_runs_the_amd64_and_an_emulated_cell_as_expected(podman_run: CliRun) -> None:
    assert podman_run.returncode == 0, podman_run.stderr[-3000:]
    colab, pi5 = (podman_run.cell(name) for name in PODMAN_CELLS)
    assert colab["status"] == "ok" and colab["placement"]["emulator"] is None
    assert colab["summary"]["numpy_version"] == "2.1.3" and colab["summary"]["machine"] == "x86_64"
    # Probed and benchmarked under QEMU through podman (its image copied from Docker): an aarch64 Pi 5.
    assert pi5["image"]["reused"] is True
    assert (
        pi5["status"] == "ok"
        and pi5["placement"]["emulator"] == "binfmt"
        and pi5["placement"]["qemu_cpu"] == "cortex-a76"
    )
    assert pi5["summary"]["machine"] == "aarch64" and pi5["summary"]["numpy_version"] == "2.1.3"
    for cell in (colab, pi5):
        assert cell["engine"] == {"kind": "podman", "host": PODMAN_SOCKET, "context": None, "architecture": "amd64"}
    assert "podman build" in podman_run.results["host"]["builder"]
    assert "amd64 (native) on podman" in podman_run.stdout and "arm64 (qemu cortex-a76) on podman" in podman_run.stdout


def test_podman_leaves_no_container_of_the_run(podman_run: CliRun, podman: Engine) -> None:
    assert containers_of(podman, podman_run.results) == []


def test_podman_puts_nothing_of_the_ca_or_pip_config_in_a_layer(podman_run: CliRun) -> None:
    """As test_bookworm_matrix's check on Docker: `podman build --secret` mounts the CA and pip.conf for one
    RUN step only; the image history, its config and its /run/secrets show none of them."""
    client = docker.DockerClient(base_url=PODMAN_SOCKET)
    image = client.images.get(podman_run.cell("colab")["image"]["tag"])
    history = " ".join(str(h.get("CreatedBy", "")) for h in image.history())
    config = str(image.attrs["Config"])
    for secret_trace in ("BEGIN CERTIFICATE", "cert =", "index-url ="):
        assert secret_trace not in history
        assert secret_trace not in config
    assert "PIP_CONFIG_FILE=/run/secrets/pipconf" in history  # pip read its settings from the secret mount
    limits = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]  # as engine.podman_ulimits
    script = "ls -A /run/secrets 2>/dev/null | wc -l; ls /etc/pip.conf /opt/venv/pip.conf 2>&1"
    run = ["podman", "run", "--rm", "--network", "none", *limits, image.id, "sh", "-c", script]
    listing = subprocess.run(run, capture_output=True, text=True, check=False)  # ls of absent files: exit 2
    assert listing.returncode == 2, listing.stderr  # 2: ls found neither file; anything else: podman failed
    count, *rest = (listing.stdout + listing.stderr).splitlines()
    assert count.strip() == "0", listing.stdout
    assert all("No such file" in line for line in rest), listing.stdout


@pytest.fixture(scope="module")
def remote_run(tmp_path_factory: pytest.TempPathFactory, bookworm_run: CliRun) -> CliRun:
    assert bookworm_run.cell("pi64")["image"]["id"]  # the arm64 image the main engine keeps for this run
    _script("remote-engine-up", *_bases("bookworm", ("colab-like",)))
    out = tmp_path_factory.mktemp("remote-run")
    cells = [arg for name in REMOTE_CELLS for arg in ("--cell", name)]
    args = ["run", "--matrix", "bookworm", *cells, "--engine-for", f"amd64={REMOTE}", "--out", str(out)]
    return npmatrix(*args, out_dir=out, timeout=3600)


def test_a_platform_sent_to_a_second_engine_runs_there_and_results_say_where(remote_run: CliRun) -> None:
    assert remote_run.returncode == 0, remote_run.stderr[-3000:]
    amd64, arm64 = (remote_run.cell(name) for name in REMOTE_CELLS)
    assert amd64["status"] == arm64["status"] == "ok"
    assert amd64["engine"] == {"kind": "docker", "host": REMOTE, "context": None, "architecture": "amd64"}
    assert arm64["engine"] == {"kind": "docker", "host": None, "context": None, "architecture": "amd64"}
    assert amd64["placement"]["emulator"] is None and amd64["summary"]["machine"] == "x86_64"  # native there
    assert (
        arm64["placement"]["emulator"] == "binfmt" and arm64["summary"]["machine"] == "aarch64"
    )  # QEMU on the main engine
    assert f"on docker {REMOTE}" in remote_run.stdout
    assert len(remote_run.results["host"]["engines"]) == 2


def test_the_second_engine_built_the_amd64_image_and_not_the_arm64_one(remote_run: CliRun) -> None:
    remote = Engine.connect(EngineTarget(host=REMOTE))
    assert remote.image_id(remote_run.cell("colab-like")["image"]["tag"]) is not None
    assert remote.image_id(remote_run.cell("pi64")["image"]["tag"]) is None  # arm64 stayed on the main engine


def test_no_container_is_left_on_either_engine(remote_run: CliRun, engine: Engine) -> None:
    remote = Engine.connect(EngineTarget(host=REMOTE))
    assert containers_of(engine, remote_run.results) == []
    assert containers_of(remote, remote_run.results) == []


def test_doctor_reports_both_engines_and_native_or_qemu_per_platform(remote_run: CliRun, tmp_path: Path) -> None:
    args = ["doctor", "--matrix", "bookworm", "--cell", "colab-like", "--cell", "pi64"]
    # Its exit code is not checked: containers of other people's live runs on the shared main engine count as
    # leftovers there. The lines are what this test is about.
    out = npmatrix(*args, "--engine-for", f"amd64={REMOTE}", out_dir=tmp_path).stdout
    assert f"engine [docker ({REMOTE})]" in out and "engine [docker (default socket)]" in out
    assert f"native on docker ({REMOTE})" in out  # amd64, on the second daemon
    assert "QEMU arm64" in out and "emulated: /proc/sys/fs/binfmt_misc/qemu-aarch64" in out  # local socket
    assert "builder" in out
