"""Code nobody here wrote, in the matrix: a published project's own test suite, run by `npmatrix run` in an
amd64 cell and an emulated arm64 (Pi 4) cell, and the sample project tests/data/ownproject, whose one test
fails on purpose, in a third.

The published project is numpy-financial 1.0.0 (PyPI; sdist 13 KiB, sha256 pinned below): it depends on NumPy
and on nothing else, its sdist ships its tests (numpy_financial/tests/test_financial.py, 26 tests) and they need
only pytest; pure Python, so it builds in seconds even under QEMU, and its tests call NumPy's linear algebra
(irr uses numpy.roots, an eigenvalue problem), which is what a cell's BLAS and CPU model can break. The tests
live inside the package, so the command is `pytest --pyargs numpy_financial`: it tests the installed copy,
not the sources in /opt/npmatrix-project. The sdist is fetched with pip (an ordinary client) into
${XDG_CACHE_HOME:-~/.cache}/npmatrix/test-sdists once, and checked against its hash each time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from conftest import CLI_ENV, REPO, CliRun, npmatrix

SDIST = "numpy-financial-1.0.0.tar.gz"
SDIST_SHA256 = "f84341bc62b2485d5604a73d5fac7e91975b4b9cd5f4a5a9cf608902ea00cb40"
FINANCIAL_TESTS = 26


def _cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "npmatrix" / "test-sdists"


def _sdist() -> Path:
    path = _cache() / SDIST
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "numpy-financial==1.0.0"],
            cwd=path.parent,
            check=True,
            timeout=300,
        )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SDIST_SHA256, f"{path} is not numpy-financial 1.0.0"
    return path


@pytest.fixture(scope="module")
def own_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[CliRun, float]:
    work = tmp_path_factory.mktemp("own-code")
    with tarfile.open(_sdist()) as archive:
        archive.extractall(work, filter="data")
    matrix = work / "matrix.toml"
    matrix.write_text(
        f"""
[defaults]
numpy = "2.3.5"
test_requires = ["pytest==8.3.4"]

[[cell]]
name = "financial-amd64"
platform = "amd64"
project = "numpy-financial-1.0.0"
test_command = "pytest --pyargs numpy_financial"

[[cell]]
name = "financial-pi4"
platform = "arm64"
cpu = "pi4"
project = "numpy-financial-1.0.0"
test_command = "pytest --pyargs numpy_financial"

[[cell]]
name = "sample-fails"
platform = "amd64"
project = "{REPO / "tests" / "data" / "ownproject"}"
test_command = "pytest {{project}}/tests"
expect = "tests-failed"
"""
    )
    out = work / "out"
    started = time.monotonic()
    run = npmatrix("run", "--matrix", str(matrix), "--out", str(out), out_dir=out, timeout=900)
    return run, time.monotonic() - started


def test_every_cell_ends_as_expected(own_run: tuple[CliRun, float]) -> None:
    run, seconds = own_run
    got = {c["name"]: c["status"] for c in run.results["cells"]}
    assert got == {"financial-amd64": "ok", "financial-pi4": "ok", "sample-fails": "tests-failed"}, run.stdout
    assert run.returncode == 0, run.stderr[-2000:]
    assert seconds < 600, f"took {seconds:.0f} s"


@pytest.mark.parametrize("name", ["financial-amd64", "financial-pi4"])
def test_the_published_suite_ran_and_passed_in_both_cells(own_run: tuple[CliRun, float], name: str) -> None:
    cell = own_run[0].cell(name)
    tests = cell["tests"]
    assert tests["exit_code"] == 0 and tests["skipped"] is None and tests["failed"] == []
    assert tests["counts"] == {"tests": FINANCIAL_TESTS, "failures": 0, "errors": 0, "skipped": 0}
    assert cell["reason"].endswith(f"; tests passed ({FINANCIAL_TESTS} passed)")
    assert cell["inputs"]["project"]["files"] >= 5


def test_the_arm64_cell_ran_its_tests_under_qemu_as_a_pi4(own_run: tuple[CliRun, float]) -> None:
    run = own_run[0]
    cell = run.cell("financial-pi4")
    assert cell["placement"]["emulator"] == "binfmt" and cell["placement"]["qemu_cpu"] == "cortex-a72"
    assert cell["probe"]["platform"]["machine"] == "aarch64"
    assert "financial-pi4" in run.stderr and "under QEMU: 10-20x slower than native" in run.stderr


def test_the_sample_names_the_test_that_fails_on_purpose(own_run: tuple[CliRun, float]) -> None:
    cell = own_run[0].cell("sample-fails")
    assert cell["reason"] == "1 of 2 tests failed: tests/test_sample.py::test_fails_on_purpose"
    assert cell["evidence"][:2] == ["FAILED tests/test_sample.py::test_fails_on_purpose", "E       assert 2.0 == 3.0"]
    assert cell["fix"].startswith("run them in the cell's image: docker run --rm npmatrix-cell:sample-fails-")
    assert cell["tests"]["counts"] == {"tests": 2, "failures": 1, "errors": 0, "skipped": 0}
    assert "test_fails_on_purpose" in Path(cell["logs"]["tests"]).read_text()


def test_a_project_with_tool_npmatrix_runs_with_plain_npmatrix_run(tmp_path: Path) -> None:
    """The issue's "done when": in a project directory whose pyproject.toml has [tool.npmatrix] (and nothing else
    names a matrix), `npmatrix run` with no option runs that matrix, the project installed and its tests run."""
    project = tmp_path / "sample"
    shutil.copytree(REPO / "tests" / "data" / "ownproject", project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + """
[[tool.npmatrix.cell]]
name = "mine"
platform = "amd64"
numpy = "2.3.5"
project = "."
test_requires = ["pytest==8.3.4"]
test_command = "pytest {project}/tests"
expect = "tests-failed"
"""
    )
    done = subprocess.run(
        [sys.executable, "-m", "npmatrix", "run"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=CLI_ENV,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    results = json.loads((project / "results" / "results.json").read_text())
    assert results["matrix"] == "pyproject.toml"
    (cell,) = results["cells"]
    assert (cell["name"], cell["status"]) == ("mine", "tests-failed")
    assert cell["inputs"]["project"]["path"] == str(project)  # "." in the table, resolved against pyproject.toml
    assert cell["reason"] == "1 of 2 tests failed: tests/test_sample.py::test_fails_on_purpose"
    assert "mine" in done.stdout and "tests-failed (expected)" in done.stdout
