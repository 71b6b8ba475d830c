"""Data apart from I/O: the pure stages load without the engine, the Docker SDK or Jinja2.

Each module is imported in a fresh interpreter, so what another test imported earlier cannot hide a
dependency. If one of these fails, a record type or a helper moved into an I/O module (or an I/O module
grew an import at its top): move it back where pure code can import it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PURE = (
    "npmatrix.config.matrix",
    "npmatrix.config.validators",
    "npmatrix.config.freeze",
    "npmatrix.config.platforms",
    "npmatrix.plan.base_image",
    "npmatrix.plan.cellplan",
    "npmatrix.plan.placement",
    "npmatrix.judge.outcomes",
    "npmatrix.judge.facts",
    "npmatrix.verdict",
    "npmatrix.judge.classify",
    "npmatrix.records.results",
    "npmatrix.present.table",
    "npmatrix.present.labels",
    "npmatrix.present.explain",
    "npmatrix.records.probe_file",
    "npmatrix.plan.protocol",
    "npmatrix.records.schemas",
    "npmatrix.present.reports",
    "npmatrix.present.reports.cells",
    "npmatrix.present.reports.charts",
    "npmatrix.present.reports.html_page",
    "npmatrix.present.reports.junit",
    "npmatrix.present.reports.logs",
    "npmatrix.present.reports.markdown",
    "npmatrix.present.diff",
    "npmatrix.records.history",
    "npmatrix.run.shard",
    "npmatrix.records.merge",
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
