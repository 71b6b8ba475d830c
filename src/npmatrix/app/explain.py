"""`npmatrix explain`: why NumPy works on one machine or cell and not on another."""

from __future__ import annotations

import json
from dataclasses import replace

from npmatrix.app.console import Console
from npmatrix.errors import ExitCode
from npmatrix.present import explain as explanations


def explain(a: str, b: str, console: Console, *, fmt: str = "text") -> ExitCode:
    """A and B: a probe file, or RESULTS.json:CELL. Two subjects of one label are told apart by their source."""
    first, second = explanations.load_subject(a), explanations.load_subject(b)
    if first.label == second.label:
        first, second = replace(first, label=first.source), replace(second, label=second.source)
    if fmt == "json":
        console.say(json.dumps(explanations.to_json(first, second), indent=2))
    else:
        console.say(explanations.render_text(first, second))
    return ExitCode.OK
