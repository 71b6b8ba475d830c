"""The `npmatrix` command line: the group, `main()`, and one module per command (cli/run.py, cli/diff.py, ...).

click only: a command module parses its options and calls the function in app/ of the same name, which does
the work and returns an exit code. Commands that need the engine import their app module inside the command,
so `diff`, `merge` and `history` never load the Docker SDK (tests/unit/test_import_contract.py).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click

from npmatrix import __version__, text

# The command modules by name, as their files are named: `npmatrix.cli.run` is the module, `run.run` the command.
from npmatrix.cli import base, clean, diff, doctor, explain, freeze, history, init, merge, probe, render, report, run
from npmatrix.cli import list as list_
from npmatrix.cli.options import EXIT_CODES_HELP
from npmatrix.cli.output import flush_stdout, stderr
from npmatrix.errors import ConfigError, ExitCode, FatalError


@click.group(epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="npmatrix")
def cli() -> None:
    """Build NumPy in a matrix of containers (amd64, arm64, arm/v7 under QEMU), probe and benchmark each
    cell, and say per cell whether it works and why not.

    \b
    Typical use:
      npmatrix doctor                      # is the engine, BuildKit and QEMU ready?
      npmatrix run                         # the default matrix: table on stdout, results/results.json
      npmatrix run --arch arm/v7           # only the 32-bit Raspberry-Pi-like cells
      npmatrix list --matrix my.toml       # which cells a matrix file expands to
      npmatrix probe --bench --out me.json # the same probe on this machine, no engine needed
      npmatrix explain me.json results/results.json:colab   # why NumPy works there and not here
    """


COMMANDS: tuple[click.Command, ...] = (
    list_.list_cells,
    render.render,
    init.init,
    run.run,
    diff.diff,
    merge.merge,
    history.history_group,
    report.report,
    freeze.freeze_to_matrix,
    base.base,
    clean.clean,
    doctor.doctor,
    probe.probe,
    explain.explain,
)
for command in COMMANDS:
    cli.add_command(command)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    # CI cancels with SIGTERM: unwind like Ctrl-C so containers are removed and results kept.
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        if sys.stdout is None:  # started with stdout closed (`>&-`): the table would be lost
            raise ConfigError("is closed; redirect it to a file or /dev/null", where="stdout")
        try:
            cli.main(standalone_mode=False)
        finally:
            flush_stdout()
    except FatalError as exc:
        stderr(f"npmatrix: error: {text.one_line(str(exc))}")
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        stderr("npmatrix: interrupted; finished cells are kept in results.json")
        sys.exit(ExitCode.INTERRUPTED)
    except click.exceptions.ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `npmatrix` alone (click >= 8.2): the help is the answer
            exc.show()
            sys.exit(exc.exit_code)
        # Usage errors too are one line: where (the option) and what; --help has the rest.
        stderr(f"npmatrix: error: {text.one_line(exc.format_message())} (see --help)")
        sys.exit(exc.exit_code)
