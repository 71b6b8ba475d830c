"""The classifier against what people really hit: verbatim messages from public issue threads
(tests/data/real_reports.toml, each with its source URL), fed in the way a cell meets them."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from npmatrix.config import matrix
from npmatrix.judge.classify import classify, classify_probe
from npmatrix.judge.facts import summarize
from npmatrix.judge.outcomes import BuildOutcome
from npmatrix.plan.cellplan import plan_cell
from npmatrix.verdict import Status, Verdict

REPORTS = tomllib.loads((Path(__file__).resolve().parents[1] / "data" / "real_reports.toml").read_text())["report"]
GALLERY = tomllib.loads((Path(__file__).resolve().parents[2] / "src/npmatrix/matrices/gallery.toml").read_text())


def _facts(report: dict[str, Any]) -> dict[str, Any]:
    numpy: dict[str, Any] = {"found": True, "import_ok": True, "version": report.get("running"), "stderr_tail": ""}
    facts: dict[str, Any] = {"platform": {"machine": report.get("machine")}, "numpy": numpy, "bench": None}
    if report["kind"] == "import":
        numpy.update(import_ok=False, signal=report.get("signal") or None, stderr_tail=report["message"])
    elif report["kind"] == "extension":
        failed = {"module": report["module"], "ok": False, "signal": report.get("signal") or None}
        facts["imports"] = [{**failed, "stderr_tail": report["message"]}]
    elif report["kind"] == "bench":
        run = {"threads": "all", "signal": report["signal"], "timed_out": False, "stderr_tail": report["message"]}
        facts["bench"] = {"runs": [run]}
    return facts


def verdict_for(report: dict[str, Any]) -> Verdict:
    if report["kind"] != "pip":
        return classify_probe(summarize(_facts(report)))
    raw = {"name": "report", "platform": report["platform"]}
    if report["numpy"]:
        raw["numpy"] = report["numpy"]
    (cell,) = matrix.parse({"cell": [raw]}).cells
    build = BuildOutcome.failed("npmatrix-cell:report", report["message"])
    return classify(plan_cell(cell), build, None)


def test_the_catalogue_holds_at_least_twenty_sourced_reports() -> None:
    assert len(REPORTS) >= 20
    assert all(r["source"].startswith("https://github.com/") for r in REPORTS)
    assert len({r["source"] for r in REPORTS}) == len(REPORTS)


def test_cells_named_as_reproducing_a_report_exist_and_expect_its_status() -> None:
    cells = {c["name"]: c for c in GALLERY["cell"]}
    for report in REPORTS:
        if "cell" in report:
            assert cells[report["cell"]]["expect"] == report["status"], report["source"]


@pytest.mark.parametrize("report", REPORTS, ids=[r["source"].removeprefix("https://github.com/") for r in REPORTS])
def test_a_real_report_gets_its_status_reason_and_fix(report: dict[str, Any]) -> None:
    verdict = verdict_for(report)
    assert verdict.status is Status(report["status"]), verdict
    for fragment in report["reason"]:
        assert fragment in verdict.reason, (fragment, verdict.reason)
    for fragment in report["fix"]:
        assert fragment in (verdict.fix or ""), (fragment, verdict.fix)
    for fragment in report.get("not_in_fix", ()):
        assert fragment not in (verdict.fix or ""), (fragment, verdict.fix)
