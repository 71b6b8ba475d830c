"""What app/ prints through: the command line hands each command a Console (cli/output.py), so app/ needs no click
and a test can hand it a list."""

from __future__ import annotations

from typing import Protocol


class Console(Protocol):
    def say(self, message: str) -> None:
        """A line on stdout of text that may come from files (shared probe files, results): control characters
        are made visible and credentials redacted."""

    def echo(self, text: str, *, nl: bool = True) -> None:
        """A document npmatrix renders itself on stdout (a diff, a report, a matrix file): as it is but for what
        `say` does too, since the document quotes strings from files (cell names, notes, index URLs)."""

    def progress(self, message: str) -> None:
        """One line on stderr, `npmatrix: ...`: what is going on, never the result."""

    def stderr(self, line: str) -> None:
        """A line on stderr (`npmatrix: error: ...` that does not end the command by itself), redacted and with
        control characters made visible like everything npmatrix prints."""
