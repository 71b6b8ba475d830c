"""A Pi Zero run as an ARM1176 for real (issue 17): a cell with its own root filesystem (`rootfs`) on arm/v6.

Raspberry Pi OS's 32-bit rootfs (Raspbian, ARMv6 + VFP2) cannot be fetched from our machines, so a Debian armel
rootfs stands in (scripts/armel-rootfs, cached in ~/.cache/npmatrix/armel-rootfs; a clean clone makes it with
mmdebstrap, about 4 min): armel is built for ARMv5TE, which an ARM1176 runs. The same board on a Debian base, on
arm/v7 or arm/v6 (Debian's armhf either way, built for ARMv7), ends cpu-unsupported from its plan, at once.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import CliRun, npmatrix, stand_in

ROOTFS_CELL = "pi0-rootfs"
ARMHF_CELL = "pi0-armhf"  # the same board on arm/v7 without the rootfs
V6_DEBIAN_CELL = "pi0-v6-debian"  # and on arm/v6 without it: still Debian's armhf


@pytest.fixture(scope="module")
def armel_rootfs() -> Path:
    return stand_in("armel-rootfs", timeout=1800)


def _matrix(rootfs: Path) -> str:
    pi0 = 'board = "pi0"\ninstall = "apt"\n'
    return (
        f'[[cell]]\nname = "{ROOTFS_CELL}"\nplatform = "arm/v6"\n{pi0}suite = "bookworm"\n'
        f'rootfs = "{rootfs}"\ntimeout = 900\n\n'
        f'[[cell]]\nname = "{ARMHF_CELL}"\nplatform = "arm/v7"\n{pi0}expect = "cpu-unsupported"\n\n'
        f'[[cell]]\nname = "{V6_DEBIAN_CELL}"\nplatform = "arm/v6"\n{pi0}expect = "cpu-unsupported"\n'
    )


@pytest.fixture(scope="module")
def rootfs_run(armel_rootfs: Path, tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[CliRun]:
    out = tmp_path_factory.mktemp("rootfs-run")
    (out / "matrix.toml").write_text(_matrix(armel_rootfs))
    started = time.monotonic()
    run = npmatrix("run", "--matrix", str(out / "matrix.toml"), "--out", str(out), out_dir=out)
    sys.stderr.write(f"rootfs run: {time.monotonic() - started:.1f} s\n")
    yield run
    # The cell image is this run's; the base (tagged by the stand-in's hash) is kept for the next session.
    for cell in run.results["cells"] if (out / "results.json").exists() else []:
        if cell["status"] != "cpu-unsupported" and not cell["image"]["reused"]:
            docker_client.images.remove(cell["image"]["tag"])


def test_every_cell_ends_as_expected(rootfs_run: CliRun) -> None:
    got = {c["name"]: c["status"] for c in rootfs_run.results["cells"]}
    assert got == {ROOTFS_CELL: "ok", ARMHF_CELL: "cpu-unsupported", V6_DEBIAN_CELL: "cpu-unsupported"}, (
        rootfs_run.stdout
    )
    assert rootfs_run.returncode == 0


def test_the_rootfs_cell_ran_as_an_arm1176_on_its_own_userland(rootfs_run: CliRun, armel_rootfs: Path) -> None:
    cell = rootfs_run.cell(ROOTFS_CELL)
    assert cell["placement"]["qemu_cpu"] == "arm1176" and cell["placement"]["platform"] == "arm/v6"
    assert cell["probe"]["env"]["QEMU_CPU"] == "arm1176"
    assert cell["probe"]["platform"]["machine"] == "armv6l"  # what QEMU's arm1176 reports: an ARMv6 CPU
    assert cell["inputs"]["rootfs"]["path"] == str(armel_rootfs)
    assert cell["image"]["base"].startswith("npmatrix-base:rootfs-arm-v6-")
    summary = cell["summary"]
    assert summary["import_ok"] is True and summary["install_source"] == "debian"  # armel's python3-numpy, by apt
    # The userland is the rootfs's, not Debian's armhf: NumPy is linked from armel's triplet (armhf: gnueabihf).
    assert "/usr/lib/arm-linux-gnueabi'" in cell["probe"]["numpy"]["config_text"]
    assert summary["gemm"] and all(g["ok"] and g["max_rel_error"] <= g["tolerance"] for g in summary["gemm"])
    assert cell["reason"] == f"NumPy {summary['numpy_version']} imports and GEMM is numerically right"


def test_the_same_board_on_debian_armhf_is_told_at_once_with_the_rootfs_fix(rootfs_run: CliRun) -> None:
    for name, base in (
        (ARMHF_CELL, "is an ARMv6 CPU and Debian's armhf is built for ARMv7"),
        (
            V6_DEBIAN_CELL,
            "is an ARMv6 CPU and platform arm/v6 without a rootfs is Debian's armhf, which is built for ARMv7",
        ),
    ):
        cell = rootfs_run.cell(name)
        assert base in cell["reason"] and "nothing was built or started" in cell["reason"]
        assert 'platform = "arm/v6" with rootfs = "raspios-armhf.tar"' in cell["fix"]
        assert cell["durations_s"] == {} and cell["image"]["id"] is None  # nothing built, nothing run


def test_without_the_rootfs_it_ends_in_under_2_s(rootfs_run: CliRun, tmp_path: Path) -> None:
    """Run alone, the two cells without a rootfs: no base, no build, no container. results.json's own clock
    (whole seconds, from the plan to the last result) says under 2 s; the CLI's, with its start-up, is printed."""
    started = time.monotonic()
    alone = npmatrix(
        "run",
        "--matrix",
        str(rootfs_run.out_dir / "matrix.toml"),
        "--cell",
        ARMHF_CELL,
        "--cell",
        V6_DEBIAN_CELL,
        "--out",
        str(tmp_path),
        out_dir=tmp_path,
    )
    wall = time.monotonic() - started
    sys.stderr.write(f"cpu-unsupported cells alone: {wall:.2f} s for the whole CLI\n")
    assert alone.returncode == 0 and {c["status"] for c in alone.results["cells"]} == {"cpu-unsupported"}
    span = datetime.fromisoformat(alone.results["finished_at"]) - datetime.fromisoformat(alone.results["started_at"])
    assert span.total_seconds() < 2, span
    assert "building npmatrix-cell:" not in alone.stderr and "base image npmatrix-base:" not in alone.stderr
