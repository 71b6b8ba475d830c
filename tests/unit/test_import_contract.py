"""Data apart from I/O: the pure stages load without the engine, the Docker SDK or Jinja2.

Each module is imported in a fresh interpreter, so what another test imported earlier cannot hide a
dependency. If one of these fails, a record type or a helper moved into an I/O module (or an I/O module
grew an import at its top): move it back where pure code can import it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import npmatrix

# The rooms whose every module is pure (pyproject's "pure" import-linter contract names the same five), the
# shared words at the root, and one module of run/ that CI's merge job uses without an engine.
PURE_ROOMS = ("config", "plan", "judge", "records", "present")
SHARED = ("errors", "text", "verdict", "fileio")
ALSO_PURE = ("npmatrix.run.shard",)
PACKAGE = Path(npmatrix.__file__).parent


def _modules_in(room: str) -> list[str]:
    found = []
    for path in sorted((PACKAGE / room).rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


PURE = (
    *(module for room in PURE_ROOMS for module in _modules_in(room)),
    *(f"npmatrix.{name}" for name in SHARED),
    *ALSO_PURE,
)
IO_MODULES = (
    "npmatrix.host.engine",
    "npmatrix.host.process",
    "npmatrix.run.build",
    "npmatrix.run.runner",
    "docker",
    "requests",
    "jinja2",
)


def test_the_pure_list_comes_from_the_rooms() -> None:
    # What the hand-written list held before the rooms existed: the discovery must find at least that much.
    assert {
        "npmatrix.config.matrix",
        "npmatrix.config.freeze",
        "npmatrix.plan.cellplan",
        "npmatrix.plan.protocol",
        "npmatrix.judge.classify",
        "npmatrix.records.results",
        "npmatrix.present.reports",
        "npmatrix.present.reports.html_page",
        "npmatrix.verdict",
        "npmatrix.run.shard",
    } <= set(PURE)
    assert "npmatrix.plan.render" in PURE  # found by walking plan/, never listed by hand
    assert len(PURE) == len(set(PURE))
    assert not any(module.startswith(("npmatrix.host", "npmatrix.cli", "npmatrix.app")) for module in PURE)


def _loaded_after_import(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("module", PURE)
def test_pure_module_loads_no_io(module: str) -> None:
    loaded = _loaded_after_import(module)
    assert module in loaded
    assert sorted(loaded & set(IO_MODULES)) == []


def test_the_check_sees_io_where_there_is_io() -> None:
    # The same check on an I/O module must see it, or the test above proves nothing.
    loaded = _loaded_after_import("npmatrix.run.runner")
    assert {"npmatrix.host.engine", "docker", "npmatrix.host.process"} <= loaded


def test_rendering_loads_jinja2_only_when_it_renders() -> None:
    code = (
        "import sys, npmatrix.plan.cellplan as p, npmatrix.config.matrix as m; "
        "before = 'jinja2' in sys.modules; "
        "p.plan_cell(m.parse({'cell': [{'name': 'c', 'platform': 'amd64', 'numpy': '2.3.5'}]}).cells[0]); "
        "print(before, 'jinja2' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_the_command_line_loads_the_docker_sdk_only_in_commands_that_use_it() -> None:
    # diff, merge and history run in CI jobs with no engine; importing the Docker SDK costs ~0.6 s each time.
    loaded = _loaded_after_import("npmatrix.cli")
    assert sorted(loaded & set(IO_MODULES)) == []
