"""A cell's own project in its Dockerfile: copied in, installed in the one pip step, its hash in the tag."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import pytest

from npmatrix.config import matrix, project
from npmatrix.plan.cellplan import plan_cell
from npmatrix.run import build

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN = DATA / "project-golden" / "own-project.Dockerfile"  # not in tests/golden, which holds the matrices
UPDATE = os.environ.get("NPMATRIX_UPDATE_GOLDEN") == "1"


def _cell(**keys: Any) -> matrix.Cell:
    raw = {
        "name": "own-project",
        "platform": "arm64",
        "numpy": "2.3.5",
        "project": "ownproject",
        "test_command": "pytest {project}/tests",
        "test_requires": ["pytest==8.3.4"],
        **keys,
    }
    return matrix.parse({"cell": [raw]}, source=str(DATA / "m.toml")).cells[0]


def test_the_rendered_dockerfile_matches_its_golden_file() -> None:
    rendered = plan_cell(_cell()).dockerfile
    if UPDATE:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(rendered)
    assert rendered == GOLDEN.read_text(), "rerun with NPMATRIX_UPDATE_GOLDEN=1 if intended"


def test_the_project_is_copied_then_installed_with_numpy_in_one_pip_run() -> None:
    lines = plan_cell(_cell()).dockerfile.splitlines()
    copy = lines.index(f"COPY {project.CONTEXT_NAME} {project.PROJECT_DIR}")
    (install,) = [i for i, line in enumerate(lines) if "python3 -m pip install" in line and "numpy" in line]
    assert copy < install
    assert lines[install].endswith(' --only-binary=:all: "numpy==2.3.5" "pytest==8.3.4" /opt/npmatrix-project')
    assert "--no-binary" not in "\n".join(lines)


def test_a_changed_project_changes_the_image_tag(tmp_path: Path) -> None:
    root = tmp_path / "ownproject"
    root.mkdir()
    for path in (DATA / "ownproject").rglob("*"):
        if path.is_file():
            (root / path.relative_to(DATA / "ownproject")).parent.mkdir(parents=True, exist_ok=True)
            (root / path.relative_to(DATA / "ownproject")).write_bytes(path.read_bytes())
    raw = {"name": "c", "platform": "amd64", "numpy": "2.3.5", "project": "ownproject"}
    before = plan_cell(matrix.parse({"cell": [raw]}, source=str(tmp_path / "m.toml")).cells[0]).image_tag
    (root / "npmatrix_sample" / "__init__.py").write_text("X = 1\n")
    after = plan_cell(matrix.parse({"cell": [raw]}, source=str(tmp_path / "m.toml")).cells[0]).image_tag
    assert before != after


def test_a_cell_without_a_project_renders_no_copy() -> None:
    raw = {"name": "c", "platform": "amd64", "numpy": "2.3.5"}
    text = plan_cell(matrix.parse({"cell": [raw]}, source="m.toml").cells[0]).dockerfile
    assert "COPY" not in text and project.PROJECT_DIR not in text


def test_the_build_context_holds_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """build_cell puts the project beside the Dockerfile, where its COPY finds it."""
    seen: dict[str, list[str]] = {}

    class Stop(Exception):
        pass

    class FakeBuilder:
        env: ClassVar[dict[str, str]] = {}

        def build_argv(self, *, context: Path, **_: Any) -> list[str]:
            copied = context / project.CONTEXT_NAME
            seen["files"] = sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*") if p.is_file())
            raise Stop

    class FakeEngine:
        def image_id(self, tag: str) -> None:
            return None

    with pytest.raises(Stop):
        build.build_cell(
            plan_cell(_cell()),
            builder=FakeBuilder(),  # type: ignore[arg-type]
            engine=FakeEngine(),  # type: ignore[arg-type]
            secrets={},
            log_path=tmp_path / "b.log",
        )
    assert seen["files"] == ["npmatrix_sample/__init__.py", "pyproject.toml", "tests/test_sample.py"]
