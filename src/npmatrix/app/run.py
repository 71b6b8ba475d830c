"""`npmatrix run`: a short list of named steps, each a small function below.

check inputs -> load and preflight -> plan -> shard -> resume -> execute -> table -> reports -> gate

Everything that can be refused (an option, the matrix, a CPU model QEMU does not know, a --resume directory of
another matrix) is refused before the first cell starts, not after an hour of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from npmatrix.app import planning, preflight
from npmatrix.app.console import Console
from npmatrix.app.inputs import EngineOptions, Selection
from npmatrix.app.report import report_history
from npmatrix.config.engine_choice import EngineChoice
from npmatrix.config.matrix import Matrix
from npmatrix.errors import ConfigError, ExitCode
from npmatrix.plan.cellplan import CellPlan
from npmatrix.present import diff, reports, table
from npmatrix.records import history
from npmatrix.records import results as results_io
from npmatrix.records.results import CellResult
from npmatrix.run import reuse, runner, schedule, shard
from npmatrix.run.shard import Shard
from npmatrix.verdict import Status


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """What `npmatrix run` was asked, option by option."""

    selection: Selection = field(default_factory=Selection)
    engines: EngineOptions = field(default_factory=EngineOptions)
    out_dir: Path = Path("results")
    out_given: bool = False  # --out was on the command line: with --resume it must name the same directory
    rebuild: bool = False
    keep_containers: bool = False
    jobs: int | None = None  # None: schedule.default_jobs
    reuse_dir: str | None = None  # --reuse-results: None without it, "" alone (reuse from --out), else its DIR
    reuse_bench: reuse.ReuseBench | None = None
    resume_dir: Path | None = None
    sharding: Shard | None = None
    history_dir: Path | None = None
    report_formats: tuple[reports.Format, ...] = ()
    wide: bool = False  # --wide: the table at full width, reasons in its rows

    @property
    def keeps_a_night(self) -> bool:
        """--history keeps this run as a night, and gates on it; a shard is not a night (merge, then keep)."""
        return self.history_dir is not None and self.sharding is None


@dataclass(frozen=True, kw_only=True)
class Resumed:
    """Where this run writes, and what it keeps of the run it continues (--resume; without it, nothing)."""

    out_dir: Path
    finished: tuple[CellResult, ...] = ()
    previous_run_id: str | None = None


def run(request: RunRequest, console: Console) -> ExitCode:
    check_inputs(request)
    selected = request.selection.load()
    preflight.check_cpu_models(selected)
    choice = request.engines.choose(selected)
    plans = shard_plans(request, selected, planning.plan(selected, console), console)
    resumed = resume(request, selected, plans, console)
    ran = execute(request, selected, plans, resumed, choice, console)
    show_table(ran, console, wide=request.wide)
    console.progress(f"results: {resumed.out_dir / 'results.json'}")
    if engine_failed(ran, resumed.out_dir, console):
        return ExitCode.ENGINE_UNAVAILABLE
    write_reports(request, resumed.out_dir, console)
    return gate(request, ran, resumed.out_dir, console)


def check_inputs(request: RunRequest) -> None:
    """The options alone, before the matrix is read."""
    reports.require(request.report_formats)  # matplotlib for html: before the matrix, not after an hour of it
    if request.jobs is not None:
        schedule.check_jobs(request.jobs)
    if request.reuse_bench and request.reuse_dir is None:
        raise ConfigError("reuses the benchmark of --reuse-results; give --reuse-results too", where="--reuse-bench")
    # A named DIR must hold a run: a typo must not cost a whole run (only --out, the default, may have none yet).
    if request.reuse_dir and not (Path(request.reuse_dir) / "results.json").is_file():
        raise ConfigError(
            "has no results.json: name the --out directory of an earlier run, or give --reuse-results alone to "
            "reuse from this run's --out",
            where=f"--reuse-results {request.reuse_dir}",
        )


def shard_plans(
    request: RunRequest, selected: Matrix, plans: tuple[CellPlan, ...], console: Console
) -> tuple[CellPlan, ...]:
    """--shard I/N: this shard's share of the cells, balanced by recorded durations when --history has some."""
    if request.sharding is None:
        return plans
    kept = _recent_nights(request.history_dir, selected.source)
    mine = shard.select(plans, request.sharding, recorded=shard.recorded_durations(kept))
    names = ", ".join(p.cell.name for p in mine) or "none (fewer cells than shards)"
    console.progress(f"shard {request.sharding} of {len(selected.cells)} cells: {names}")
    return mine


def _recent_nights(history_dir: Path | None, matrix_source: str) -> tuple[results_io.Results, ...]:
    if history_dir is None or not history_dir.exists():
        return ()
    return history.load_recent(history_dir, shard.RECENT_NIGHTS, matrix=matrix_source)


