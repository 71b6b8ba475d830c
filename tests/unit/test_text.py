"""Strings from files on their way to a terminal or a file: escapes made visible, credentials hidden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npmatrix import text
from npmatrix.config import engine_choice, matrix
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


# --- printable beyond controls: everything str.isprintable calls unprintable is shown as an escape ---------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        pytest.param("a\u00a0b", "a\\xa0b", id="no-break-space"),
        pytest.param("a\u200bb", "a\\u200bb", id="zero-width-space"),
        pytest.param("a\u200fb", "a\\u200fb", id="right-to-left-mark"),
        pytest.param("a\U000e0001b", "a\\U000e0001b", id="astral-format-char"),
        pytest.param("a\udcffb", "a\\udcffb", id="lone-surrogate"),
        pytest.param("numpy 🐍 ok", "numpy 🐍 ok", id="emoji-kept"),
    ],
)
def test_printable_escapes_what_is_not_printable(raw: str, shown: str) -> None:
    assert text.printable(raw) == shown
    assert text.one_line(raw) == shown


@given(st.text())
def test_one_line_is_always_one_printable_line(raw: str) -> None:
    assert text.one_line(raw).isprintable()


@given(st.text())
def test_printable_keeps_only_printable_characters_newlines_and_tabs(raw: str) -> None:
    shown = text.printable(raw)
    assert all(c.isprintable() or c in "\n\t" for c in shown)
    assert shown.count("\n") == raw.count("\n")


# Without '@', '=', ':', '_' and '-' no secret pattern can match (a bare "bearer" needs 12 more characters).
@given(st.text(st.characters(blacklist_characters="@=:_-")).filter(str.isprintable))
def test_printable_text_passes_unchanged(raw: str) -> None:
    assert text.printable(raw) == raw
    assert text.one_line(raw) == raw


# --- strip_controls: what reports do with build logs ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        pytest.param("\x1b[31mred\x1b[0m", "red", id="colour-codes"),
        pytest.param("\x1b[2K\x1b[1Gprogress", "progress", id="erase-line"),
        pytest.param("bell\x07 nul\x00 del\x7f", "bell nul del", id="controls"),
        pytest.param("a\tb\r\nc", "a\tb\nc", id="tab-newline-kept-crlf-a-newline"),
        pytest.param("a\rb", "a\\x0db", id="lone-cr-shown"),
        pytest.param("\x9b31mred \x9d0;t\x9c c1\x85", "red  c1\\x85", id="c1-sequences-removed-c1-shown"),
        pytest.param("\x1b]8;;https://evil/\x1b\\click\x1b]8;;\x1b\\", "click", id="osc8-link-removed"),
        pytest.param("plain ü ✓", "plain ü ✓", id="plain-kept"),
    ],
)
def test_strip_controls_removes_colour_codes_and_controls(raw: str, kept: str) -> None:
    assert text.strip_controls(raw) == kept


@given(st.text())
def test_strip_controls_leaves_only_printable_characters_tabs_and_newlines(raw: str) -> None:
    stripped = text.strip_controls(raw)
    assert all(c.isprintable() or c in "\t\n" for c in stripped)


# --- shorten -----------------------------------------------------------------------------------------------------


def test_shorten_keeps_what_fits_and_marks_a_cut() -> None:
    assert text.shorten("abcdef", 6) == "abcdef"
    assert text.shorten("abcdefg", 6) == "abcde…"
    assert text.shorten("abcdefg", 6, ellipsis="...") == "abc..."


@given(st.text(), st.integers(min_value=3, max_value=200), st.sampled_from(["…", "..."]))
def test_shorten_never_exceeds_the_width_and_keeps_a_prefix(raw: str, width: int, ellipsis: str) -> None:
    short = text.shorten(raw, width, ellipsis=ellipsis)
    assert len(short) <= width
    if short != raw:
        assert len(raw) > width and short.endswith(ellipsis)
        assert raw.startswith(short.removesuffix(ellipsis))


# --- did_you_mean ------------------------------------------------------------------------------------------------


def test_did_you_mean_names_the_closest_option() -> None:
    options = ["amd64", "arm64", "arm/v7"]
    assert text.did_you_mean("amd46", options) == " (did you mean 'amd64'?)"
    assert text.did_you_mean("amd46", options, in_parentheses=False) == "; did you mean 'amd64'?"
    assert text.did_you_mean("zzzz", options) == ""
    assert text.did_you_mean("amd46", iter(options)) == " (did you mean 'amd64'?)"  # any iterable, read once


@given(st.lists(st.text(min_size=1), min_size=1, unique=True))
def test_did_you_mean_an_option_itself_suggests_it(options: list[str]) -> None:
    word = options[0]
    assert text.did_you_mean(word, options) == f" (did you mean {word!r}?)"


def test_the_messages_keep_their_hint() -> None:
    # The callers switched to text.did_you_mean: the messages people see are the ones they saw before.
    with pytest.raises(ConfigError, match=r"unknown platform 'amd46' \(did you mean 'amd64'\?\); one of "):
        matrix.parse({"cell": [{"name": "c", "platform": "amd46", "numpy": "2.3.5"}]})
    with pytest.raises(ConfigError, match=r"unknown platform 'amd46'; did you mean 'amd64'\? \(one of "):
        engine_choice.check_platform("amd46", where="--engine-for")


# --- redact: each kind of secret on its own, and ordinary text left alone --------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        pytest.param("https://alice:pw@h/simple", "https://***@h/simple", id="userinfo"),
        pytest.param("https://h/simple?token=T0K&x=1", "https://h/simple?token=***&x=1", id="token"),
        pytest.param("https://h/s?access_token=T0K", "https://h/s?access_token=***", id="access_token"),
        pytest.param("https://h/s?x=1&api_key=T0K#top", "https://h/s?x=1&api_key=***#top", id="api_key"),
        pytest.param("https://h/s?APIKEY=T0K", "https://h/s?APIKEY=***", id="apikey-any-case"),
        pytest.param("https://h/s?password=T0K", "https://h/s?password=***", id="password"),
        pytest.param("https://h/s?passwd=T0K", "https://h/s?passwd=***", id="passwd"),
        pytest.param("https://h/s?secret=T0K", "https://h/s?secret=***", id="secret"),
        pytest.param("https://b/o?se=2026&sig=T0K%3D", "https://b/o?se=2026&sig=***", id="sig"),
        pytest.param("https://b/o?X-Amz-Signature=T0K", "https://b/o?X-Amz-Signature=***", id="signature"),
        pytest.param("https://h/s?auth=T0K", "https://h/s?auth=***", id="auth"),
        pytest.param("https://h/s?key=T0K", "https://h/s?key=***", id="key"),
        pytest.param("PIP_TOKEN=T0K pip install", "PIP_TOKEN=*** pip install", id="name-value-text"),
        pytest.param('client_secret = "T0K"', 'client_secret = "***"', id="name-value-quoted"),
        pytest.param("Authorization: Bearer T0K", "Authorization: Bearer ***", id="bearer-header"),
        pytest.param("authorization: basic dXNlcjpwYXNz", "authorization: basic ***", id="basic-header"),
        pytest.param("Proxy-Authorization: T0K", "Proxy-Authorization: ***", id="proxy-header"),
        pytest.param("curl -H 'bearer eyJhbGciOiJIUzI1NiJ9.x'", "curl -H 'bearer ***'", id="bearer-word"),
        pytest.param("ghp_" + "a1B2" * 9, "ghp_***", id="github-token"),
        pytest.param("x=glpat-" + "a1B2" * 5, "x=glpat-***", id="gitlab-token"),
        pytest.param("pypi-AgEIcHlwaS5vcmcCJGFiY2Rl", "pypi-AgE***", id="pypi-token"),
    ],
)
def test_redact_hides_each_kind_of_secret(raw: str, shown: str) -> None:
    assert text.redact(raw) == shown
    assert "T0K" not in text.printable(raw) and "T0K" not in text.one_line(raw)
    assert text.redact(shown) == shown  # redacting twice changes nothing


@pytest.mark.parametrize(
    "plain",
    [
        "https://www.piwheels.org/simple",
        "https://pypi.org/simple/numpy/?format=json",
        "https://example.org/a?page=2&sort=name#top",
        "/home/user/.cache/pip/wheels/ab/cd",
        "numpy==2.3.5 scipy>=1.14,<2 pandas~=2.2",
        "cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64",
        "expect=ok monkey=3 design=4 signal=9 author=me keyboard=us",
        "the bearer of bad news; basic arithmetic",
        "Looking in indexes: https://pypi.org/simple, https://www.piwheels.org/simple",
        "check_npm_version and gh_pages_deploy",
        "QEMU_CPU=cortex-a72 OPENBLAS_CORETYPE=ARMV8",
    ],
)
def test_redact_leaves_ordinary_urls_paths_and_versions_alone(plain: str) -> None:
    assert text.redact(plain) == plain
    assert text.printable(plain) == plain


def test_a_refused_index_url_does_not_echo_its_query_token() -> None:
    with pytest.raises(ConfigError) as caught:
        matrix.loads(
            '[[cell]]\nname = "c"\nplatform = "amd64"\nnumpy = "2.3.5"\n'
            'index_url = "https://pypi.corp/simple?token=T0K"\n',
            source="m.toml",
        )
    assert "T0K" not in str(caught.value)
    assert "https://pypi.corp/simple?token=***" in str(caught.value)


def test_redact_document_keeps_order_and_survives_deep_nesting() -> None:
    document: dict[str, object] = {"b": "token=T0K", "a": [1, None, "https://u:p@h/s"], "token=K": 2.5}
    assert text.redact_document(document) == {"b": "token=***", "a": [1, None, "https://***@h/s"], "token=***": 2.5}
    assert list(text.redact_document(document)) == ["b", "a", "token=***"]
    deep: object = "sig=T0K"
    for _ in range(5000):
        deep = {"x": [deep]}
    nested = text.redact_document(deep)
    for _ in range(5000):
        nested = nested["x"][0]  # type: ignore[index]
    assert nested == "sig=***"


@given(st.sampled_from(["token", "access_token", "api_key", "password", "sig", "secret", "auth"]), st.text())
def test_a_planted_token_never_survives_whatever_surrounds_it(name: str, around: str) -> None:
    secret = "S3CR3Tx9Q2"
    for planted in (f"{around}?{name}={secret}", f"{around} {name}={secret}&", f"{around}://u:{secret}@h/"):
        assert secret not in text.printable(planted)
        assert secret not in text.one_line(planted)
