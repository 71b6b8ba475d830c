"""A cell's own files (localinputs): into the build context as hashed, and through results.json and back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from npmatrix.config import localinputs, matrix
from npmatrix.errors import ConfigError
from npmatrix.records import results


def _cell(tmp_path: Path) -> matrix.Cell:
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "demo-0.1-py3-none-any.whl").write_bytes(b"zip")
    raw = {
        "name": "c",
        "platform": "amd64",
        "numpy": "2.3.5",
        "requirements": "requirements.txt",
        "find_links": "wheels",
    }
    return matrix.parse({"cell": [raw]}, source=str(tmp_path / "m.toml")).cells[0]


def test_the_context_gets_exactly_the_hashed_files(tmp_path: Path) -> None:
    cell = _cell(tmp_path)
    context = tmp_path / "context"
    context.mkdir()
    localinputs.copy_into_context(context, requirements=cell.requirements, find_links=cell.find_links)
    user = context / localinputs.CONTEXT_DIR
    assert (user / "requirements.txt").read_text() == "six==1.17.0\n"
    assert sorted(p.name for p in (user / "find-links").iterdir()) == ["demo-0.1-py3-none-any.whl"]


@pytest.mark.parametrize("changed", ["requirements.txt", "wheels/demo-0.1-py3-none-any.whl"])
def test_a_file_changed_after_the_matrix_was_read_is_refused(tmp_path: Path, changed: str) -> None:
    cell = _cell(tmp_path)
    (tmp_path / changed).write_text("something else\n")
    context = tmp_path / "context"
    context.mkdir()
    with pytest.raises(ValueError, match="changed since the matrix was read"):
        localinputs.copy_into_context(context, requirements=cell.requirements, find_links=cell.find_links)


def test_no_user_files_leave_the_context_alone(tmp_path: Path) -> None:
    localinputs.copy_into_context(tmp_path, requirements=None, find_links=None)
    assert list(tmp_path.iterdir()) == []


def test_the_inputs_survive_results_json(tmp_path: Path) -> None:
    cell = _cell(tmp_path)
    record = results._jsonable(dataclasses.asdict(cell))
    assert record["requirements"]["sha256"] == cell.requirements.sha256  # type: ignore[union-attr]
    assert results.cell_from_json(record) == cell


def test_a_requirements_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"six==1.17.0\n\xff\n")
    raw = {"name": "c", "platform": "amd64", "numpy": "2.3.5", "requirements": "requirements.txt"}
    with pytest.raises(ConfigError, match="not UTF-8"):
        matrix.parse({"cell": [raw]}, source=str(tmp_path / "m.toml"))


def test_a_folder_with_too_many_files_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(localinputs, "MAX_WHEEL_FILES", 3)
    for i in range(4):
        (tmp_path / f"demo{i}-0.1-py3-none-any.whl").write_bytes(b"zip")
    with pytest.raises(ValueError, match="holds more than 3 entries; at most 3"):
        localinputs.read_wheel_dir(tmp_path)
    (tmp_path / "demo0-0.1-py3-none-any.whl").unlink()
    assert len(localinputs.read_wheel_dir(tmp_path).files) == 3


def test_a_symlinked_wheel_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real.bin").write_bytes(b"zip")
    folder = tmp_path / "wheels"
    folder.mkdir()
    (folder / "demo-0.1-py3-none-any.whl").symlink_to(tmp_path / "real.bin")
    with pytest.raises(ValueError, match="is not a regular file"):
        localinputs.read_wheel_dir(folder)
