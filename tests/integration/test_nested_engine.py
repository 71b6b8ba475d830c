"""A fresh Debian 12 and a fresh Debian 13 machine, each stood up by scripts/engine-up and running a matrix.

Each release gets a privileged container (PRIVILEGES: all but CAP_SYS_RESOURCE) from the Debian base image
npmatrix already built (npmatrix-base:RELEASE-amd64-*: no registry is reachable here), with the checkout mounted
read-only. Inside it
runs what a fresh clone's `make matrix` runs: scripts/engine-up (it installs that release's packages from the
Debian archive, starts dockerd and checks that a build and an ARM container work), then npmatrix installed
from the checkout, then `npmatrix run` of one amd64 and one arm64 cell, whose base images the nested engine
builds itself with npmatrix's own base build (mmdebstrap). What the nested machine shares with this one:

- the kernel's binfmt_misc handlers (kernel-global; the F flag keeps the interpreter this kernel opened),
  so the arm64 cell runs under the host's registered QEMU, whatever QEMU the nested release installs;
- the host network (there is no bridge on our machines, see /work/shared/ENGINE.md), and the TLS proxy's CA
  (this machine's CA bundle mounted over the container's, so apt, pip and the builds' secrets all trust it);
- nothing else: the nested dockerd keeps its images on its own volume, removed after the test.

Debian 13 builds with `--builder default` through its docker-buildx 0.13: the `default` builder (the docker
driver) builds on the daemon's own BuildKit and needs no registry. A docker-container builder would first pull
moby/buildkit from Docker Hub, which is unreachable here, so it cannot be tested on these machines. Debian 12
has no buildx plugin: it builds with its docker 20.10 CLI's built-in BuildKit, as npmatrix detects.

Both releases are set up side by side (threads: the set-up waits on downloads and emulated maintainer
scripts) in one module-scoped fixture, so the file takes one release's time, not two.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

from npmatrix.host.engine import Engine

RELEASES = {"bookworm": "12", "trixie": "13"}
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
MATRIX = """
[defaults]
suite = "{suite}"

[[cell]]
name = "nested-amd64"
platform = "amd64"
numpy = "2.3.5"

