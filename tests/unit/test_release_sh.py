"""scripts/lib/release.sh: the packages each Debian release needs for the engine, and one line elsewhere."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _packages(tmp_path: Path, os_release: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "os-release").write_text(os_release)
    return subprocess.run(
        ["bash", "-c", f". {REPO / 'scripts/lib/release.sh'} && release_engine_packages"],
        env={"PATH": "/usr/bin:/bin", "NPMATRIX_OS_RELEASE": str(tmp_path / "os-release")},
        capture_output=True,
        text=True,
        check=False,
    )


def test_bookworm_registers_through_binfmt_support(tmp_path: Path) -> None:
    done = _packages(tmp_path, 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["docker.io", "qemu-user-static", "binfmt-support", "mmdebstrap", "arch-test"]


def test_trixie_needs_buildx_and_the_cli_package(tmp_path: Path) -> None:
    # docker 26's CLI refuses DOCKER_BUILDKIT=1 docker build without buildx; docker-cli is only a Recommends.
    done = _packages(tmp_path, 'ID=debian\nVERSION_ID="13"\nVERSION_CODENAME=trixie\n')
    assert done.returncode == 0, done.stderr
    assert {"docker.io", "docker-cli", "docker-buildx", "qemu-user-static"} <= set(done.stdout.split())
    assert "binfmt-support" not in done.stdout.split()  # trixie's QEMU ships binfmt.d files, not its entries


@pytest.mark.parametrize(
    "os_release",
    ['ID=ubuntu\nVERSION_ID="24.04"\nPRETTY_NAME="Ubuntu 24.04 LTS"\n', 'ID=debian\nVERSION_ID="11"\n', ""],
)
def test_another_system_is_one_line_saying_what_to_install_and_exit_2(tmp_path: Path, os_release: str) -> None:
    done = _packages(tmp_path, os_release)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "not Debian 12 (bookworm) or 13 (trixie)" in done.stderr and "buildx" in done.stderr
    assert "qemu-user-static and mmdebstrap by hand" in done.stderr
