"""Property: no value the matrix accepts can carry shell or Dockerfile syntax into a rendered Dockerfile.

For each field that reaches a template, hypothesis generates values — most shaped like the field's format,
with shell and Dockerfile metacharacters mixed in — and every one the matrix accepts is rendered. Compared with
the same cell rendered with a harmless placeholder, the Dockerfile must have the same instruction lines, and
the line holding the value must split (shlex, as /bin/sh would, with `;|&<>()` as operators) into exactly the
placeholder's tokens with the value in the placeholder's place: the value stays one word inside its quotes.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npmatrix.config import matrix
from npmatrix.errors import ConfigError
from npmatrix.plan import cellplan as plan

DIGEST = "c" * 64
METAS = "$`;|&\n\r\"'\\()<>\x00\t #{}*?[]!^~=:@%,+"

# field -> (install method, the placeholder, a strategy of values shaped like the field)
_VERSION = st.from_regex(r"(==|!=|>=|<=|~=|<|>)?[0-9]{1,2}(\.[0-9]{1,2}){0,2}(\.\*)?", fullmatch=True)
_NAME = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)
_URL = st.from_regex(r"https?://[a-z0-9.-]{1,12}(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+-]{0,12})?", fullmatch=True)
FIELDS: dict[str, tuple[str, Any, st.SearchStrategy[str]]] = {
    "name": ("pip", "placeholder-cell", _NAME),
    "numpy": ("pip", "==9.9.9", _VERSION),
    "pip": ("pip", "==9.9.9", _VERSION),
    "packages": ("pip", ["placeholder==9.9.9"], st.builds(lambda n, v: f"{n}{v}", _NAME, _VERSION)),
    "apt": ("pip", ["placeholderpkg"], st.from_regex(r"[a-z0-9][a-z0-9+.-]{0,10}[a-z0-9+]", fullmatch=True)),
    "apt_remove": ("pip", ["placeholderpkg"], st.from_regex(r"[a-z0-9][a-z0-9+.-]{0,10}[a-z0-9+]", fullmatch=True)),
    "index_url": ("pip", "https://placeholder.invalid/simple", _URL),
    "extra_index_url": ("pip", ["https://placeholder.invalid/simple"], _URL),
    "base_image": ("pip", f"placeholder@sha256:{DIGEST}", st.builds(lambda n: f"{n}@sha256:{DIGEST}", _NAME)),
}


# Fields a template puts on a RUN or FROM line without quotes: globs and braces would expand there.
UNQUOTED = ("apt", "apt_remove", "index_url", "extra_index_url", "base_image")


@st.composite
def _hostile(draw: st.DrawFn, shaped: st.SearchStrategy[str]) -> str:
    """A value shaped like the field, often with metacharacters inserted anywhere, or free text."""
    kind = draw(st.sampled_from(["shaped", "inserted", "inserted", "free"]))
    if kind == "free":
        return draw(st.text(alphabet=st.sampled_from(METAS + "abc019.-/"), min_size=1, max_size=30))
    value = draw(shaped)
    if kind == "inserted":
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(value)))
            value = value[:at] + draw(st.sampled_from(METAS)) + value[at:]
    return value


def _cell(field: str, install: str, value: Any) -> matrix.Cell | None:
    raw: dict[str, Any] = {"name": "c", "platform": "amd64", "install": install}
    if install == "pip":
        raw["numpy"] = "==2.3.5"
    raw[field] = value
    try:
        return matrix.parse({"cell": [raw]}, source="property").cells[0]
    except ConfigError:
        return None


def _logical_lines(dockerfile: str) -> list[str]:
    return dockerfile.replace("\\\n", " ").split("\n")


def _tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
    lexer.commenters = ""  # the first line is a comment naming the cell: tokenise it too
    lexer.whitespace_split = True
    return list(lexer)


def _rendered(cell: matrix.Cell, field: str) -> str:
    value = getattr(cell, field)
    return value[0] if isinstance(value, tuple) else value


def _check(field: str, value: str) -> None:
    install, placeholder, _ = FIELDS[field]
    cell = _cell(field, install, [value] if isinstance(placeholder, list) else value)
    if cell is None:
        return  # refused: nothing reaches a Dockerfile
    baseline_cell = _cell(field, install, placeholder)
    assert baseline_cell is not None
    shown, placeholder_shown = _rendered(cell, field), _rendered(baseline_cell, field)
    lines = _logical_lines(plan.plan_cell(cell).dockerfile)
    expected = _logical_lines(plan.plan_cell(baseline_cell).dockerfile)
    assert len(lines) == len(expected), "the value added or removed a line"
    for line, base in zip(lines, expected, strict=True):
        assert line.split(" ", 1)[0] == base.split(" ", 1)[0], "the value changed an instruction"
        if placeholder_shown in base:
            with_value = [t.replace(placeholder_shown, shown) for t in _tokens(base)]
            assert _tokens(line) == with_value, f"{shown!r} is not one word in: {line}"
        else:
            assert line == base
    # shlex keeps `$HOME` or a glob inside a word: the shell would expand them. Quoted or not, none may be there.
    assert not re.search(r"[\x00-\x1f\x7f$`\\\"']", shown), shown
    if field in UNQUOTED:
        assert not re.search(r"[*?\[\]{} ]", shown), shown


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_accepted_value_carries_syntax_into_a_dockerfile(data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(sorted(FIELDS)))
    _check(field, data.draw(_hostile(FIELDS[field][2])))


def _per_field(field: str) -> Any:
    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
    @given(value=_hostile(FIELDS[field][2]))
    def test(value: str) -> None:
        _check(field, value)

    return test


test_name_property = _per_field("name")
test_numpy_property = _per_field("numpy")
test_pip_property = _per_field("pip")
test_packages_property = _per_field("packages")
test_apt_property = _per_field("apt")
test_apt_remove_property = _per_field("apt_remove")
test_index_url_property = _per_field("index_url")
test_extra_index_url_property = _per_field("extra_index_url")
test_base_image_property = _per_field("base_image")


@settings(max_examples=200)
@given(value=_hostile(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}(\.[A-Za-z_][A-Za-z0-9_]{0,8}){0,2}", fullmatch=True)))
def test_imports_reach_the_probe_as_one_argument(value: str) -> None:
    cell = _cell("imports", "pip", [value])
    if cell is None:
        return
    argv = plan.plan_cell(cell).probe_command().argv()
    assert argv[argv.index("--import") + 1] == value and argv.count("--import") == 1
    assert re.fullmatch(r"[A-Za-z0-9_.]+", value)


def test_the_property_is_not_vacuous() -> None:
    # Each field's placeholder and a shaped value are accepted, so the properties above do render.
    for field, (install, placeholder, _) in FIELDS.items():
        assert _cell(field, install, placeholder) is not None, field
