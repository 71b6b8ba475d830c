"""The user's own project and its tests as matrix keys (config/project.py): read, hashed, bounded, refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npmatrix.config import matrix, project
from npmatrix.errors import ConfigError
from npmatrix.records import results


def _project(root: Path) -> Path:
    (root / "proj" / "tiny").mkdir(parents=True)
    (root / "proj" / "tests").mkdir()
    (root / "proj" / "pyproject.toml").write_text('[project]\nname = "tiny"\nversion = "0.1"\n')
    (root / "proj" / "tiny" / "__init__.py").write_text("X = 1\n")
    (root / "proj" / "tests" / "test_tiny.py").write_text("def test_x():\n    assert True\n")
    return root / "proj"


def _cells(tmp_path: Path, top: dict[str, Any] | None = None, **keys: Any) -> tuple[matrix.Cell, ...]:
    raw = {"name": "c", "platform": "amd64", "numpy": "2.3.5", **keys}
    return matrix.parse({"cell": [raw], **(top or {})}, source=str(tmp_path / "m.toml")).cells


def test_a_project_is_read_relative_to_the_matrix_and_hashed(tmp_path: Path) -> None:
    _project(tmp_path)
    (cell,) = _cells(tmp_path, project="proj", test_command="pytest {project}/tests", test_requires=["pytest"])
    assert cell.project is not None
    assert cell.project.path == str(tmp_path / "proj")
    assert cell.project.files == 3 and not cell.project.compiled
    assert cell.test_requires == ("pytest",) and cell.test_timeout == 600
    assert project.expand(cell.test_command or "") == "pytest /opt/npmatrix-project/tests"


def test_a_changed_file_changes_the_hash_and_build_leftovers_do_not(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = project.read_project(root).sha256
    for leftover in (".git/HEAD", "build/lib/x.py", "dist/tiny.whl", "tiny.egg-info/PKG-INFO", "tiny/__pycache__/a"):
        (root / leftover).parent.mkdir(parents=True, exist_ok=True)
        (root / leftover).write_text("noise\n")
    assert project.read_project(root).sha256 == before
    (root / "tiny" / "__init__.py").write_text("X = 2\n")
    assert project.read_project(root).sha256 != before


def test_what_npmatrix_run_writes_into_the_project_is_not_part_of_it(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = project.read_project(root).sha256
    (root / "results" / "logs").mkdir(parents=True)
    (root / "results" / "results.json").write_text("{}")
    assert project.read_project(root).sha256 == before
    (root / "tiny" / "results").mkdir()  # a package's own folder of that name is the project's
    (root / "tiny" / "results" / "__init__.py").write_text("")
    assert project.read_project(root).sha256 != before


def test_c_sources_mark_a_project_compiled(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "tiny" / "_speed.c").write_text("int x;\n")
    assert project.read_project(root).compiled


def test_too_many_files_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path)
    monkeypatch.setattr(project, "MAX_PROJECT_FILES", 2)
    with pytest.raises(ValueError, match="more than 2 files"):
        project.read_project(root)


def test_too_many_bytes_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path)
    monkeypatch.setattr(project, "MAX_PROJECT_BYTES", 10)
    with pytest.raises(ValueError, match="exceed 0 MiB"):
        project.read_project(root)


def test_the_context_gets_the_hashed_files_and_a_late_change_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "build").mkdir()
    (root / "build" / "stale.py").write_text("old\n")
    read = project.read_project(root)
    (tmp_path / "ctx").mkdir()
    project.copy_into_context(tmp_path / "ctx", read)
    copied = tmp_path / "ctx" / project.CONTEXT_NAME
    assert sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*") if p.is_file()) == [
        "pyproject.toml",
        "tests/test_tiny.py",
        "tiny/__init__.py",
    ]
    (root / "tiny" / "__init__.py").write_text("X = 3\n")
    (tmp_path / "ctx2").mkdir()
    with pytest.raises(ValueError, match="changed since the matrix was read"):
        project.copy_into_context(tmp_path / "ctx2", read)


def test_test_skip_marks_the_cells_it_names(tmp_path: Path) -> None:
    raw = {
        "test_skip": ["pi*"],
        "defaults": {"numpy": "2.3.5", "test_command": "python -c 1"},
        "cell": [{"name": "pi4", "platform": "arm64"}, {"name": "x86", "platform": "amd64"}],
    }
    cells = matrix.parse(raw, source=str(tmp_path / "m.toml")).cells
    assert [(c.name, c.test_skipped) for c in cells] == [("pi4", True), ("x86", False)]


@pytest.mark.parametrize(
    ("keys", "top", "message"),
    [
        ({"test_command": "pytest {projekt}"}, {}, "{projekt} is not a placeholder (did you mean 'project'?)"),
        ({"test_command": "pytest {project}"}, {}, 'uses {project}, but the cell has no project = "PATH"'),
        ({"test_requires": ["pytest"]}, {}, "test_requires is for the tests test_command runs"),
        ({"test_timeout": 60}, {}, "test_timeout is for the tests test_command runs"),
        ({"test_command": "pytest", "test_timeout": 0}, {}, "expected whole seconds between 1 and 86400"),
        ({"test_command": ""}, {}, "is empty; give the command that runs your tests"),
        ({"test_command": "pytest", "test_requires": ["x @ http://h"]}, {}, "is not a plain requirement"),
        ({"tests_command": "pytest"}, {}, "unknown key 'tests_command' (did you mean 'test_command'?)"),
        ({}, {"test_skip": ["cc"]}, "test_skip: 'cc' matches no cell (did you mean 'c'?)"),
        ({}, {"test_skip": ["c;rm"]}, "is not a glob of cell names"),
        ({}, {"test_skp": ["c"]}, "unknown key 'test_skp' (did you mean 'test_skip'?)"),
        ({"project": "nowhere"}, {}, "not a directory"),
    ],
)
def test_bad_values_are_one_line_errors(
    tmp_path: Path, keys: dict[str, Any], top: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _cells(tmp_path, top, **keys)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_an_apt_cell_cannot_take_a_project(tmp_path: Path) -> None:
    _project(tmp_path)
    raw = {"name": "c", "platform": "amd64", "install": "apt", "project": "proj"}
    with pytest.raises(ConfigError, match=r'takes Debian\'s python3-numpy from apt.*use install = "pip"'):
        matrix.parse({"cell": [raw]}, source=str(tmp_path / "m.toml"))


def test_the_project_survives_results_json(tmp_path: Path) -> None:
    _project(tmp_path)
    (cell,) = _cells(tmp_path, project="proj", test_command="pytest {project}")
    assert results.cell_from_json(results._jsonable(dataclasses.asdict(cell))) == cell


_TEXT = st.text(st.characters(codec="utf-8"), max_size=80)


@given(_TEXT)
def test_a_test_command_is_accepted_only_as_plain_text_with_the_one_placeholder(value: str) -> None:
    try:
        checked = project.test_command(value)
    except ValueError:
        return
    assert checked == value
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) < 0xA0 for c in value)
    assert value.replace("{project}", "").count("{") == 0 or "}" not in value.replace("{project}", "")
    assert "{" not in project.expand(value) or "}" not in project.expand(value).split("{", 1)[1]


@given(st.text(max_size=40))
def test_a_skip_pattern_never_carries_shell_or_control_characters(value: str) -> None:
    try:
        project.skip_pattern(value)
    except ValueError:
        return
    assert set(value) <= set("abcdefghijklmnopqrstuvwxyz0123456789._*?[]!-")