def resume(request: RunRequest, selected: Matrix, plans: Sequence[CellPlan], console: Console) -> Resumed:
    """--resume DIR: write to DIR, keep its finished cells (runner.resumable refuses another matrix's)."""
    if request.resume_dir is None:
        return Resumed(out_dir=request.out_dir)
    if request.out_given and request.out_dir.resolve() != request.resume_dir.resolve():
        raise ConfigError(f"--resume writes to {request.resume_dir}; leave --out out or give the same", where="--out")
    previous = results_io.load(request.resume_dir / "results.json")
    finished = runner.resumable(previous, plans, matrix_source=selected.source)
    console.progress(f"resuming {request.resume_dir}: {len(finished)} finished cell(s) kept, the others run")
    run_id = str(previous.host.get("run_id") or "")
    return Resumed(out_dir=request.resume_dir, finished=finished, previous_run_id=run_id)


def execute(
    request: RunRequest,
    selected: Matrix,
    plans: Sequence[CellPlan],
    resumed: Resumed,
    choice: EngineChoice,
    console: Console,
) -> list[CellResult]:
    """The only step that touches an engine: build, probe and benchmark the cells (run/runner.py)."""
    options = runner.RunOptions(
        out_dir=resumed.out_dir,
        rebuild=request.rebuild,
        keep_containers=request.keep_containers,
        matrix_source=selected.source,
        finished=resumed.finished,
        previous_run_id=resumed.previous_run_id,
        engines=choice,
        jobs=request.jobs if request.jobs is not None else schedule.default_jobs(len(plans)),
        earlier=_earlier(request, resumed.out_dir, console),
    )
    return runner.run(plans, options, progress=console.progress)


def _earlier(request: RunRequest, out_dir: Path, console: Console) -> reuse.Earlier | None:
    """--reuse-results: the run to reuse from; none yet (a first run) is not an error: everything runs."""
    if request.reuse_dir is None:
        return None
    path = (Path(request.reuse_dir) if request.reuse_dir else out_dir) / "results.json"
    if not path.is_file():
        console.progress(f"--reuse-results: no {path} yet; every cell runs")
        return None
    return reuse.Earlier.of(results_io.load(path), bench=request.reuse_bench)


def show_table(ran: list[CellResult], console: Console, *, wide: bool = False) -> None:
    console.say(table.table(ran, wide=wide))
    for lines in (
        table.advice_lines(ran, wide=wide),
        table.incomplete_lines(ran, wide=wide),
        table.bench_notes(ran, wide=wide),
    ):
        if lines:
            console.say(lines)
    console.say(table.summary_line(ran))


def engine_failed(ran: Sequence[CellResult], out_dir: Path, console: Console) -> bool:
    """Cells the engine failed are no verdict on NumPy: exit 3 (no reports, no gate), and say how to finish."""
    engine_errors = [r.name for r in ran if r.status is Status.ENGINE_ERROR]
    if engine_errors:
        console.stderr(
            f"npmatrix: error: engine: {len(engine_errors)} cell(s) ended with an engine error "
            f"({', '.join(engine_errors)}); check the engine (npmatrix doctor), then finish the run with "
            f"`npmatrix run --resume {out_dir}`"
        )
    return bool(engine_errors)


def write_reports(request: RunRequest, out_dir: Path, console: Console) -> None:
    """--report: from the file, as `npmatrix report` would: the reports show what results.json says."""
    if not request.report_formats:
        return
    night = results_io.load(out_dir / "results.json")
    earlier = report_history(request.history_dir, night) if request.history_dir and request.keeps_a_night else ()
    for path in reports.write_all(night, request.report_formats, out_dir, history=earlier):
        console.stderr(f"report: {path}")


def gate(request: RunRequest, ran: Sequence[CellResult], out_dir: Path, console: Console) -> ExitCode:
    """1 when a cell did not end as expected; with --history (not a shard), also on a regression against the
    latest kept night of the same matrix, and this night is kept."""
    code = ExitCode.OK if all(r.as_expected for r in ran) else ExitCode.UNEXPECTED
    if request.history_dir is None or not request.keeps_a_night:
        return code
    new_path = out_dir / "results.json"
    new = results_io.load(new_path)
    old = history.previous(request.history_dir, new) if request.history_dir.exists() else None
    found = diff.diff(old or diff.nothing_before(new, source=str(request.history_dir)), new)
    console.echo(diff.render_text(found, fail_on_unexpected=True))
    kept, added = history.add(new_path, request.history_dir)
    console.progress(f"kept as {kept}" if added else f"already kept as {kept}")
    return max(code, found.exit_code(fail_on_unexpected=True))
