"""Stdout and stderr for every command, and the Console app/ prints through."""

from __future__ import annotations

import contextlib
import errno
import os
import sys

import click

from npmatrix import text
from npmatrix.errors import ConfigError


def say(message: str, *, nl: bool = True) -> None:
    """Everything printed on stdout goes through here: strings from files are hostile by design (shared probe
    files, results), so control characters are made visible and credentials redacted (text.printable); and a
    stdout that is closed or full is a one-line error, not a traceback."""
    try:
        click.echo(text.printable(message), nl=nl)
    except OSError as exc:
        raise stdout_error(exc) from None


def stdout_error(exc: OSError) -> ConfigError:
    # Python flushes sys.stdout again at exit and would print a second complaint: point it at /dev/null.
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return ConfigError(f"cannot write the output: {reason}", where="stdout")


def progress(message: str) -> None:
    stderr(f"npmatrix: {text.one_line(message)}")


def stderr(line: str) -> None:
    """Everything printed on stderr goes through here: an error line quotes what it refuses (a matrix value, a
    cell name), which must not bring a token or an escape along."""
    with contextlib.suppress(OSError):  # nowhere left to complain to
        click.echo(text.printable(line), err=True)


def flush_stdout() -> None:
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except OSError as exc:
        raise stdout_error(exc) from None


class ClickConsole:
    """app.console.Console on the terminal."""

    def say(self, message: str) -> None:
        say(message)

    def echo(self, text: str, *, nl: bool = True) -> None:
        say(text, nl=nl)

    def progress(self, message: str) -> None:
        progress(message)

    def stderr(self, line: str) -> None:
        stderr(line)


CONSOLE = ClickConsole()
