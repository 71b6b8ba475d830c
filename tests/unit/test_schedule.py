"""Cells side by side (schedule.py and the runner with --jobs): the start order, the number at once, timed
sections that never overlap and say what ran during them, and a run that keeps what finished."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fakes import FakeEngine

from npmatrix.cli import cli
from npmatrix.config import matrix
from npmatrix.errors import ConfigError, EngineError
from npmatrix.host.engine import Builder, CallResult
from npmatrix.judge.outcomes import BuildOutcome
from npmatrix.plan import cellplan as plan
from npmatrix.plan import protocol
from npmatrix.records import results
from npmatrix.run import build, runner, schedule
from npmatrix.verdict import Status

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
BOOKWORM = plan.plan(matrix.load(REPO / "matrix" / "bookworm.toml"))  # colab-like, pi64, pi32-pip, pi32-apt


@pytest.mark.parametrize(("cells", "cpus", "jobs"), [(5, 2, 2), (1, 8, 1), (3, 3, 3), (0, 4, 1), (4, 0, 1)])
def test_default_jobs_is_the_cpus_bounded_by_the_cells(cells: int, cpus: int, jobs: int) -> None:
    assert schedule.default_jobs(cells, cpus) == jobs


@pytest.mark.parametrize("jobs", [0, -1, -8])
def test_jobs_below_one_is_refused_in_one_line(jobs: int) -> None:
    result = CliRunner().invoke(cli, ["run", "--jobs", str(jobs), "--matrix", "default"])
    assert isinstance(result.exception, ConfigError), result.output
    assert result.exception.where == "--jobs" and result.exception.exit_code == 2
    assert str(result.exception) == f"--jobs: must be at least 1, got {jobs}"


def test_emulated_cells_start_first_in_the_matrix_order() -> None:
    order = [p.cell.name for p in schedule.start_order(BOOKWORM)]
    assert order == ["pi64", "pi32-pip", "pi32-apt", "colab-like"]
    assert [p.placement.under_qemu for p in BOOKWORM] == [False, True, True, True]  # the test means what it says


DEFAULT = plan.plan(matrix.load(REPO / "matrix" / "default.toml"))  # colab, pi5-64, pi4-64, pi32-pip, pi32-apt


def test_cells_that_build_the_same_layers_share_their_build_steps_and_nothing_else() -> None:
    steps = {p.cell.name: p.build_steps for p in DEFAULT}
    assert steps["pi4-64"] == steps["pi5-64"]  # the same pins on another board: only the name differs
    assert len(set(steps.values())) == 4
    pi5 = next(p for p in DEFAULT if p.cell.name == "pi5-64")
    other_pin = plan.plan_cell(dataclasses.replace(pi5.cell, numpy="2.1.2"))
    assert other_pin.build_steps != pi5.build_steps


def test_a_build_twin_starts_after_every_other_cell() -> None:
    order = [p.cell.name for p in schedule.start_order(DEFAULT)]
    # emulated first, as before; pi4-64, whose build is a cache hit once pi5-64's is done, last
    assert order == ["pi5-64", "pi32-pip", "pi32-apt", "colab", "pi4-64"]


def test_timed_sections_wait_for_one_another() -> None:
    activity = schedule.Activity()
    first_in, second_in, release = threading.Event(), threading.Event(), threading.Event()

    def second() -> None:
        with activity.timed("b"):
            second_in.set()

    with activity.timed("a"):
        first_in.set()
        other = threading.Thread(target=second)
        other.start()
        assert not second_in.wait(0.2)  # blocked while "a" is timed
        release.set()
    other.join(5)
    assert second_in.is_set()


def test_a_timed_section_names_the_other_cells_work_that_overlapped_it() -> None:
    activity = schedule.Activity()
    with activity.busy("before", "build"):
        pass  # ended before: not an overlap
    with activity.busy("long", "build"), activity.busy("a", "probe"), activity.timed("a") as window:
        with activity.busy("late", "probe"):
            pass  # started during: an overlap
        with activity.busy("a", "build"):
            pass  # the cell's own work is not an overlap
    assert schedule.overlap_labels(window) == ("late probe", "long build")


def test_a_timed_section_alone_records_no_overlap() -> None:
    activity = schedule.Activity()
    with activity.timed("a") as window:
        pass
    with activity.busy("b", "build"):
        pass  # after the section: not in its window
    assert window == set()


def test_nothing_starts_once_the_run_is_cancelled() -> None:
    activity = schedule.Activity()
    activity.cancelled.set()
    with pytest.raises(schedule.Cancelled), activity.busy("a", "build"):
        pass
    with pytest.raises(schedule.Cancelled), activity.timed("a"):
        pass


def test_run_all_reports_each_item_to_the_calling_thread_in_order_with_one_job() -> None:
    seen: list[tuple[str, str, str]] = []
    caller = threading.current_thread().name

    def done(item: str, result: str) -> None:
        seen.append((item, result, threading.current_thread().name))

    schedule.run_all(["x", "y", "z"], jobs=1, work=str.upper, done=done, activity=schedule.Activity())
    assert seen == [("x", "X", caller), ("y", "Y", caller), ("z", "Z", caller)]


def test_run_all_runs_jobs_at_once() -> None:
    both = threading.Barrier(2, timeout=5)  # breaks (and fails the work) unless two run at the same time

    def work(item: str) -> str:
        both.wait()
        return item

    got: list[str] = []
    schedule.run_all(["a", "b"], jobs=2, work=work, done=lambda i, r: got.append(r), activity=schedule.Activity())
    assert sorted(got) == ["a", "b"]


def test_ctrl_c_cancels_what_has_not_started_aborts_the_running_and_propagates() -> None:
    activity = schedule.Activity()
    started: list[str] = []
    aborted, running = threading.Event(), threading.Event()

    def work(item: str) -> str:
        started.append(item)
        if item == "running":
            running.set()
            assert aborted.wait(5)  # a probe that ends only when on_abort removes its container
        return item

    def done(item: str, result: str) -> None:
        assert running.wait(5)
        raise KeyboardInterrupt  # Ctrl-C arrives in the main thread, here while it records the first cell

    with pytest.raises(KeyboardInterrupt):
        schedule.run_all(
            ["first", "running", "waiting"], jobs=1, work=work, done=done, activity=activity, on_abort=aborted.set
        )
    assert started == ["first", "running"] and activity.cancelled.is_set()


# --- the runner with --jobs and the split probe -------------------------------------------------------------


def _facts(*, deferred: bool) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((DATA / "probe-host-amd64-numpy-ok.json").read_text())
    if deferred:
        facts["bench"] = {"ran": False, "skipped_reason": protocol.BENCH_DEFERRED, "runs": []}
    return facts


BENCH_SECTION = _facts(deferred=False)["bench"]


def _responder(calls: list[str], *, bench_stdout: str | None = None) -> Any:
    def respond(image: str, command: Sequence[str]) -> CallResult:
        if "--bench-only" in command:
            calls.append(f"bench {image}")
            stdout = (
                bench_stdout
                if bench_stdout is not None
                else json.dumps(
                    {"probe_version": 1, "bench": BENCH_SECTION, "probe_duration_s": 2.0, "probe_errors": []}
                )
            )
            return CallResult(exit_code=0, stdout=stdout, stderr="bench says hi", duration_s=2.0)
        assert "--bench-later" in command
        calls.append(f"probe {image}")
        return CallResult(exit_code=0, stdout=json.dumps(_facts(deferred=True)), stderr="", duration_s=1.0)

    return respond


@pytest.fixture
def engine(fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    monkeypatch.setattr(runner, "ensure_bases", lambda *a, **k: {})

    def fake_build(p: plan.CellPlan, *, engine: Any, **kwargs: Any) -> BuildOutcome:
        fake_engine.images[p.image_tag] = f"sha256:{p.cell.name}"
        return BuildOutcome.reused(p.image_tag, f"sha256:{p.cell.name}")

    monkeypatch.setattr(build, "build_cell", fake_build)
    return fake_engine


def test_the_benchmark_runs_in_its_own_call_and_is_merged(engine: FakeEngine, tmp_path: Path) -> None:
    calls: list[str] = []
    engine.respond = _responder(calls)
    (colab,) = [p for p in BOOKWORM if p.cell.name == "colab-like"]
    (result,) = runner.run([colab], runner.RunOptions(out_dir=tmp_path, jobs=1), progress=lambda m: None)
    assert calls == [f"probe {colab.image_tag}", f"bench {colab.image_tag}"]
    assert [box.command for box in engine.created] == [
        colab.probe_command(bench_stage="later").argv(),
        colab.probe_command(bench_stage="only").argv(),
    ]
    assert result.status is Status.OK and result.facts is not None
    assert result.facts["bench"] == BENCH_SECTION
    assert result.durations["bench"] == 2.0 and result.durations["probe"] == 3.0
    assert result.bench_overlap == ()  # alone
    assert engine.containers == {}
    assert "bench says hi" in (tmp_path / "logs" / "colab-like.probe.stderr.log").read_text()
    (read,) = results.load(tmp_path / "results.json").cells
    assert read.bench_overlap == () and read.facts == result.facts


def test_a_benchmark_call_without_a_report_is_said_in_the_bench_section(engine: FakeEngine, tmp_path: Path) -> None:
    engine.respond = _responder([], bench_stdout="Segmentation fault")
    (colab,) = [p for p in BOOKWORM if p.cell.name == "colab-like"]
    (result,) = runner.run([colab], runner.RunOptions(out_dir=tmp_path, jobs=1), progress=lambda m: None)
    assert result.facts is not None
    bench = result.facts["bench"]
    assert bench["ran"] is False and bench["runs"] == []
    assert bench["skipped_reason"].startswith("the benchmark call printed no report (JSONDecodeError")


def test_results_without_bench_overlap_still_read(tmp_path: Path) -> None:
    document = json.loads((DATA / "results-default.json").read_text())
    assert all("bench_overlap" not in c for c in document["cells"])
    read = results.from_json(document, where="old.json")
    assert all(c.bench_overlap is None for c in read.cells)
    assert all("bench_overlap" not in c.to_json() for c in read.cells)


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_a_failing_cell_does_not_lose_the_finished_ones(engine: FakeEngine, tmp_path: Path, jobs: int) -> None:
    calls: list[str] = []
    ok = _responder(calls)
    broken = next(p for p in BOOKWORM if p.cell.name == "pi64")

    def respond(image: str, command: Sequence[str]) -> CallResult:
        if image == broken.image_tag:
            raise EngineError("running npmatrix-x: APIError: the daemon went away")
        return ok(image, command)  # type: ignore[no-any-return]

    engine.respond = respond
    ran = runner.run(BOOKWORM, runner.RunOptions(out_dir=tmp_path, jobs=jobs), progress=lambda m: None)
    assert [r.name for r in ran] == [p.cell.name for p in BOOKWORM]  # the matrix's order, whatever ended first
    assert {r.name: r.status for r in ran}["pi64"] is Status.ENGINE_ERROR
    assert sum(r.status is Status.OK for r in ran) == 3
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["complete"] and [c["name"] for c in document["cells"]] == [r.name for r in ran]
    assert engine.containers == {}


def test_benchmarks_of_concurrent_cells_never_overlap(engine: FakeEngine, tmp_path: Path) -> None:
    lock = threading.Lock()
    running = {"bench": 0, "max": 0}
    ok = _responder([])

    def respond(image: str, command: Sequence[str]) -> CallResult:
        if "--bench-only" not in command:
            return ok(image, command)  # type: ignore[no-any-return]
        with lock:
            running["bench"] += 1
            running["max"] = max(running["max"], running["bench"])
        try:
            threading.Event().wait(0.05)  # give a second benchmark the chance to overlap, were it allowed
            return ok(image, command)  # type: ignore[no-any-return]
        finally:
            with lock:
                running["bench"] -= 1

    engine.respond = respond
    ran = runner.run(BOOKWORM, runner.RunOptions(out_dir=tmp_path, jobs=4), progress=lambda m: None)
    assert running["max"] == 1
    assert all(r.bench_overlap is not None for r in ran)


def test_progress_lines_name_their_cell(engine: FakeEngine, tmp_path: Path) -> None:
    engine.respond = _responder([])
    lines: list[str] = []
    runner.run(BOOKWORM, runner.RunOptions(out_dir=tmp_path, jobs=2), progress=lines.append)
    for line in lines:
        assert any(f"] {p.cell.name} (" in line for p in BOOKWORM), line
    for number, p in enumerate(BOOKWORM, start=1):  # each cell's last line: its number, name and status
        last = [line for line in lines if f"] {p.cell.name} (" in line][-1]
        assert last.startswith(f"[{number}/4] {p.cell.name} (") and ": ok: " in last, last


def test_an_image_found_is_no_work_another_cells_benchmark_shares_the_machine_with(
    fake_engine: FakeEngine, tmp_path: Path
) -> None:
    (colab,) = [p for p in BOOKWORM if p.cell.name == "colab-like"]
    fake_engine.images[colab.image_tag] = "sha256:colab"
    activity = schedule.Activity()
    entered: list[str] = []

    @contextlib.contextmanager
    def busy() -> Any:
        entered.append(colab.cell.name)
        with activity.busy(colab.cell.name, "build"):
            yield

    with activity.timed("pi64") as window:
        built = build.build_cell(
            colab,
            builder=Builder(kind="buildkit", cli="/usr/bin/docker"),
            engine=fake_engine,  # type: ignore[arg-type]
            secrets={},
            log_path=tmp_path / "colab.build.log",
            busy=busy,
        )
    assert built.cached and built.image_id == "sha256:colab"
    assert entered == [] and window == set()  # found, not built: nothing for pi64's benchmark to share with
