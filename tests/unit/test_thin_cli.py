"""A thin command line (issue 18): cli/ parses options, app/ does the work, and neither grows a function a
reader cannot hold in their head. The repository-wide limit on functions lives with the lint rules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "npmatrix"
MAX_CLI_MODULE_LINES = 250
MAX_FUNCTION_LINES = 60


def _modules(room: str) -> list[Path]:
    return sorted((PACKAGE / room).rglob("*.py"))


def _long_functions(source: str, *, name: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Functions (methods and nested ones too) longer than `limit` lines, from `def` to their last line;
    decorators, such as a command's click options, do not count."""
    return [
        f"{name}:{node.lineno} {node.name}() has {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(source, filename=name))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > limit
    ]


def _imports(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_the_rooms_are_there() -> None:
    # Without this, a moved package would make every check below pass on no files at all.
    assert len(_modules("cli")) >= 10 and len(_modules("app")) >= 10


@pytest.mark.parametrize("path", _modules("cli"), ids=lambda p: p.name)
def test_no_cli_module_exceeds_250_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_CLI_MODULE_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines: split it by command"


def test_no_function_in_cli_or_app_exceeds_60_lines() -> None:
    long = [
        found
        for room in ("cli", "app")
        for path in _modules(room)
        for found in _long_functions(path.read_text(), name=str(path.relative_to(PACKAGE)))
    ]
    assert long == []


def test_the_check_sees_a_long_function_and_not_its_decorators() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES - 1))
    decorators = "".join(f"@option{i}\n" for i in range(40))
    source = f"{decorators}def long() -> None:\n{body}    return None\n\n\n{decorators}def short() -> None:\n    pass\n"
    assert _long_functions(source, name="m.py") == [f"m.py:41 long() has {MAX_FUNCTION_LINES + 1} lines"]


def test_app_knows_no_click() -> None:
    # app/ is what each command does, callable from a test or another front end: click stays in cli/.
    importers = [
        str(path.relative_to(PACKAGE))
        for path in _modules("app")
        if any(m.split(".")[0] == "click" for m in _imports(path.read_text()))
    ]
    assert importers == []
    assert "click" in _imports((PACKAGE / "cli" / "run.py").read_text())  # the check sees an import of click


class _Recorder:
    """app.console.Console into lists: app/ runs without click."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.err: list[str] = []

    def say(self, message: str) -> None:
        self.out.append(message)

    def echo(self, text: str, *, nl: bool = True) -> None:
        self.out.append(text)

    def progress(self, message: str) -> None:
        self.err.append(message)

    def stderr(self, line: str) -> None:
        self.err.append(line)


def test_a_command_runs_from_app_without_the_command_line() -> None:
    from npmatrix.app import list as app_list
    from npmatrix.app.inputs import Selection
    from npmatrix.errors import ExitCode

    console = _Recorder()
    code = app_list.list_cells(Selection(matrix_path="default", arches=("arm/v7",)), console)
    assert code is ExitCode.OK and console.out and console.err == []
    assert all(" arm/v7 " in line for line in console.out), console.out


def test_run_refuses_its_options_before_it_reads_a_matrix() -> None:
    from npmatrix.app import run as app_run
    from npmatrix.app.inputs import Selection
    from npmatrix.errors import ConfigError

    request = app_run.RunRequest(selection=Selection(matrix_path="no-such-matrix"), reuse_bench="all")
    with pytest.raises(ConfigError, match=r"^--reuse-bench: reuses the benchmark of --reuse-results"):
        app_run.run(request, _Recorder())
