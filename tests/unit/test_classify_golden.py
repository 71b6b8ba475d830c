"""Whole verdicts, not only statuses: every case of test_classify.py's tables and every output captured from
the real gallery run is classified, and its status, reason, fix and evidence compared with
tests/data/verdicts.golden.json. The tables check the words that matter; this checks that nothing else in a
verdict changes unnoticed (mutation testing found reasons and fixes no test read: docs/mutation.md).

After a deliberate change to a verdict: NPMATRIX_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_classify_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from test_classify import (
    BUILD_CASES,
    NO_WHEEL_LOG,
    PROBE_CASES,
    _abi_mismatch,
    _abi_size_changed,
    _baseline,
    _built,
    _edited,
    _extension_other,
    _failed,
    _plan,
    _sigill,
)
from test_classify_captured import CAPTURED, _cell

from npmatrix.judge.classify import classify
from npmatrix.judge.outcomes import BuildOutcome, ProbeRun
from npmatrix.plan.cellplan import plan_cell

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "verdicts.golden.json"


def _captured(path: Path) -> dict[str, Any]:
    captured = json.loads(path.read_text())
    build = captured["build"]
    outcome = BuildOutcome(
        tag="captured",
        ok=build["ok"],
        image_id="sha256:captured" if build["ok"] else None,
        cached=build["cached"],
        exit_code=0 if build["ok"] else 1,
        timed_out=False,
        duration_s=0.0,
        log_path=None,
        output=build["output"],
    )
    probe = None
    if build["ok"]:
        probe = ProbeRun(
            exit_code=None if captured["probe_timed_out"] else 0,
            stdout="",
            stderr="",
            duration_s=0.0,
            facts=captured["probe"],
        )
    return classify(plan_cell(_cell(captured["inputs"])), outcome, probe).to_json()


def _without_versions(r: dict[str, Any]) -> None:
    r["numpy"]["version"] = None
    r["numpy"]["install"] = {}
    r["cpu"]["model_name"] = None


def _edge_probes() -> dict[str, ProbeRun]:
    """Probe outputs with facts missing or at a boundary: what the fallbacks and cut-offs in classify say."""

    def many_wrong(r: dict[str, Any]) -> None:
        for run in r["bench"]["runs"]:
            for row in run["results"]:
                row.update(ok=False, max_rel_error=0.5)

    def warned_and_wrong(r: dict[str, Any]) -> None:
        r["bench"]["runs"][0]["results"][0].update(ok=False, max_rel_error=0.5, fp_warnings=["overflow"])

    def no_bench(r: dict[str, Any]) -> None:
        r["bench"] = None

    def no_results(r: dict[str, Any]) -> None:
        r["bench"] = {
            "ran": True,
            "skipped_reason": None,
            "runs": [
                {"threads": "all", "results": [], "stderr_tail": "x\ny"},
                {"threads": "single", "results": [], "stderr_tail": "z"},
            ],
        }

    def no_results_no_runs(r: dict[str, Any]) -> None:
        r["bench"] = {"ran": True, "skipped_reason": None, "runs": []}

    def extension_no_stderr(r: dict[str, Any]) -> None:
        _extension_other(r)
        r["imports"][1]["stderr_tail"] = None

    def long_abi(r: dict[str, Any]) -> None:
        _abi_mismatch(r)
        r["imports"][0]["stderr_tail"] = (
            "A module that was compiled using NumPy 1.x cannot be run in\n"
            "AttributeError: _ARRAY_API not found\n"
            "ImportError: numpy.core.multiarray failed to import\n"
            "ValueError: numpy.dtype size changed, may indicate binary incompatibility\n"
            "line five\nline six\nline seven\n"
        )

    def long_reverse_abi(r: dict[str, Any]) -> None:
        _abi_size_changed(r)
        r["numpy"]["version"] = "1.26.4"
        r["imports"][0]["stderr_tail"] = "\n".join(
            [f"ValueError: numpy.ufunc size changed, case {i}" for i in range(5)]
            + ["tail one", "tail two", "tail three"]
        )

    def import_hangs_with_stack(r: dict[str, Any]) -> None:
        r["numpy"].update(
            import_ok=False, signal=None, timed_out=True, stderr_tail="Thread 0x1 (most recent call first):"
        )

    def long_other(r: dict[str, Any]) -> None:
        _extension_other(r)
        r["imports"][1]["stderr_tail"] = "\n".join(f"line {i}" for i in range(9))

    return {
        "sigill-no-version-no-cpu": _edited(lambda r: (_sigill(r), _without_versions(r))),
        "baseline-no-version": _edited(lambda r: (_baseline(r), _without_versions(r))),
        "abi-no-version": _edited(lambda r: (_abi_mismatch(r), _without_versions(r))),
        "abi-size-changed-no-version": _edited(lambda r: (_abi_size_changed(r), _without_versions(r))),
        "abi-long-stderr": _edited(long_abi),
        "extension-long-stderr": _edited(long_other),
        "reverse-abi-long-stderr": _edited(long_reverse_abi),
        "import-hangs-with-stack": _edited(import_hangs_with_stack),
        "extension-no-stderr": _edited(extension_no_stderr),
        "seven-wrong-products": _edited(many_wrong),
        "warned-and-wrong": _edited(warned_and_wrong),
        "no-bench-requested": _edited(no_bench),
        "bench-without-results": _edited(no_results),
        "bench-without-runs": _edited(no_results_no_runs),
        "import-failed-no-stderr": _edited(lambda r: r["numpy"].update(import_ok=False, signal=None, stderr_tail="")),
        "no-probe": None,  # type: ignore[dict-item]
        "printed-nothing": ProbeRun(exit_code=1, stdout="", stderr="", duration_s=1.0, facts=None),
    }


def _apt_plan() -> Any:
    from npmatrix.config import matrix
    from npmatrix.plan.cellplan import plan_cell

    (cell,) = matrix.parse({"cell": [{"name": "cell", "platform": "arm/v7", "install": "apt"}]}).cells
    return plan_cell(cell)


def _edge_builds() -> dict[str, tuple[Any, Any]]:
    """Build logs at the edges of _no_wheel: pip exactly 20.3, no pip line, no tag line, arm64, other pins."""
    pip_20_3 = NO_WHEEL_LOG.replace("pip 23.0.1 from", "pip 20.3 from")
    pip_20_2 = NO_WHEEL_LOG.replace("pip 23.0.1 from", "pip 20.2.4 from")
    no_pip = NO_WHEEL_LOG.replace("pip 23.0.1 from", "pipx 23.0.1 at")
    no_tags = NO_WHEEL_LOG.replace("Compatible tags: 396", "Compatible tag list")
    offered = NO_WHEEL_LOG.replace("(from versions: none)", "(from versions: 1.0, 1.1 , 2.0)")
    offered_no_tags = offered.replace("Compatible tags: 396", "Compatible tag list")
    only_could_not = "\n".join(line for line in NO_WHEEL_LOG.splitlines() if "No matching" not in line)
    return {
        "pip-20.3-is-new-enough": (_plan("arm/v7"), _failed(pip_20_3)),
        "pip-20.2-is-too-old": (_plan("arm/v7"), _failed(pip_20_2)),
        "no-pip-line": (_plan("arm/v7"), _failed(no_pip)),
        "no-tag-line": (_plan("arm/v7"), _failed(no_tags)),
        "arm64": (_plan("arm64"), _failed(NO_WHEEL_LOG)),
        "offered-versions": (_plan("amd64"), _failed(offered)),
        "offered-versions-no-tags": (_plan("amd64"), _failed(offered_no_tags)),
        "only-could-not-find": (_plan("arm/v7"), _failed(only_could_not)),
        "apt-cell-no-pin": (_apt_plan(), _failed(NO_WHEEL_LOG)),
        "empty-log": (_plan(), _failed("")),
    }


def _all_verdicts() -> dict[str, Any]:
    verdicts: dict[str, Any] = {}
    for case in BUILD_CASES:
        cell_plan, build = case.values[0], case.values[1]
        verdicts[f"build/{case.id}"] = classify(cell_plan, build, None).to_json()
    for case in PROBE_CASES:
        verdicts[f"probe/{case.id}"] = classify(_plan(), _built(), case.values[0]).to_json()
        verdicts[f"probe-on-pi4/{case.id}"] = classify(_plan("arm64", cpu="pi4"), _built(), case.values[0]).to_json()
    for path in CAPTURED:
        verdicts[f"captured/{path.stem}"] = _captured(path)
    for key, probe in _edge_probes().items():
        verdicts[f"edge-probe/{key}"] = classify(_plan(), _built(), probe).to_json()
    for key, (cell_plan, build) in _edge_builds().items():
        verdicts[f"edge-build/{key}"] = classify(cell_plan, build, None).to_json()
    return verdicts


def test_verdicts_match_the_golden_file() -> None:
    verdicts = _all_verdicts()
    if os.environ.get("NPMATRIX_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(verdicts, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert sorted(verdicts) == sorted(golden), "cases were added or removed: update the golden file"
    for key, verdict in verdicts.items():
        assert verdict == golden[key], key


@pytest.mark.parametrize("key", ["build/no-wheel-armv7", "captured/old-pip", "captured/py313-numpy126"])
def test_the_golden_file_holds_real_reasons(key: str) -> None:
    golden = json.loads(GOLDEN.read_text())
    assert golden[key]["status"] == "no-wheel" and golden[key]["reason"] and golden[key]["fix"]
