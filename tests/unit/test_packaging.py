"""What an installed npmatrix needs, checked without building a wheel (tests/integration/test_wheel.py builds one).

Templates, built-in matrices, presets and the container scripts are read at run time from the package; a file
only a symlink brings in, or one no package-data glob matches, is missing from a wheel (issue 6).
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "npmatrix"


def _package_files() -> list[Path]:
    return [p for p in PACKAGE.rglob("*") if "__pycache__" not in p.parts and not p.is_dir()]


def test_no_symlinks_inside_the_package() -> None:
    assert [p for p in PACKAGE.rglob("*") if p.is_symlink()] == []


def test_every_data_file_matches_a_package_data_glob() -> None:
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["npmatrix"]
    data = [p.relative_to(PACKAGE).as_posix() for p in _package_files() if p.suffix != ".py"]
    assert {
        "dockerfiles/pip.Dockerfile.j2",
        "matrices/default.toml",
        "data/platforms.toml",
        "data/starter.toml",
    } <= set(data)
    assert [f for f in data if not any(fnmatch.fnmatchcase(f, g) for g in globs)] == []
