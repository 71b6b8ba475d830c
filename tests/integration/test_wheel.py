"""The package is real (issue 6): a wheel, installed into a fresh venv, works outside the checkout.

No container engine is needed, but the network is: pip fetches setuptools to build and the runtime
dependencies to install. The wheel is built once, from a copy of the checkout so no build/ or *.egg-info is left
in it (and no stale build/lib from an earlier build can hide a file that is missing), and installed once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from goldens import default_dockerfile

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "npmatrix"
DEFAULT_CELLS = ["colab", "pi5-64", "pi4-64", "pi32-pip", "pi32-apt"]
STARTER_CELLS = ["x86", "pi-64bit", "pi-32bit-apt"]
NOT_SOURCE = ("__pycache__", "*.egg-info", ".git", ".venv", "venv", "build", "dist", ".*_cache", "results", "out")


@dataclass(frozen=True, kw_only=True)
class Installed:
    wheel: Path
    build_log: str
    venv: Path

    def npmatrix(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        assert not cwd.resolve().is_relative_to(REPO), "these commands must run outside the checkout"
        return _run([str(self.venv / "bin" / "npmatrix"), *args], cwd=cwd, timeout=120)


def _run(argv: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH or outer venv: the installed package must stand on its own.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _checked(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (proc.args, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    source, wheels, venv = root / "source", root / "wheels", root / "venv"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    build = _checked(
        _run(
            [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-v", "-w", str(wheels)],
            cwd=root,
            timeout=600,
        )
    )
    (wheel,) = wheels.glob("npmatrix-*.whl")
    _checked(_run([sys.executable, "-m", "venv", str(venv)], cwd=root, timeout=120))
    _checked(_run([str(venv / "bin" / "python"), "-m", "pip", "install", str(wheel)], cwd=root, timeout=600))
    return Installed(wheel=wheel, build_log=build.stdout + build.stderr, venv=venv)


def _names(output: str) -> list[str]:
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def test_wheel_carries_every_file_of_the_package(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert {
        "npmatrix/dockerfiles/cell.Dockerfile.j2",
        "npmatrix/dockerfiles/pip.Dockerfile.j2",
        "npmatrix/dockerfiles/apt.Dockerfile.j2",
        "npmatrix/dockerfiles/base.Dockerfile.j2",
        "npmatrix/matrices/default.toml",
        "npmatrix/matrices/gallery.toml",
        "npmatrix/data/platforms.toml",
        "npmatrix/data/starter.toml",
        "npmatrix/container/probe.py",
        "npmatrix/container/bench.py",
        "npmatrix/py.typed",
    } <= names
    in_source = {
        f"npmatrix/{p.relative_to(PACKAGE).as_posix()}"
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert sorted(in_source - names) == []


def test_wheel_metadata_and_no_license_deprecation(installed: Installed) -> None:
    metadata = zipfile.ZipFile(installed.wheel).read("npmatrix-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: BSD-3-Clause" in metadata.splitlines()
    assert "Classifier: Operating System :: POSIX :: Linux" in metadata
    assert "SetuptoolsDeprecationWarning" not in installed.build_log


def test_wheel_carries_the_license_text(installed: Installed) -> None:
    wheel = zipfile.ZipFile(installed.wheel)
    metadata = wheel.read("npmatrix-0.1.0.dist-info/METADATA").decode()
    assert "License-File: LICENSE" in metadata.splitlines()
    text = wheel.read("npmatrix-0.1.0.dist-info/licenses/LICENSE").decode()
    assert text.startswith("BSD 3-Clause License") and "Neither the name of the copyright holder" in text


def test_installed_package_is_not_the_checkout(installed: Installed, tmp_path: Path) -> None:
    python = str(installed.venv / "bin" / "python")
    where = _checked(_run([python, "-c", "import npmatrix; print(npmatrix.__file__)"], cwd=tmp_path, timeout=60))
    assert Path(where.stdout.strip()).is_relative_to(installed.venv)


def test_list_shows_the_builtin_default(installed: Installed, tmp_path: Path) -> None:
    assert _names(_checked(installed.npmatrix("list", cwd=tmp_path)).stdout) == DEFAULT_CELLS


def test_list_builtin_gallery(installed: Installed, tmp_path: Path) -> None:
    gallery = [c["name"] for c in tomllib.loads((REPO / "matrix" / "gallery.toml").read_text())["cell"]]
    assert _names(_checked(installed.npmatrix("list", "--matrix", "gallery", cwd=tmp_path)).stdout) == gallery


def test_render_writes_the_golden_dockerfiles(installed: Installed, tmp_path: Path) -> None:
    rendered = _checked(installed.npmatrix("render", "--out", "out", cwd=tmp_path))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{n}.Dockerfile" for n in DEFAULT_CELLS)
    for name in DEFAULT_CELLS:
        assert (tmp_path / "out" / f"{name}.Dockerfile").read_text() == default_dockerfile(name, rendered.stderr), name


def test_init_then_list(installed: Installed, tmp_path: Path) -> None:
    _checked(installed.npmatrix("init", cwd=tmp_path))
    assert (tmp_path / "matrix" / "default.toml").is_file()
    assert _names(_checked(installed.npmatrix("list", cwd=tmp_path)).stdout) == STARTER_CELLS
    again = installed.npmatrix("init", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.startswith("npmatrix: error: matrix/default.toml: exists already")
