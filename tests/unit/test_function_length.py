"""No function in src/npmatrix is over 60 lines (STYLE.md: median around 12, none over ~60).

Counted from the `def` line to the last line of the body, docstring and comments included: what a reader
has to hold at once. Today's offenders in cli/ are allowed while it is split into one module per command;
the list may only shrink (an entry that is no longer over the limit fails too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import npmatrix

LIMIT = 60
PACKAGE = Path(npmatrix.__file__).parent
# (path inside the package, function name): the cli split (issue 18) takes these apart.
ALLOWED: set[tuple[str, str]] = set()


def _lengths(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, length) of every function and method in `source`, nested ones included."""
    tree = ast.parse(source)
    return [
        (node.name, node.lineno, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def _too_long() -> dict[tuple[str, str], str]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        for name, line, length in _lengths(path.read_text(encoding="utf-8")):
            if length > LIMIT:
                found[(where, name)] = f"{where}:{line} {name}() is {length} lines"
    return found


def test_no_function_is_over_the_limit() -> None:
    over = _too_long()
    assert sorted(text for key, text in over.items() if key not in ALLOWED) == []


def test_the_allow_list_only_names_functions_still_over_the_limit() -> None:
    assert sorted(ALLOWED - set(_too_long())) == []


def test_the_count_sees_a_long_function() -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(LIMIT))
    source = f"def short():\n    return 1\n\n\nclass C:\n    async def long(self):\n{body}\n"
    assert _lengths(source) == [("short", 1, 2), ("long", 6, LIMIT + 1)]
