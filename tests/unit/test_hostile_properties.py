"""Issue 20, generated: every reader of results files on schema-valid hostile documents
(tests/unit/hostile_strategies.py), with the invariants of the corpus (tests/unit/hostile_harness.py): no
traceback, exit 0/1/2, no planted secret and no raw escape in any output, no input changed, nothing from
outside the run directory. One test per command; those that fail on today's code are xfail(strict) with the
failure classes hypothesis finds first (see KNOWN_FAILURES below).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hostile import EITHER, OUTSIDE_MARKER, Command, Setup, command_args, passwd_marker, run_dir
from hostile_harness import run_case
from hostile_strategies import Hostile, hostile_results
from hypothesis import HealthCheck, Phase, given, settings

try:
    import matplotlib  # noqa: F401

    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False

PROPERTY_COMMANDS: dict[Command, int] = {
    "report-md": 50,
    "report-junit": 50,
    "report-json": 30,
    "report-html": 12,  # about 0.4 s each: charts
    "diff": 50,
    "merge": 50,
    "explain": 50,
    "history-list": 50,
}
# Shrinking a failure costs minutes; a failing example is printed as found. NPMATRIX_HOSTILE_SHRINK=1 shrinks it.
PHASES = tuple(Phase) if os.environ.get("NPMATRIX_HOSTILE_SHRINK") == "1" else (Phase.explicit, Phase.generate)
# What hypothesis finds on today's code, per command: the first failure classes it meets (none since redaction
# and the sanitiser cover every output; a command that fails again gets its entry back, as "traceback").
KNOWN_FAILURES: dict[Command, str] = {}


def _param(command: Command) -> pytest.ParameterSet:
    marks = []
    if command in KNOWN_FAILURES:
        marks.append(pytest.mark.xfail(strict=True, reason=f"issue 20: {KNOWN_FAILURES[command]}"))
    if command == "report-html" and not HAVE_MATPLOTLIB:
        marks.append(pytest.mark.skip(reason="the HTML report needs matplotlib"))
    return pytest.param(command, id=command, marks=marks)


def check(command: Command, hostile: Hostile) -> None:
    with tempfile.TemporaryDirectory() as name, pytest.MonkeyPatch.context() as patch:
        tmp = Path(name)
        results = run_dir(tmp, json.dumps(hostile.document, indent=1))
        setup = Setup(
            args=command_args(command, tmp, results),
            allowed=EITHER,
            secrets=hostile.secrets,
            outside=(OUTSIDE_MARKER, *passwd_marker()),
        )
        outcome = run_case(setup, tmp, patch)
    assert outcome.failures == (), outcome.explain()


@pytest.mark.parametrize("command", [_param(c) for c in PROPERTY_COMMANDS])
def test_readers_survive_generated_hostile_results(command: Command) -> None:
    @settings(
        max_examples=PROPERTY_COMMANDS[command],
        deadline=None,
        database=None,
        derandomize=True,  # the same examples every run: an xfail(strict) must not flip by chance
        phases=PHASES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(hostile=hostile_results())
    def run(hostile: Hostile) -> None:
        check(command, hostile)

    run()
