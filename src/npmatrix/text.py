"""Strings from files on their way to a terminal or a file: control characters made visible, credentials hidden.

Probe files and results files are shared in bug reports, so every string in them is hostile by design: an
ANSI/OSC escape can clear the screen, set the window title or write the clipboard, and a newline can forge a
second line of output. Everything npmatrix prints goes through `printable` (cli/), and everything it stores
through `redact_document` (results.py, probe_file.py). The words every message shares live here too, once:
`did_you_mean` for a name not known, `shorten` for a cell of a table. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

# Reports strip these instead: a terminal's colour codes (CSI and two-character escapes), then C0 controls
# but tab, newline and carriage return, and DEL.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_REPORT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# scheme://user:password@host or scheme://token@host: everything before the '@' is a credential.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
REDACTED = "***"


def redact(text: str) -> str:
    """`https://alice:secret@host/simple` -> `https://***@host/simple`, wherever a URL appears in `text`."""
    return _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: str, *, multiline: bool = True) -> str:
    """`text` safe to print: what `str.isprintable` calls unprintable shown as `\\x1b`, `\\u202e`, credentials
    in URLs redacted. That is C0 and C1 controls, DEL, the line/paragraph separators, the bidirectional marks and
    overrides that reorder what a terminal shows, zero-width and other format characters, spaces other than
    ' ', lone surrogates. With multiline=False newlines and tabs are escaped too: the result is one line."""
    text = redact(text)
    if text.isprintable():
        return text
    keep = "\n\t" if multiline else ""
    return "".join(c if c.isprintable() or c in keep else _escape(c) for c in text)


def one_line(text: str) -> str:
    return printable(text, multiline=False)


def strip_controls(text: str) -> str:
    """`text` without a terminal's colour codes and control characters (tab, newline, CR kept): removed, not
    escaped, because build logs are full of colour codes a reader of a report does not want to see as `\\x1b[31m`,
    and XML 1.0 (the JUnit report) cannot carry most control characters at all."""
    return _REPORT_CONTROL.sub("", _ANSI.sub("", text))


def shorten(text: str, width: int, *, ellipsis: str = "…") -> str:
    """`text` if it fits in `width` characters, else cut so that it does with `ellipsis` at the end."""
    return text if len(text) <= width else text[: width - len(ellipsis)] + ellipsis


def did_you_mean(word: str, options: Iterable[str], *, in_parentheses: bool = True) -> str:
    """The hint after an unknown `word`: " (did you mean 'x'?)", or "; did you mean 'x'?" where the message
    goes on in parentheses itself; empty when no option is close (difflib's default cutoff, 0.6)."""
    close = difflib.get_close_matches(word, list(options), n=1)
    if not close:
        return ""
    return f" (did you mean {close[0]!r}?)" if in_parentheses else f"; did you mean {close[0]!r}?"


def redact_document(value: Any) -> Any:
    """A JSON document with credentials redacted from every string in it (keys included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_document(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_document(v) for v in value]
    return value
