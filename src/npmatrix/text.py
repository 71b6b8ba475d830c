"""Strings from files on their way to a terminal or a file: control characters made visible, credentials hidden.

Probe files and results files are shared in bug reports, so every string in them is hostile by design: an
ANSI/OSC escape can clear the screen, set the window title or write the clipboard, and a newline can forge a
second line of output; and a results file or a log may hold a credential (an index URL's token, an
Authorization header pip printed). `redact` is the one place that decides what a secret is, and `printable`
the one that makes a string safe to show: everything npmatrix prints (cli/output.py) or writes as text
(reports, matrices) goes through `printable`, and every JSON document it writes through `redact_document`
(results.py, probe_file.py, history.py; JSON text is ASCII, so escapes are JSON's own `\\u001b`). The words
every message shares live here too, once: `did_you_mean` for a name not known, `shorten` for a cell of a table.
Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

# Reports strip these instead of showing them: a terminal's escape sequences (CSI with ESC or the C1 byte,
# OSC up to its BEL or ST, other two-character escapes), and C0 controls but tab and newline, and DEL.
_ANSI = re.compile(
    r"(?:\x1b\[|\x9b)[0-9;?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[@-_]"
)
_REPORT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

REDACTED = "***"
# What ends a secret value: white space, the next query parameter or fragment, and the quotes, brackets and
# backslashes of the document around it (JSON, XML, Markdown tables), so a redaction never eats the syntax.
_VALUE = r"[^\s&#\"'<>\\|`]+"
# Names whose value is a credential, in a query string (`?access_token=...`) or in `name=value` text: the last
# word of the name decides, so access_token, private-token, client_secret, X-Amz-Signature and api_key all count.
_SECRET_WORD = r"(?:token|apikey|key|secret|password|passwd|pwd|sig|signature|auth|credentials?)"
_SECRET_NAME = rf"(?:[a-z0-9]+[_.-])*{_SECRET_WORD}"
# The patterns, each with the groups that are kept: the secret is what the last group does not cover.
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host or scheme://token@host: everything between '//' and '@' is a credential
    # (the scheme is not matched: a prefix glued to it, `colab-https://`, must not hide the URL).
    (re.compile(r"(://)[^/\s@\"'<>\\|`]+@"), rf"\1{REDACTED}@"),
    # An HTTP header (curl -v, pip --debug): `Authorization: Bearer x`, `Proxy-Authorization: Basic x`.
    (
        re.compile(
            rf"(?i)\b((?:proxy-)?authorization\s*[:=]\s*(?:(?:bearer|basic|token|digest|negotiate)\s+)?){_VALUE}"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer\s+)[a-z0-9._~+/-]{12,}=*"), rf"\1{REDACTED}"),
    # `token=...`, `&sig=...`, `password = "..."`: the name must start a word, so `monkey=3` is not a key.
    (re.compile(rf"(?i)(?<![a-z0-9_.-])({_SECRET_NAME}\s*=\s*[\"']?){_VALUE}"), rf"\1{REDACTED}"),
    # Tokens that say what they are by their prefix and alphabet (GitHub, GitLab, Slack, npm, PyPI), wherever they
    # appear, glued to a word too: their formats are distinct enough that a word of a log does not match.
    (
        re.compile(
            r"(gh[pousr]_|npm_)[A-Za-z0-9]{36,}|(github_pat_)[A-Za-z0-9_]{22,}|(glpat-)[A-Za-z0-9_-]{20,}"
            r"|(xox[abprs]-)[A-Za-z0-9-]{10,}|(pypi-AgE)[A-Za-z0-9_-]{16,}"
        ),
        rf"\1\2\3\4\5{REDACTED}",
    ),
)


def redact(text: str) -> str:
    """`text` with every credential npmatrix knows the shape of replaced by `***`: userinfo in URLs
    (`https://***@host/simple`), query-string and `name=value` tokens (`?token=***&x=1`, `api_key=***`),
    `Authorization` headers and bearer tokens, and tokens known by their prefix (`ghp_***`). The one place
    that decides what a secret is: everything npmatrix prints or writes passes through here."""
    if not any(c in text for c in "@=:_-") and "bearer" not in text.lower():
        return text  # the common case, a word or a version: none of the patterns can match
    for pattern, kept in _SECRET_PATTERNS:
        text = pattern.sub(kept, text)
    return text


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: str, *, multiline: bool = True) -> str:
    """`text` safe to print or write: credentials redacted (`redact`), and what `str.isprintable` calls
    unprintable shown as `\\x1b`, `\\u202e`. The one function every output of text goes through: the terminal
    (cli/output.py), the reports (present/reports.render) and the matrix freeze-to-matrix writes. Unprintable
    is C0 and C1 controls, DEL, the line/paragraph separators, the bidirectional marks and overrides that
    reorder what a terminal shows, zero-width and other format characters, spaces other than ' ', lone
    surrogates. With multiline=False newlines and tabs are escaped too: the result is one line."""
    text = redact(text)
    if text.isprintable():
        return text
    keep = "\n\t" if multiline else ""
    return "".join(c if c.isprintable() or c in keep else _escape(c) for c in text)


def one_line(text: str) -> str:
    return printable(text, multiline=False)


def strip_controls(text: str) -> str:
    """`text` for a report: a terminal's escape sequences (colour codes, OSC titles and links) and C0 controls
    removed, not escaped, because build logs are full of colour codes a reader of a report does not want to see
    as `\\x1b[31m`; a CRLF line end is a newline. What is left goes through `printable`, so whatever else is
    unprintable (a lone CR, a C1 control, a bidi override) is shown escaped, never raw: XML 1.0 (the JUnit
    report) cannot carry it, and a Markdown viewer would pass it on."""
    text = _REPORT_CONTROL.sub("", _ANSI.sub("", text.replace("\r\n", "\n")))
    return printable(text)


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
    """A JSON document with credentials redacted from every string in it (keys included). A loop, not recursion:
    a hostile results file nests objects a thousand deep, which json itself reads and writes."""
    root: list[Any] = [None]
    # (a value of the document, the container its copy goes in, its key or index there)
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        source, target, key = stack.pop()
        if isinstance(source, str):
            target[key] = redact(source)
        elif isinstance(source, dict):
            copy: dict[str, Any] = {}
            target[key] = copy
            for name, item in source.items():
                shown = redact(str(name))
                copy[shown] = None  # keeps the keys' order; the values are filled in as the stack unwinds
                stack.append((item, copy, shown))
        elif isinstance(source, list):
            target[key] = items = [None] * len(source)
            stack.extend((item, items, index) for index, item in enumerate(source))
        else:
            target[key] = source
    return root[0]