[[cell]]
name = "nested-arm64"
platform = "arm64"
cpu = "pi4"  # not QEMU's default 'max': its SVE makes OpenBLAS's float32 GEMM wrong (the gallery's pi64-qemu-max)
numpy = "2.3.5"
"""
# What runs inside, after engine-up: npmatrix from a copy of the checkout (pip writes build files next to the
# sources, and the mount is read-only), then the matrix. PIP_CERT: pip trusts certifi's CAs, not the system's.
INSTALL = (
    "set -e; rm -rf /opt/src && mkdir /opt/src"
    " && tar -C /src --exclude=.git --exclude=.venv -cf - . | tar -C /opt/src -xf -"
    " && python3 -m venv /opt/venv && /opt/venv/bin/pip install -q /opt/src"
)


@dataclass(frozen=True)
class Nested:
    release: str
    engine_up: subprocess.CompletedProcess[str]
    engine_up_again: subprocess.CompletedProcess[str]
    run: subprocess.CompletedProcess[str]
    results: dict[str, Any]

    def cell(self, name: str) -> dict[str, Any]:
        return next(c for c in self.results["cells"] if c["name"] == name)


def _docker(*args: str, timeout: float = 120, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False)


def _base_image(release: str, platform: str = "amd64") -> str:
    listed = _docker("images", "--format", "{{.Repository}}:{{.Tag}}", "npmatrix-base").stdout.split()
    found = [tag for tag in listed if tag.startswith(f"npmatrix-base:{release}-{platform}-")]
    if not found:  # a failure, not a skip: `make test` builds the bases first
        pytest.fail(f"no npmatrix-base:{release}-{platform}-* image in the engine: run `make bases` first")
    return found[0]


def _load_bases(release: str, name: str) -> None:
    """This engine's base images of `release`, loaded into the nested engine under the same tags."""
    images = " ".join(shlex.quote(_base_image(release, platform)) for platform in ("amd64", "arm64"))
    loaded = subprocess.run(
        ["sh", "-c", f"docker save {images} | docker exec -i {shlex.quote(name)} docker load"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]


# --privileged is refused on our machines (runc: "unable to apply caps": this VM's bounding set lacks
# CAP_SYS_RESOURCE), so every capability but that one, and no seccomp/AppArmor/masked /proc paths (binfmt_misc
# must be mountable), access to every device, and the host's cgroup v1 tree writable for the nested runc.
PRIVILEGES = (
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm",
    "--label", "org.npmatrix.test=nested", "--network", "host",
)  # fmt: skip


def _mounts(name: str) -> list[str]:
    return [
        *("-v", f"{name}:/var/lib/docker"),  # a volume: overlay2 cannot stack on the container's own overlay
        *("-v", f"{REPO}:/src:ro", "-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro", "-v", "/sys/fs/cgroup:/sys/fs/cgroup"),
    ]


def _remove_cgroups(name: str) -> None:
    """The nested engine's cgroup directories, empty once its container is gone (deepest first)."""
    found = sorted(Path("/sys/fs/cgroup").glob(f"*/{name}/**/"), key=lambda p: len(p.parts), reverse=True)
    for directory in found:
        with contextlib.suppress(OSError):
            directory.rmdir()


def _exec(name: str, script: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
    return _docker("exec", "-e", f"PIP_CERT={CA_BUNDLE}", name, "bash", "-c", script, timeout=timeout)


def _set_up_and_run(release: str, name: str) -> Nested:
    """One fresh machine: engine-up, npmatrix installed, the two cells run, results.json read back."""
    started = _docker(
        "run", "-d", "--name", name, *PRIVILEGES, *_mounts(name), _base_image(release), "sleep", "infinity"
    )
    assert started.returncode == 0, started.stderr
    # Its containers' cgroups under a parent of its own, not beside the host engine's /docker ones.
    _exec(
        name, f'mkdir -p /etc/docker && echo \'{{"cgroup-parent": "/{name}"}}\' > /etc/docker/daemon.json', timeout=30
    )
    engine_up = _exec(name, "/src/scripts/engine-up", timeout=900)
    if engine_up.returncode != 0:
        return Nested(release, engine_up, engine_up, engine_up, {})
    _load_bases(release, name)
    installed = _exec(name, INSTALL, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    builder = ["--builder", "default"] if release == "trixie" else []
    matrix = MATRIX.format(suite=release).replace("'", "'\\''")
    run = _exec(
        name,
        f"printf '%s' '{matrix}' > /opt/m.toml && cd /opt/src && COLUMNS=400 /opt/venv/bin/npmatrix run "
        f"--matrix /opt/m.toml --out /opt/out {' '.join(builder)}",
        timeout=1500,
    )
    results = _exec(name, "cat /opt/out/results.json", timeout=60)
    again = _exec(name, "/src/scripts/engine-up", timeout=120)  # now with an arm64 base image to run
    return Nested(release, engine_up, again, run, json.loads(results.stdout) if results.returncode == 0 else {})


@pytest.fixture(scope="module")
def nested(engine: Engine) -> Iterator[dict[str, Nested]]:
    names = {release: f"npmatrix-nested-{release}-{uuid.uuid4().hex[:8]}" for release in RELEASES}
    try:
        with ThreadPoolExecutor(len(RELEASES)) as pool:
            futures = {release: pool.submit(_set_up_and_run, release, name) for release, name in names.items()}
            yield {release: future.result() for release, future in futures.items()}
    finally:
        for name in names.values():
            _docker("rm", "-f", "-v", name, timeout=300)
            _docker("volume", "rm", "-f", name, timeout=300)
            _remove_cgroups(name)


@pytest.mark.parametrize("release", list(RELEASES))
def test_engine_up_stands_up_an_engine_that_builds_and_runs_arm(nested: dict[str, Nested], release: str) -> None:
    machine = nested[release]
    assert machine.engine_up.returncode == 0, machine.engine_up.stderr[-3000:]
    assert "engine-up: installing docker.io" in machine.engine_up.stderr
    if release == "trixie":  # docker 26's CLI cannot build with BuildKit without it
        assert "docker-buildx" in machine.engine_up.stderr
        assert "ready: 'docker buildx build --load' builds" in machine.engine_up.stderr
    else:
        assert "ready: 'env DOCKER_BUILDKIT=1 /usr/bin/docker build' builds" in machine.engine_up.stderr
    # The second run finds the arm64 base loaded before the matrix ran, and really runs it.
    assert machine.engine_up_again.returncode == 0, machine.engine_up_again.stderr[-2000:]
    assert "engine already answers; leaving it alone" in machine.engine_up_again.stderr
    assert f"an arm64 container runs (npmatrix-base:{release}-arm64-" in machine.engine_up_again.stderr
    assert ": aarch64)" in machine.engine_up_again.stderr


@pytest.mark.parametrize("release", list(RELEASES))
def test_an_amd64_and_an_arm64_cell_build_and_probe_there(nested: dict[str, Nested], release: str) -> None:
    machine = nested[release]
    assert machine.run.returncode == 0, machine.run.stdout[-3000:] + machine.run.stderr[-3000:]
    # The arm64 cell runs under the kernel's binfmt handler (plan/placement.py), as the Pi 4's Cortex-A72.
    cells = (("nested-amd64", "x86_64", None, None), ("nested-arm64", "aarch64", "binfmt", "cortex-a72"))
    for name, arch, emulator, model in cells:
        cell = machine.cell(name)
        assert cell["status"] == "ok", (cell["status"], cell["reason"], cell["fix"])
        assert cell["summary"]["numpy_version"] == "2.3.5" and cell["summary"]["import_ok"]
        assert cell["summary"]["machine"] == arch
        assert (cell["placement"]["emulator"], cell["placement"]["qemu_cpu"]) == (emulator, model)


def test_debian_13_builds_through_buildx_with_the_named_builder(nested: dict[str, Nested]) -> None:
    assert nested["trixie"].results["host"]["builder"].startswith("docker buildx build --builder default --load (")
    assert nested["bookworm"].results["host"]["builder"].startswith("DOCKER_BUILDKIT=1 docker build (")
