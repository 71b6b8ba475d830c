"""Reading the shell in GitHub workflow and action files: the npmatrix commands they run, checked against the CLI.

Shared by test_workflow.py (the nightly workflow) and test_action.py (action.yml).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from npmatrix.cli import cli


def shell_words(script: str) -> list[str]:
    """The words of a script; a newline outside quotes ends a command as ';' does, and is one of its words."""
    lexer = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars="();<>|&\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    return list(lexer)


def commands(words: list[str], program: str) -> list[list[str]]:
    """Each run of `program` (by its basename) with its words up to the next shell operator."""
    found = []
    for i, word in enumerate(words):
        if Path(word).name == program:
            args = []
            for arg in words[i + 1 :]:
                if set(arg) <= set("();<>|&\n"):
                    break
                args.append(arg)
            found.append(args)
    return found


def check_command(args: list[str]) -> None:
    command: click.Command = cli
    path = ["npmatrix"]
    words = list(args)
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        name = words.pop(0)
        with click.Context(command) as ctx:
            sub = command.get_command(ctx, name)
        assert sub is not None, f"{' '.join(path)} has no subcommand {name!r}"
        command, path = sub, [*path, name]
    flags = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
    for word in words:
        if word.startswith("-"):
            assert word.split("=", 1)[0] in flags, f"{' '.join(path)} has no option {word}"
