"""The regression gate: status flips, reasons, new and removed cells, GEMM beyond threshold and spread.

Properties over made-up nights (hypothesis), cases as tables, and the command line for real: exit codes
0/1/2, one-line errors, and a regression constructed through the results API as the integration test does.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import synthetic
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st
from synthetic import cell_result, gemm_facts, nights, run, with_status

from npmatrix.cli import cli
from npmatrix.errors import ConfigError, ExitCode
from npmatrix.present import diff
from npmatrix.present.diff import Kind
from npmatrix.records import results
from npmatrix.records.results import Results
from npmatrix.verdict import Status

OK, NO_WHEEL, CRASHED, TIMEOUT = Status.OK, Status.NO_WHEEL, Status.CRASHED, Status.TIMEOUT


# --- properties ---------------------------------------------------------------------------------------------


@given(night=nights(), include_emulated=st.booleans(), threshold=st.floats(0, 100))
def test_a_night_against_itself_has_no_change_and_no_regression(
    night: Results, include_emulated: bool, threshold: float
) -> None:
    found = diff.diff(night, night, perf_threshold=threshold, include_emulated=include_emulated)
    assert found.cells == () and found.perf == () and found.regressions == ()
    assert found.exit_code() is ExitCode.OK
    assert found.unchanged == tuple(c.name for c in night.cells)
    assert "no regression" in diff.render_text(found)


@given(night=nights(min_cells=1), data=st.data())
def test_an_ok_cell_made_to_fail_is_a_regression_naming_it(night: Results, data: st.DataObject) -> None:
    victim = data.draw(st.sampled_from([c.name for c in night.cells]))
    before = with_status(night, victim, OK, reason="it worked")
    after = with_status(night, victim, data.draw(st.sampled_from(synthetic.FAILING)))
    found = diff.diff(before, after)
    (change,) = [c for c in found.cells if c.name == victim]
    assert change.kind is Kind.REGRESSION
    assert found.exit_code() is ExitCode.UNEXPECTED
    assert f"REGRESSION in {victim}" in diff.render_text(found)
    assert json.loads(diff.render(found, "json"))["regression"] is True


@given(old=nights(), new=nights())
def test_status_changes_read_backwards_swap_regressions_and_improvements(old: Results, new: Results) -> None:
    forward = {c.name: c.kind for c in diff.diff(old, new).cells}
    backward = {c.name: c.kind for c in diff.diff(new, old).cells}
    swap = {
        Kind.REGRESSION: Kind.IMPROVEMENT,
        Kind.IMPROVEMENT: Kind.REGRESSION,
        Kind.NEW: Kind.REMOVED,
        Kind.REMOVED: Kind.NEW,
    }
    for name, kind in forward.items():
        assert backward[name] == swap.get(kind, kind), name


@given(night=nights())
def test_every_format_renders_any_diff(night: Results) -> None:
    found = diff.diff(night, with_status(night, "c0", CRASHED))
    assert json.loads(diff.render(found, "json"))["cells"] == json.loads(json.dumps(diff.to_json(found)["cells"]))
    for line in diff.render(found, "md").splitlines():
        if line.startswith("|"):
            assert line.count("|") - line.count("\\|") == 4, line  # a reason's pipe does not add a column


# --- status changes, case by case -----------------------------------------------------------------------------

# (old status, old expect, new status, new expect) -> kind; None: unchanged
STATUS_CASES = [
    (OK, OK, CRASHED, OK, Kind.REGRESSION),
    (OK, NO_WHEEL, NO_WHEEL, NO_WHEEL, Kind.REGRESSION),  # NumPy stopped working, even if the matrix expects it
    (CRASHED, OK, OK, OK, Kind.IMPROVEMENT),
    (NO_WHEEL, NO_WHEEL, CRASHED, NO_WHEEL, Kind.REGRESSION),  # failed as known, now fails otherwise
    (CRASHED, NO_WHEEL, NO_WHEEL, NO_WHEEL, Kind.IMPROVEMENT),
    (CRASHED, OK, TIMEOUT, OK, Kind.CHANGED),  # both unexpected failures
    (NO_WHEEL, NO_WHEEL, NO_WHEEL, OK, Kind.EXPECTATION),  # the matrix was edited
    (OK, OK, OK, OK, None),
]


@pytest.mark.parametrize(("old_status", "old_expect", "new_status", "new_expect", "kind"), STATUS_CASES)
def test_status_change_kinds(
    old_status: Status, old_expect: Status, new_status: Status, new_expect: Status, kind: Kind | None
) -> None:
    old = run([cell_result("x", old_status, expect=old_expect, reason="same")])
    new = run([cell_result("x", new_status, expect=new_expect, reason="same")])
    found = diff.diff(old, new)
    assert [c.kind for c in found.cells] == ([kind] if kind else [])
    assert found.exit_code() == (ExitCode.UNEXPECTED if kind is Kind.REGRESSION else ExitCode.OK)


def test_same_status_another_reason_is_listed_and_gates_nothing() -> None:
    old = run([cell_result("x", NO_WHEEL, expect=NO_WHEEL, reason="PyPI has no wheel for armv7l")])
    new = run([cell_result("x", NO_WHEEL, expect=NO_WHEEL, reason="pip is too old")])
    (change,) = diff.diff(old, new).cells
    assert change.kind is Kind.REASON
    assert "'PyPI has no wheel for armv7l' -> 'pip is too old'" in change.describe()
    assert diff.diff(old, new).exit_code() is ExitCode.OK


def test_new_and_removed_cells_are_listed_not_regressions() -> None:
    old = run([cell_result("kept"), cell_result("gone")])
    new = run([cell_result("kept"), cell_result("added", CRASHED)])
    found = diff.diff(old, new)
    assert [(c.name, c.kind) for c in found.cells] == [("added", Kind.NEW), ("gone", Kind.REMOVED)]
    assert found.exit_code() is ExitCode.OK
    # The nightly gate also fails on a cell not as expected, new or not.
    assert found.unexpected == ("added",)
    assert found.exit_code(fail_on_unexpected=True) is ExitCode.UNEXPECTED
    assert "NOT as expected: added" in diff.render_text(found, fail_on_unexpected=True)


def test_runs_of_different_matrices_are_refused_on_one_line() -> None:
    old, new = run([], matrix="builtin:default"), run([], matrix="matrix/default.toml")
    with pytest.raises(ConfigError) as refused:
        diff.diff(old, new)
    message = str(refused.value)
    assert "\n" not in message
    assert "'builtin:default'" in message and "'matrix/default.toml'" in message


# --- GEMM -------------------------------------------------------------------------------------------------------


def _gemm_night(median: float, iqr: float, *, emulated: bool = False, cpu: str | None = None) -> Results:
    facts = gemm_facts([("float64", 256, "all", median, iqr, True)])
    if cpu:
        facts["cpu"] = {"model_name": cpu}
    return run([cell_result("x", emulated=emulated, facts=facts)])


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ((100, 1), (80, 1), Kind.REGRESSION),  # -20%: beyond 10% and beyond 1 + 1
        ((100, 1), (95, 1), None),  # -5%: within the threshold
        ((100, 15), (80, 6), None),  # -20%, but the runs spread over 15 + 6
        ((100, 1), (130, 1), Kind.IMPROVEMENT),
    ],
)
def test_gemm_counts_beyond_threshold_and_spread(
    old: tuple[float, float], new: tuple[float, float], kind: Kind | None
) -> None:
    found = diff.diff(_gemm_night(*old), _gemm_night(*new), perf_threshold=10)
    assert [p.kind for p in found.perf] == ([kind] if kind else [])
    assert found.perf_rows_compared == 1
    assert found.exit_code() == (ExitCode.UNEXPECTED if kind is Kind.REGRESSION else ExitCode.OK)


def test_gemm_of_emulated_cells_is_left_out_unless_asked() -> None:
    old, new = _gemm_night(1.0, 0.01, emulated=True), _gemm_night(0.5, 0.01, emulated=True)
    found = diff.diff(old, new)
    assert found.perf == () and found.perf_rows_compared == 0
    assert "QEMU" in found.perf_skipped[0].why
    assert [p.kind for p in diff.diff(old, new, include_emulated=True).perf] == [Kind.REGRESSION]


def test_an_amd64_cell_under_qemu_for_a_cpu_model_counts_as_emulated() -> None:
    facts = gemm_facts([("float64", 256, "all", 10.0, 0.1, True)])
    slower = gemm_facts([("float64", 256, "all", 5.0, 0.1, True)])
    old = run([cell_result("x86-v1", qemu_cpu="Nehalem", facts=facts)])
    new = run([cell_result("x86-v1", qemu_cpu="Nehalem", facts=slower)])
    assert diff.diff(old, new).perf == ()


def test_gemm_on_another_cpu_is_not_compared() -> None:
    found = diff.diff(_gemm_night(100, 1, cpu="AMD EPYC 9B14"), _gemm_night(50, 1, cpu="Intel Xeon"))
    assert found.perf == ()
    assert "another CPU (AMD EPYC 9B14 -> Intel Xeon)" in found.perf_skipped[0].why


def test_a_real_night_half_as_fast_is_a_perf_regression_on_native_cells_only() -> None:
    old = synthetic.real_night("2026-11-25T03:00:00+00:00")
    new = synthetic.real_night("2026-11-26T03:00:00+00:00", scale=0.5)
    found = diff.diff(old, new)
    assert {p.cell for p in found.perf} == {"colab-like"}  # pi64, pi32-apt ran under QEMU
    assert found.perf_rows_compared == 12 and all(p.regression for p in found.perf)
    assert found.cells == ()


# --- the command line -------------------------------------------------------------------------------------------


def npmatrix(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "npmatrix", *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def invoke(*args: str | Path) -> Result:
    """In process (fast); a FatalError stays `result.exception`, as main() would print it on one line."""
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def two_nights(tmp_path: Path) -> tuple[Path, Path]:
    one = synthetic.write(synthetic.real_night("2026-11-25T03:00:00+00:00"), tmp_path / "one.json")
    two = synthetic.write(synthetic.real_night("2026-11-26T03:00:00+00:00"), tmp_path / "two.json")
    return one, two


def test_cli_identical_nights_exit_0(two_nights: tuple[Path, Path]) -> None:
    done = invoke("diff", *two_nights)
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1] == "no regression"
    assert "cells: 4 unchanged" in done.output


def test_cli_constructed_regression_exits_1_naming_the_cell(two_nights: tuple[Path, Path], tmp_path: Path) -> None:
    one, two = two_nights
    broken = with_status(results.load(two), "colab-like", Status.IMPORT_FAILED, "constructed: import numpy failed")
    synthetic.write(broken, tmp_path / "broken.json")
    done = npmatrix("diff", one, tmp_path / "broken.json")  # for real: the exit code a CI step sees
    assert done.returncode == 1, done.stderr
    assert "REGRESSION          colab-like: ok -> import-failed (expected ok): constructed" in done.stdout
    assert done.stdout.splitlines()[-1] == "REGRESSION in colab-like"
    as_json = json.loads(invoke("diff", one, tmp_path / "broken.json", "--format", "json").output)
    assert as_json["exit_code"] == 1 and as_json["cells"][0]["name"] == "colab-like"
    md = invoke("diff", one, tmp_path / "broken.json", "--format", "md").output
    assert md.startswith("### :x: REGRESSION in colab-like")


def test_cli_history_directory_as_old(two_nights: tuple[Path, Path], tmp_path: Path) -> None:
    one, two = two_nights
    assert invoke("history", "add", one, tmp_path / "h").exit_code == 0
    done = invoke("diff", tmp_path / "h", two)
    assert done.exit_code == 0 and "one.json" not in done.output and "20261125T030000Z.json" in done.output
    # An empty history is refused: a wrong directory must not turn the gate green ...
    (tmp_path / "empty").mkdir()
    refused = invoke("diff", tmp_path / "empty", two, "--fail-on-unexpected")
    assert isinstance(refused.exception, ConfigError) and "holds no kept night" in str(refused.exception)
    assert "--first-night" in str(refused.exception)
    # ... unless it is the first night: every cell is new; the gate then rests on whether each ended as expected.
    first = invoke("diff", tmp_path / "empty", two, "--fail-on-unexpected", "--first-night")
    assert first.exit_code == 0 and "cells: 0 unchanged, 4 new" in first.output
    # A run's own directory is never a history, --first-night or not.
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_bytes(one.read_bytes())
    as_run = invoke("diff", tmp_path / "run", two, "--first-night")
    assert isinstance(as_run.exception, ConfigError) and "is a run directory" in str(as_run.exception)
    assert str(tmp_path / "run" / "results.json") in str(as_run.exception)


def test_cli_bad_input_is_one_line_exit_2(two_nights: tuple[Path, Path], tmp_path: Path) -> None:
    one, two = two_nights
    other = synthetic.write(
        synthetic.real_night("2026-11-27T03:00:00+00:00", matrix="builtin:default"), tmp_path / "other.json"
    )
    done = npmatrix("diff", one, other)  # for real: main() prints one line and exits 2
    assert done.returncode == ExitCode.BAD_INPUT and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"npmatrix: error: {other}: OLD ran matrix 'matrix/default.toml'")
    newer = json.loads(two.read_text()) | {"schema_version": 3}
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    for args, fragment in [
        ((tmp_path / "missing.json", two), "cannot read it"),
        ((one, two, "--perf-threshold", "-5"), "must not be negative"),
        ((one, two, "--perf-threshold", "nan"), "must be a finite number"),
        ((one, two, "--perf-threshold", "inf"), "must be a finite number"),
        ((one, tmp_path / "newer.json"), "schema_version 3, expected 2"),
    ]:
        refused = invoke("diff", *args)
        assert isinstance(refused.exception, ConfigError), refused.output
        assert fragment in str(refused.exception) and "\n" not in str(refused.exception)


def test_cli_diff_help_documents_exit_codes() -> None:
    done = invoke("diff", "--help")
    assert done.exit_code == 0
    for flag in ("--perf-threshold", "--include-emulated", "--fail-on-unexpected", "--format"):
        assert flag in done.output
    assert "1  a regression" in done.output


def test_diff_of_the_same_cells_in_another_order_is_unchanged() -> None:
    night = run([cell_result("a"), cell_result("b", CRASHED)])
    shuffled = dataclasses.replace(night, cells=tuple(reversed(night.cells)))
    assert diff.diff(night, shuffled).cells == ()


def test_an_interrupted_run_is_said_to_be_one() -> None:
    old = run([cell_result("a"), cell_result("b")])
    new = dataclasses.replace(run([cell_result("a")]), complete=False)
    found = diff.diff(old, new)
    assert found.incomplete == ("NEW",) and [c.kind for c in found.cells] == [Kind.REMOVED]
    assert "NEW did not finish (interrupted)" in diff.render_text(found)
    assert json.loads(diff.render(found, "json"))["incomplete"] == ["NEW"]


def test_cli_a_cell_named_twice_is_refused_naming_it(two_nights: tuple[Path, Path], tmp_path: Path) -> None:
    one, two = two_nights
    document = json.loads(one.read_text())
    document["cells"].append(document["cells"][0])
    (tmp_path / "twice.json").write_text(json.dumps(document))
    name = document["cells"][0]["name"]
    for args in [(tmp_path / "twice.json", two), (one, tmp_path / "twice.json")]:
        refused = invoke("diff", *args)
        assert isinstance(refused.exception, ConfigError), refused.output
        assert f"cell {name!r} is named twice" in str(refused.exception)
        assert f"cells[{len(document['cells']) - 1}].name" in str(refused.exception)
