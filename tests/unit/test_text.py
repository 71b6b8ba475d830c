"""Strings from files on their way to a terminal or a file: escapes made visible, credentials hidden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npmatrix import text
from npmatrix.config import matrix
from npmatrix.errors import ConfigError
from npmatrix.plan.cellplan import plan_cell
from npmatrix.records.probe_file import ProbeFile, write
from npmatrix.records.results import CellResult, ImageRecord, ResultsFile
from npmatrix.verdict import Status, Verdict


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        pytest.param("\x1b[2J", "\\x1b[2J", id="clear-screen"),
        pytest.param("\x1b]0;title\x07", "\\x1b]0;title\\x07", id="osc-window-title"),
        pytest.param("\x1b]52;c;cHduZWQ=\x07", "\\x1b]52;c;cHduZWQ=\\x07", id="osc-52-clipboard"),
        pytest.param("\x9b31m", "\\x9b31m", id="c1-csi"),
        pytest.param("a\rb", "a\\x0db", id="carriage-return"),
        pytest.param("a\x00b", "a\\x00b", id="nul"),
        pytest.param("a\x7fb", "a\\x7fb", id="del"),
        pytest.param("abc\u202edcb", "abc\\u202edcb", id="bidi-override"),
        pytest.param("a\u2028b", "a\\u2028b", id="line-separator"),
        pytest.param("plain ü ✓ text", "plain ü ✓ text", id="plain-unicode-kept"),
    ],
)
def test_printable_escapes_control_characters(raw: str, shown: str) -> None:
    assert text.printable(raw) == shown
    assert text.one_line(raw) == shown


def test_multiline_keeps_newlines_and_one_line_escapes_them() -> None:
    assert text.printable("a\nb\tc") == "a\nb\tc"
    assert text.one_line("a\nnpmatrix: forged") == "a\\x0anpmatrix: forged"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("https://alice:secret@host/simple", "https://***@host/simple"),
        ("see http://token@pypi.internal:8080/simple and more", "see http://***@pypi.internal:8080/simple and more"),
        (
            "--index-url https://u:p%40ss@h/s --extra https://v:q@g/t",
            "--index-url https://***@h/s --extra https://***@g/t",
        ),
        ("https://www.piwheels.org/simple", "https://www.piwheels.org/simple"),
        ("user@example.org wrote", "user@example.org wrote"),
    ],
)
def test_redact_hides_credentials_in_urls(raw: str, shown: str) -> None:
    assert text.redact(raw) == shown
    assert text.printable(raw) == shown


def test_index_url_error_does_not_echo_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        matrix.loads(
            '[[cell]]\nname = "c"\nplatform = "amd64"\nnumpy = "2.3.5"\nindex_url = "https://alice:secret@h/simple"\n',
            source="m.toml",
        )
    assert "secret" not in str(caught.value) and "alice" not in str(caught.value)
    assert "https://***@h/simple" in str(caught.value)


def test_results_and_probe_files_are_stored_redacted(tmp_path: Path) -> None:
    cell = matrix.Cell(name="c", platform="amd64", numpy="==2.3.5")
    leaked = "pip: Looking in indexes: https://alice:secret@h/simple"
    result = CellResult(
        cell=cell,
        placement=plan_cell(cell).placement,
        verdict=Verdict(status=Status.BUILD_FAILED, reason=leaked, evidence=(leaked,)),
        image=ImageRecord(tag=plan_cell(cell).image_tag, id=None, base="b", reused=False),
        durations={},
        logs={},
        facts=None,
    )
    results = ResultsFile(tmp_path / "results.json", matrix="m.toml", host={"note": leaked})
    results.add(result)
    write(
        tmp_path / "probe.json",
        ProbeFile(created_at="", facts={"probe_version": 1, "x": leaked}, verdict=result.verdict),
    )
    for name in ("results.json", "probe.json"):
        stored = (tmp_path / name).read_text()
        assert "secret" not in stored and "https://***@h/simple" in stored
        json.loads(stored)
