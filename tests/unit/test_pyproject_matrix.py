"""[tool.npmatrix] in a project's pyproject.toml is a matrix (issue 19): found without --matrix, named with
`--matrix pyproject.toml`, written by `npmatrix init --pyproject`, checked with a matrix file's rules."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from npmatrix.cli import cli
from npmatrix.config import matrix
from npmatrix.errors import ConfigError

PROJECT = '[project]\nname = "demo"\nversion = "0.1"\n\n[tool.ruff]\nline-length = 100\n'
ONE_CELL = '\n[[tool.npmatrix.cell]]\nname = "mine"\nplatform = "arm64"\nnumpy = "2.3.5"\n'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    return tmp_path


def _names(output: str) -> list[str]:
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def test_without_a_table_the_builtin_default_is_used(project: Path) -> None:
    assert matrix.resolve(None, cwd=project) == "builtin:default"


def test_with_a_table_it_is_the_matrix(project: Path) -> None:
    (project / "pyproject.toml").write_text(PROJECT + ONE_CELL)
    assert matrix.resolve(None, cwd=project) == "pyproject.toml"
    listed = CliRunner().invoke(cli, ["list"])
    assert listed.exit_code == 0, listed.output
    assert _names(listed.output) == ["mine"]


def test_both_a_matrix_file_and_a_table_is_ambiguous(project: Path) -> None:
    (project / "pyproject.toml").write_text(PROJECT + ONE_CELL)
    (project / "matrix").mkdir()
    (project / "matrix" / "default.toml").write_text(matrix.starter_text())
    with pytest.raises(ConfigError, match=r"both matrix/default.toml and pyproject.toml's \[tool.npmatrix\]") as e:
        matrix.resolve(None, cwd=project)
    assert e.value.where == "--matrix"
    # Naming one settles it.
    assert matrix.load_spec("pyproject.toml", cwd=project).cells[0].name == "mine"
    assert matrix.load_spec("matrix/default.toml", cwd=project).cells[0].name == "x86"


def test_another_tools_broken_pyproject_does_not_stop_a_run(project: Path) -> None:
    (project / "pyproject.toml").write_text("[project\nname = 'demo'\n")
    assert matrix.resolve(None, cwd=project) == "builtin:default"


def test_a_broken_pyproject_that_mentions_npmatrix_is_an_error(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.npmatrix\n")
    with pytest.raises(ConfigError, match="invalid TOML, and it mentions npmatrix"):
        matrix.resolve(None, cwd=project)


def test_naming_a_pyproject_without_a_table_says_how_to_add_one(project: Path) -> None:
    with pytest.raises(ConfigError, match=r"has no \[tool.npmatrix\] table; `npmatrix init --pyproject`"):
        matrix.load_spec("pyproject.toml", cwd=project)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[tool.npmatrix]\ncel = []\n", "unknown key 'cel' (did you mean 'cell'?)"),
        ('[[tool.npmatrix.cell]]\nname = "a"\nplatfrom = "amd64"\n', "unknown key 'platfrom' (did you mean"),
        ("[tool]\nnpmatrix = 3\n", "tool.npmatrix: expected a table"),
        ('tool = "npmatrix"\n', "tool: expected a table"),
    ],
)
def test_the_table_is_checked_as_a_matrix_file_is(project: Path, table: str, message: str) -> None:
    (project / "pyproject.toml").write_text(table)
    with pytest.raises(ConfigError, match=re.escape(message)):
        matrix.load_spec("pyproject.toml", cwd=project)


def test_relative_paths_start_at_the_pyproject(project: Path) -> None:
    sub = project / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text(PROJECT + ONE_CELL + 'requirements = "reqs.txt"\n')
    (sub / "reqs.txt").write_text("six==1.16.0\n")
    cell = matrix.load_spec("pkg/pyproject.toml", cwd=project).cells[0]
    assert cell.requirements is not None and Path(cell.requirements.path) == sub / "reqs.txt"


# --- npmatrix init --pyproject ------------------------------------------------------------------------------


def test_init_pyproject_appends_the_starter_and_keeps_the_project(project: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "--pyproject"])
    assert result.exit_code == 0, result.output
    text = (project / "pyproject.toml").read_text()
    assert text.startswith(PROJECT)  # the project's own tables, byte for byte
    parsed = tomllib.loads(text)
    assert parsed["project"]["name"] == "demo" and parsed["tool"]["ruff"] == {"line-length": 100}
    listed = CliRunner().invoke(cli, ["list"])
    assert _names(listed.output) == ["x86", "pi-64bit", "pi-32bit-apt"]


def test_the_starter_table_moves_every_table_under_tool_npmatrix() -> None:
    text = matrix.starter_pyproject_text()
    assert set(tomllib.loads(text)) == {"tool"}
    # The commented-out axes, uncommented, still land in the matrix: the four more cells the starter promises.
    uncommented = "\n".join(
        line.removeprefix("# ")
        if line.startswith(("# [tool", "# name", "# platform", "# numpy", "# ex", "# in"))
        else line
        for line in text.splitlines()
    )
    assert len(matrix.loads(uncommented, source="pyproject.toml").cells) == 3 + 4


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["init", "--pyproject"], "no such file; --pyproject adds a [tool.npmatrix] table"),
        (PROJECT + ONE_CELL, ["init", "--pyproject"], "has a [tool.npmatrix] table already"),
        (PROJECT, ["init", "--pyproject", "--force"], "a [tool.npmatrix] table is never replaced"),
    ],
)
def test_init_pyproject_refuses(tmp_path: Path, setup: str | None, args: list[str], message: str) -> None:
    if setup is not None:
        (tmp_path / "pyproject.toml").write_text(setup)
    done = subprocess.run(
        [sys.executable, "-m", "npmatrix", *args], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    if setup is not None:
        assert (tmp_path / "pyproject.toml").read_text() == setup  # untouched
