"""Strings from files on their way to a terminal or a file: control characters made visible, credentials hidden.

Probe files and results files are shared in bug reports, so every string in them is hostile by design: an
ANSI/OSC escape can clear the screen, set the window title or write the clipboard, and a newline can forge a
second line of output. Everything npmatrix prints goes through `printable` (cli.py), and everything it stores
through `redact_document` (results.py, probe_file.py). Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls (but tab and newline, which `printable` keeps where several lines are meant), DEL, C1 controls,
# the Unicode line/paragraph separators and the bidirectional overrides that reorder what a terminal shows.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_LINE_BREAK = re.compile(r"[\n\t]")
# scheme://user:password@host or scheme://token@host: everything before the '@' is a credential.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
REDACTED = "***"


def redact(text: str) -> str:
    """`https://alice:secret@host/simple` -> `https://***@host/simple`, wherever a URL appears in `text`."""
    return _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def printable(text: str, *, multiline: bool = True) -> str:
    """`text` safe to print: control characters shown as `\\x1b`, credentials in URLs redacted.
    With multiline=False newlines and tabs are escaped too, so the result is exactly one line."""
    text = _CONTROL.sub(_escape, redact(text))
    return text if multiline else _LINE_BREAK.sub(_escape, text)


def one_line(text: str) -> str:
    return printable(text, multiline=False)


def redact_document(value: Any) -> Any:
    """A JSON document with credentials redacted from every string in it (keys included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_document(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_document(v) for v in value]
    return value
