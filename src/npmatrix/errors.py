"""Every failure a user can meet, with the exit code it maps to.

`cli.main` catches only `FatalError`; anything else is a bug and keeps its traceback.
Messages say what failed, why, and what to do, on one line.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # every cell ended as expected
    UNEXPECTED = 1  # some cell did not end as its matrix expected
    BAD_INPUT = 2  # bad matrix, option or configuration
    ENGINE_UNAVAILABLE = 3  # no engine, BuildKit, QEMU or matplotlib where needed, or the engine failed a cell
    INTERRUPTED = 130  # Ctrl-C; finished cells are kept


class FatalError(Exception):
    """Root of the errors that end a command with a one-line message and an exit code."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


class ConfigError(FatalError):
    """A matrix file, option or value is invalid. `where` names the file and key."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class EngineUnavailable(FatalError):
    """The container engine, a BuildKit path or QEMU emulation is missing."""

    exit_code = ExitCode.ENGINE_UNAVAILABLE


class EngineError(FatalError):
    """The engine failed a request (an API error, a dropped connection, a vanished container). Inside a run
    it is the cell's `engine-error` result and the run goes on; anywhere else it ends the command."""

    exit_code = ExitCode.ENGINE_UNAVAILABLE


class MissingExtra(FatalError):
    """An optional part of npmatrix is not installed (matplotlib, for the HTML report's charts). Like a missing
    engine, the fix is to install something, not to change the input: exit code 3."""

    exit_code = ExitCode.ENGINE_UNAVAILABLE
