"""Results for the report tests, built from a real run (tests/data/results-default.json) by small edits.

Shared by tests/unit and tests/integration (tests/ is on sys.path through tests/conftest.py). Every edit goes
through the typed records (dataclasses.replace on CellResult, Cell, Verdict); nothing writes raw results keys
except `hostile_facts`, which is about exactly that: what a probe may print.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from npmatrix.judge import tests as judge_tests
from npmatrix.judge.outcomes import TestRun
from npmatrix.judge.tests import TestReport
from npmatrix.records import results
from npmatrix.records.results import CellResult, Results
from npmatrix.verdict import Status, Verdict

DATA = Path(__file__).resolve().parent / "data"
DEFAULT = DATA / "results-default.json"
HOSTILE = '<script>alert("x")</script> & "quoted" </svg></pre>'


def default() -> Results:
    return results.load(DEFAULT)


def cell(r: Results, name: str) -> CellResult:
    return r.cell(name)


def with_cells(r: Results, *cells: CellResult) -> Results:
    """`r` with the cells of the same names replaced."""
    by_name = {c.name: c for c in cells}
    return replace(r, cells=tuple(by_name.get(c.name, c) for c in r.cells))


def failed(
    c: CellResult, status: Status, reason: str, *, fix: str | None = None, evidence: tuple[str, ...] = ()
) -> CellResult:
    return replace(c, verdict=Verdict(status=status, reason=reason, fix=fix, evidence=evidence))


def unexpected_night() -> Results:
    """Two cells not as their matrix expected: pi64 crashes on import although it expects ok (so it measured no
    GEMM), and pi32-apt works although its matrix expects Debian's libblas to be missing (as in the gallery)."""
    r = default()
    pi64 = cell(r, "pi64")
    crashed = failed(
        replace(pi64, facts=_crashed_facts(pi64.facts or {})),
        Status.CRASHED,
        "`import numpy` died with SIGSEGV",
        fix="pin numpy<2.3 until OpenBLAS 0.3.31",
        evidence=("Fatal Python error: Segmentation fault", "File numpy/_core/multiarray.py, line 1"),
    )
    apt = cell(r, "pi32-apt")
    works = replace(apt, cell=replace(apt.cell, expect=Status.MISSING_SHARED_LIBRARY))
    return with_cells(r, crashed, works)


def _crashed_facts(facts: dict[str, Any]) -> dict[str, Any]:
    edited = copy.deepcopy(facts)
    edited["numpy"].update(import_ok=False, signal="SIGSEGV")
    edited.pop("bench", None)
    return edited


def hostile() -> Results:
    """Every string a probe, log or matrix can carry, made hostile: markup, quotes, ampersands."""
    r = default()
    pip = cell(r, "pi32-pip")
    apt = cell(r, "pi32-apt")
    bad_pip = replace(
        pip,
        cell=replace(pip.cell, note=f"note {HOSTILE}"),
        verdict=Verdict(status=Status.NO_WHEEL, reason=f"reason {HOSTILE}", fix=f"fix {HOSTILE}", evidence=(HOSTILE,)),
    )
    bad_apt = replace(apt, facts=hostile_facts(apt.facts or {}))
    return with_cells(r, bad_pip, bad_apt)


def hostile_facts(facts: dict[str, Any]) -> dict[str, Any]:
    edited = copy.deepcopy(facts)
    edited["cpu"]["model_name"] = f"cpu {HOSTILE}"
    edited["python"]["version"] = "3.11 </svg>"
    return edited


def night_at(r: Results, started_at: str, *, scale: float = 1.0, run_id: str = "") -> Results:
    """`r` as if run at `started_at`, every GFLOP/s multiplied by `scale`: an earlier night for history."""
    cells = tuple(replace(c, facts=_scaled(c.facts, scale)) if c.facts else c for c in r.cells)
    host = {**r.host, "run_id": run_id or started_at}
    return replace(r, started_at=started_at, finished_at=None, host=host, cells=cells, source=f"history/{started_at}")


def _scaled(facts: dict[str, Any], scale: float) -> dict[str, Any]:
    edited = copy.deepcopy(facts)
    for run in (edited.get("bench") or {}).get("runs") or []:
        for row in run.get("results") or []:
            row["gflops_median"] *= scale
    return edited


def many_cells(count: int) -> Results:
    """`count` cells: the four real ones over and over under new names, with varied speeds."""
    base = default().cells
    cells = []
    for i in range(count):
        c = base[i % len(base)]
        renamed = replace(c.cell, name=f"{c.name}-{i:02d}")
        facts = _scaled(c.facts, 0.5 + (i % 7) / 6) if c.facts else None
        logs = {k: v.replace(c.name, renamed.name) for k, v in c.logs.items()}
        cells.append(replace(c, cell=renamed, facts=facts, logs=logs))
    return replace(default(), cells=tuple(cells))


# --- a cell's own tests: captured runs (tests/data/testruns, see tests/unit/test_judge_tests.py) -----------

TESTRUNS = DATA / "testruns"
HOSTILE_TAIL = (
    "collected 1 item\n"
    "</pre><script>alert(1)</script>\n"
    "\x1b[31mFAILED\x1b[0m \x1b]0;owned\x07title\n"
    "```\n"
    "# after the fence\n"
    "~~~\n"
    "index https://pypi.example/simple?token=S3CR3TTAILx9Q2&x=1\n"
    "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8 ]]> & done"
)
TAIL_SECRETS = ("S3CR3TTAILx9Q2", "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8")


def captured_tests(name: str, *, duration_s: float = 1.5) -> TestReport:
    """What results.json keeps of a real test run (tests/data/testruns/NAME.json)."""
    record = json.loads((TESTRUNS / f"{name}.json").read_text())
    run = TestRun(
        command=record["command"],
        exit_code=record["exit_code"],
        stdout=record["stdout"],
        stderr=record["stderr"],
        duration_s=duration_s,
    )
    return judge_tests.read(run)


def with_tests(c: CellResult, report: TestReport) -> CellResult:
    """`c` with its tests, judged as the runner judges them (the probe's verdict, then the tests')."""
    image = c.image.tag
    verdict = judge_tests.classify(report, c.verdict, image=image, limit=600)
    logs = {**c.logs, "tests": f"results/logs/{c.name}.tests.log"} if report.skipped is None else c.logs
    return replace(c, tests=report, verdict=verdict, logs=logs)


def tests_night() -> Results:
    """The real night with tests: colab-like's pass, pi64's fail by name (it expects ok, so NOT as expected),
    pi32-pip's are not run (no wheel), pi32-apt has none."""
    r = default()
    colab = with_tests(cell(r, "colab-like"), captured_tests("passed"))
    pi64 = with_tests(cell(r, "pi64"), captured_tests("failed"))
    # As the runner words it (run/runner.py): the probe failed, so the tests never ran.
    not_run = TestReport.not_run("pytest {project}/tests", "tests not run: the probe ended no-wheel")
    pip = with_tests(cell(r, "pi32-pip"), not_run)
    return with_cells(r, colab, pi64, pip)


def hostile_tests_night() -> Results:
    """pi64's tests failed with a hostile tail and hostile names and command."""
    r = tests_night()
    pi64 = cell(r, "pi64")
    assert pi64.tests is not None
    bad = replace(
        pi64.tests,
        command=f"pytest {HOSTILE}",
        output_tail=HOSTILE_TAIL,
        failed=(f"tests/test_x.py::test_{HOSTILE}", "tests/test_y.py::test_\x1b[2Jcleared"),
    )
    return with_cells(r, replace(pi64, tests=bad))
