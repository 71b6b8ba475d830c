"""The import-linter contracts in pyproject.toml can fail: a deliberate wrong import breaks them.

`make lint` runs `lint-imports` on the checkout; here it runs on a copy of the package in tmp_path, first on
PYTHONPATH, so a planted import shows what a contract catches without touching the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import npmatrix

REPO = Path(__file__).resolve().parents[2]
PACKAGE = Path(npmatrix.__file__).parent


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert tool, "import-linter is not installed: pip install -e '.[test]'"
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [tool, "--no-cache", "--no-logo"], cwd=root, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "src" / "npmatrix", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_package_as_it_is_keeps_every_contract(copy: Path) -> None:
    done = _lint_imports(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
    assert "Pure rooms import no host room" in done.stdout  # the contracts read are the project's


def test_a_pure_room_importing_the_engine_breaks_the_contracts(copy: Path) -> None:
    matrix = copy / "src" / "npmatrix" / "config" / "matrix.py"
    matrix.write_text(matrix.read_text() + "\nimport npmatrix.host.engine\n")
    done = _lint_imports(copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "npmatrix.config is not allowed to import npmatrix.host" in done.stdout
    assert "npmatrix.config.matrix -> npmatrix.host.engine" in done.stdout
    assert "npmatrix.config is not allowed to import docker" in done.stdout  # through host.engine


def test_a_container_script_importing_the_host_package_breaks_the_contracts(copy: Path) -> None:
    probe = copy / "src" / "npmatrix" / "container" / "probe.py"
    probe.write_text(probe.read_text() + "\nfrom npmatrix import verdict\n")
    done = _lint_imports(copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "npmatrix.container.probe -> npmatrix.verdict" in done.stdout
