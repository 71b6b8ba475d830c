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


def _results_with(tmp_path: Path, **top: object) -> Path:
    from hostile import real

    document = real()
    document.update(top)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("yesterday at noon", "started_at is not an ISO 8601 time"),
        ("", "started_at is not an ISO 8601 time"),
        ("2026-11-25T18:38:58", "started_at has no UTC offset"),
        ("0001-01-01T00:00:00+05:00", "started_at is out of range"),
        ("9999-12-31T23:59:59-12:00", "started_at is out of range"),
    ],
)
def test_a_time_out_of_range_or_not_a_time_is_refused_naming_the_field(tmp_path: Path, value: str, says: str) -> None:
    from npmatrix.records import results

    path = _results_with(tmp_path, started_at=value)
    with pytest.raises(ConfigError, match=says) as caught:
        results.load(path)
    assert str(path) in str(caught.value)


def test_a_cell_name_a_matrix_would_refuse_is_refused_without_echoing_it(tmp_path: Path) -> None:
    from hostile import real

    from npmatrix.records import results

    document = real()
    document["cells"][0]["inputs"]["name"] = "Cell-ghp_SECRETSECRET\x1b[31m"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match=r"cells\[0\]\.inputs\.name is not a valid cell name") as caught:
        results.load(path)
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("cpu_model", {"name": "pi4"}, "cpu_model"),
        ("cpu_model", {"name": "pi4", "description": "d", "qemu": "cortex-a72"}, "cpu_model.qemu"),
        ("requirements", {"path": "requirements.txt"}, "requirements"),
        ("find_links", {"path": "w", "sha256": "0" * 64, "files": 7}, "find_links.files"),
    ],
)
def test_a_partial_optional_object_is_refused_naming_it(tmp_path: Path, key: str, value: object, says: str) -> None:
    from hostile import real

    from npmatrix.records import results

    document = real()
    document["cells"][0]["inputs"][key] = value
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match=f"not a valid results file: cells\\[0\\]\\.inputs\\.{says}"):
        results.load(path)
