"""The one reader of JSON files npmatrix did not write itself this run (results, probe files, history): strict
JSON, regular files only, bounded. A file that fails is one ConfigError naming the file and what is wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npmatrix import fileio
from npmatrix.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"a": NaN}', "NaN is not a number JSON allows"),
        ('{"a": Infinity}', "Infinity is not a number JSON allows"),
        ('{"a": -Infinity}', "-Infinity is not a number JSON allows"),
        ('{"a": 1e400}', "out of range"),
        ('{"a": ' + "9" * 400 + "}", "integer of 400 digits is out of range"),
        ('{"a": ' + "[" * 900 + "]" * 900 + "}", "nested deeper than 64 levels"),
    ],
)
def test_numbers_json_does_not_allow_and_deep_nesting_are_refused(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=says) as caught:
        fileio.read_json(path)
    assert str(path) in str(caught.value)


def test_ordinary_numbers_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"a": 1.5, "b": -3, "c": 123456789012345678, "d": [[[1]]]}')
    assert fileio.read_json(path) == {"a": 1.5, "b": -3, "c": 123456789012345678, "d": [[[1]]]}


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_special_file_is_refused_up_front_not_waited_on(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "results.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path("/dev/zero")
    expected = {"fifo": "is a FIFO", "directory": "is a directory", "device": "is a device"}[kind]
    with pytest.raises(ConfigError, match=f"cannot read it: {expected} \\(a regular file was expected\\)"):
        fileio.read_json(path)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=30,
)


@given(_JSON)
def test_any_json_value_is_read_or_refused_with_one_line(value: object) -> None:
    data = json.dumps({"v": value}).encode()
    try:
        document = fileio.parse_json(data, where="f.json")
    except ConfigError as exc:
        assert "\n" not in str(exc) and "f.json" in str(exc)
        return
    # What is read back has only finite numbers: a reader never passes NaN on to JSON output.
    json.dumps(document, allow_nan=False)
