"""Every way npmatrix prints goes through text.printable: stdout (say, echo), stderr, and every report."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from npmatrix.cli import output

PLANTED = "note \x1b]0;owned\x07 https://h/simple?token=S3CR3Tx9Q2 \x9b31m"
SHOWN = "note \\x1b]0;owned\\x07 https://h/simple?token=*** \\x9b31m"


@pytest.mark.parametrize(
    ("sink", "stream"),
    [
        pytest.param(output.say, "out", id="say"),
        pytest.param(output.CONSOLE.echo, "out", id="echo-a-document"),
        pytest.param(output.stderr, "err", id="stderr"),
        pytest.param(output.CONSOLE.progress, "err", id="progress"),
    ],
)
def test_every_sink_redacts_and_shows_escapes(
    sink: Callable[[str], None], stream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sink(PLANTED)
    printed = getattr(capsys.readouterr(), stream)
    assert SHOWN in printed
    assert "S3CR3T" not in printed and "\x1b" not in printed and "\x9b" not in printed
