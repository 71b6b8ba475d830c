"""Run a plan: bases, then per cell build -> probe -> classify -> record. The only module that sequences
side effects; each step's failure becomes the cell's result, and results.json is rewritten after each cell."""

from __future__ import annotations

import contextlib
import platform as host_platform
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from npmatrix import fileio
from npmatrix.config.engine_choice import EngineChoice, EngineTarget
from npmatrix.errors import ConfigError, EngineError, EngineUnavailable
from npmatrix.host import emulator, owner
from npmatrix.host.engine import OWNER_LABEL, RUN_LABEL, Builder, Engine
from npmatrix.host.fleet import Fleet, Member
from npmatrix.judge import tests as judge_tests
from npmatrix.judge.before import before_build
from npmatrix.judge.classify import classify
from npmatrix.judge.outcomes import BuildOutcome, ProbeRun
from npmatrix.plan.base_image import BaseRecipe
from npmatrix.plan.cellplan import CellPlan, bases_needed
from npmatrix.plan.raspios import NotAsked
from npmatrix.records.results import CellResult, EngineRecord, ImageRecord, Results, ResultsFile
from npmatrix.run import build, probe, reuse, schedule, tests, wheel_check
from npmatrix.text import redact
from npmatrix.verdict import Status, Verdict

Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    out_dir: Path
    rebuild: bool = False
    keep_containers: bool = False
    matrix_source: str = ""
    jobs: int = 1  # cells at once (schedule.py); the CLI's default is schedule.default_jobs
    # --resume: finished cells of an earlier run of the same matrix, kept as they are (see `resumable`)
    finished: tuple[CellResult, ...] = ()
    previous_run_id: str | None = None  # its containers, left when the engine went away, are removed
    engines: EngineChoice = field(default_factory=EngineChoice)  # which engine each platform runs on
    earlier: reuse.Earlier | None = None  # --reuse-results: probes and no-wheel answers that cannot have changed


def resumable(previous: Results, plans: Sequence[CellPlan], *, matrix_source: str) -> tuple[CellResult, ...]:
    """The cells of `previous` a resumed run keeps: every one that finished (anything but engine-error, which
    says the engine failed, not NumPy). A results file of another matrix, or whose cells were run with other
    inputs than the matrix now gives, is refused: mixing them would make a table of two different matrices."""
    if previous.matrix != matrix_source:
        raise ConfigError(
            f"was written for matrix {previous.matrix}, not {matrix_source}; resume with the same --matrix, "
            "or start afresh with another --out",
            where=previous.source,
        )
    planned = {p.cell.name: p for p in plans}
    for result in previous.cells:
        plan = planned.get(result.name)
        if plan is not None and plan.cell != result.cell:
            changed = [f.name for f in fields(plan.cell) if getattr(plan.cell, f.name) != getattr(result.cell, f.name)]
            raise ConfigError(
                f"cell {result.name!r} was run with other inputs ({', '.join(changed)} changed since); "
                "start afresh with another --out",
                where=previous.source,
            )
        if plan is not None and plan.not_asked != result.not_asked:
            # piwheels answered then and not now, or the reverse: the kept answer would be another index's.
            raise ConfigError(
                f"cell {result.name!r} was run when {_asked(result.not_asked)}, and now {_asked(plan.not_asked)}; "
                "start afresh with another --out",
                where=previous.source,
            )
    return tuple(r for r in previous.cells if r.status is not Status.ENGINE_ERROR)


def _asked(not_asked: Sequence[NotAsked]) -> str:
    return "; ".join(f"{n.source} ({n.url}) was not asked" for n in not_asked) or "nothing was left unasked"


def run(plans: Sequence[CellPlan], options: RunOptions, *, progress: Progress) -> list[CellResult]:
    """Every cell of `plans`, `options.jobs` at once (see schedule.py), each on the engine its platform is sent
    to (fleet.py); results.json gets each cell as it ends and, once all have, lists them in the matrix's order."""
    progress = _serialised(progress)
    finished = {r.name: r for r in options.finished}
    todo = [p for p in plans if p.cell.name not in finished]
    fleet = Fleet.connect(options.engines, [p.platform.name for p in plans])
    run_id = uuid.uuid4().hex[:12]
    results_file = _start(fleet, options, run_id=run_id, progress=progress)
    bases = _ensure_fleet_bases(fleet, todo, log_dir=options.out_dir / "logs", progress=progress)
    # Each plan as its engine runs it (native or emulated there), and that engine.
    placed = {p.cell.name: fleet.place(p) for p in plans}
    numbers = {p.cell.name: index for index, p in enumerate(plans, start=1)}

    def step(plan: CellPlan) -> str:
        placed_plan, member = placed[plan.cell.name]
        return f"[{numbers[plan.cell.name]}/{len(plans)}] {plan.cell.name} ({_where(placed_plan, member, fleet)})"

    done: dict[str, CellResult] = {}
    for plan in plans:
        if plan.cell.name in finished:
            done[plan.cell.name] = finished.pop(plan.cell.name)
            results_file.add(done[plan.cell.name])
            progress(f"{step(plan)}: kept from the earlier run: {done[plan.cell.name].status.value}")
    activity = schedule.Activity()

    def record(plan: CellPlan, result: CellResult) -> None:
        done[plan.cell.name] = result
        results_file.add(result)
        mark = "" if result.as_expected else f"  <- expected {plan.cell.expect.value}"
        progress(f"{step(plan)}: {result.status.value}: {result.verdict.reason}{mark}")

    def abort() -> None:
        for member in fleet.members.values():
            _remove_run_containers(member.engine, run_id)

    with build.build_secrets() as secrets:
        context = _CellContext(options=options, run_id=run_id, secrets=secrets, activity=activity)

        def work(plan: CellPlan) -> CellResult:
            member = placed[plan.cell.name][1]
            return _run_on(member, plan, bases[member.target], context, progress=_prefixed(progress, step(plan)))

        schedule.run_all(
            schedule.start_order([placed[p.cell.name][0] for p in todo]),
            jobs=options.jobs,
            work=work,
            done=record,
            activity=activity,
            on_abort=abort,
        )
    # the matrix's order; then cells of the earlier run that --arch/--cell left out this time
    ordered = [done[p.cell.name] for p in plans if p.cell.name in done] + list(finished.values())
    results_file.cells = ordered
    results_file.write(complete=True)
    return ordered


def _start(fleet: Fleet, options: RunOptions, *, run_id: str, progress: Progress) -> ResultsFile:
    """results.json, written at once (marked incomplete), after the containers an interrupted run being resumed
    left behind are removed."""
    results_file = ResultsFile(
        options.out_dir / "results.json", matrix=options.matrix_source, host=_host_facts(fleet, run_id)
    )
    results_file.write(complete=False)
    for member in fleet.members.values():
        if options.previous_run_id:
            _remove_leftovers(member.engine, options.previous_run_id, progress=progress)
    return results_file


@dataclass(frozen=True, kw_only=True)
class _CellContext:
    """What every cell of one run shares."""

    options: RunOptions
    run_id: str
    secrets: dict[str, Path]
    activity: schedule.Activity


def _run_on(
    member: Member, plan: CellPlan, bases: dict[str, BuildOutcome], context: _CellContext, *, progress: Progress
) -> CellResult:
    """One cell on the engine `member` it is placed on, labelled with the run, its owner and its name."""
    return _run_cell_safely(
        plan,
        bases,
        builder=member.builder,
        engine=member.engine,
        engine_record=member.record,
        qemu=emulator.identity(plan.platform, local=member.local) if plan.placement.emulator == "binfmt" else None,
        secrets=context.secrets,
        options=context.options,
        labels={RUN_LABEL: context.run_id, OWNER_LABEL: owner.current(), "org.npmatrix.cell": plan.cell.name},
        activity=context.activity,
        progress=progress,
    )


def _serialised(progress: Progress) -> Progress:
    """Progress lines from worker threads, one whole line at a time."""
    lock = threading.Lock()

    def say(message: str) -> None:
        with lock:
            progress(message)

    return say


def _remove_run_containers(engine: Engine, run_id: str) -> None:
    """This run's containers, on Ctrl-C: removing them also ends the workers waiting on them."""
    with contextlib.suppress(EngineError, EngineUnavailable):
        for name, labels in engine.list_containers().items():
            if labels.get(RUN_LABEL) == run_id:
                engine.remove_container(name)


def _where(plan: CellPlan, member: Member, fleet: Fleet) -> str:
    """For progress lines: "linux/arm64, qemu" or "linux/arm64, native on docker (ssh://pi@host)"."""
    how = "qemu" if plan.placement.under_qemu else "native"
    if plan.placement.cpu_not_applied:
        how += f", cpu {plan.cell.cpu} not applied"
    on = f" on {member.target.describe()}" if len(fleet.members) > 1 or member.target.host else ""
    return f"{plan.platform.oci}, {how}{on}"


def _ensure_fleet_bases(
    fleet: Fleet, plans: Sequence[CellPlan], *, log_dir: Path, progress: Progress
) -> dict[EngineTarget, dict[str, BuildOutcome]]:
    """Each engine's missing base images, made on (and for) that engine: engines share no images."""
    bases: dict[EngineTarget, dict[str, BuildOutcome]] = {}
    for target, member in fleet.members.items():
        # A cell judged from its plan alone (judge/before.py) needs no base image either.
        mine = tuple(
            p for p in plans if fleet.choice.for_platform(p.platform.name) == target and before_build(p) is None
        )
        bases[target] = ensure_bases(
            bases_needed(mine), builder=member.builder, engine=member.engine, log_dir=log_dir, progress=progress
        )
    return bases


def _remove_leftovers(engine: Engine, run_id: str, *, progress: Progress) -> None:
    """Containers of the run being resumed that the engine could not remove when it went away."""
    for name, labels in engine.list_containers().items():
        mine = labels.get(RUN_LABEL) == run_id
        if mine and owner.liveness(labels.get(OWNER_LABEL, "")) is owner.Liveness.DEAD:
            engine.remove_container(name)
            progress(f"removed container {name}, left by the interrupted run {run_id}")


def _prefixed(progress: Progress, prefix: str) -> Progress:
    return lambda message: progress(f"{prefix}: {message}")


def ensure_bases(
    recipes: list[BaseRecipe], *, builder: Builder, engine: Engine, log_dir: Path, progress: Progress
) -> dict[str, BuildOutcome]:
    """Missing base images are made concurrently: mmdebstrap spends most of its time waiting on
    downloads and emulated maintainer scripts, so three at once take about as long as the slowest."""
    if not recipes:
        return {}
    with ThreadPoolExecutor(max_workers=len(recipes)) as pool:
        futures = {
            r.tag: pool.submit(
                build.ensure_base,
                r,
                builder=builder,
                engine=engine,
                log_path=log_dir / f"base-{r.name}.log",
                progress=progress,
            )
            for r in recipes
        }
        return {tag: future.result() for tag, future in futures.items()}


def _run_cell_safely(plan: CellPlan, bases: dict[str, BuildOutcome], **kwargs: Any) -> CellResult:
    """One cell's engine trouble (an API error, a vanished container, a missing emulator) is that cell's
    result, `engine-error`, and the run goes on: the cells before and after it are kept."""
    try:
        return _run_cell(plan, bases, **kwargs)
    except (EngineError, EngineUnavailable, OSError) as exc:
        verdict = Verdict(
            status=Status.ENGINE_ERROR, reason=f"{type(exc).__name__}: {exc}", fix="run `npmatrix doctor`"
        )
        failed = BuildOutcome.failed(plan.image_tag, str(exc))
        return _result(plan, verdict, failed, None, {}, {}, engine=kwargs.get("engine_record"))


def _run_cell(
    plan: CellPlan,
    bases: dict[str, BuildOutcome],
    *,
    builder: Builder,
    engine: Engine,
    secrets: dict[str, Path],
    options: RunOptions,
    labels: dict[str, str],
    activity: schedule.Activity,
    progress: Progress,
    engine_record: EngineRecord | None = None,
    qemu: str | None = None,
) -> CellResult:
    """`qemu`: emulator.identity() of an emulated cell's emulator, None when it cannot be told (or native)."""
    logs = {"build": str(options.out_dir / "logs" / f"{plan.cell.name}.build.log")}
    base = bases.get(plan.base.tag) if plan.base else None
    ended = _ended_before_build(plan, base, logs=logs, engine_record=engine_record, progress=progress)
    if ended is not None:
        return ended
    name = plan.cell.name
    build_key = reuse.build_key(plan, base_id=base.image_id) if base is not None and base.image_id else None
    if options.earlier is not None and build_key is not None and not options.rebuild:
        answered = _no_wheel_again(plan, options.earlier, build_key, engine=engine, progress=progress)
        if answered is not None:
            return replace(answered, engine=engine_record)
    activity.check()
    progress(f"building {plan.image_tag} (log: {logs['build']}){_slow_build(plan)}")
    built = build.build_cell(
        plan,
        builder=builder,
        engine=engine,
        secrets=secrets,
        log_path=Path(logs["build"]),
        rebuild=options.rebuild,
        progress=progress,
        busy=lambda: activity.busy(name, "build"),  # only a real build: an image found is no work
    )
    durations = {"build": built.duration_s}
    if not built.ok:
        result = _result(plan, classify(plan, built, None), built, None, logs, durations, engine=engine_record)
        return replace(result, reuse_key=build_key)
    return _probe_and_classify(
        plan,
        built,
        logs=logs,
        durations=durations,
        engine=engine,
        options=options,
        labels=labels,
        activity=activity,
        qemu=qemu,
        engine_record=engine_record,
        progress=progress,
    )


def _ended_before_build(
    plan: CellPlan,
    base: BuildOutcome | None,
    *,
    logs: dict[str, str],
    engine_record: EngineRecord | None,
    progress: Progress,
) -> CellResult | None:
    """The result of a cell that ends before its build: the plan alone says why, or its base image failed."""
    early = before_build(plan)
    if early is not None:  # nothing to build, no container
        progress(f"{early.status.value}, known before building: {early.reason}")
        return _result(plan, early, BuildOutcome.not_built(plan.image_tag, early.reason), None, {}, {})
    if base is None or base.ok:
        return None
    verdict = Verdict(
        status=Status.BUILD_FAILED,
        reason=f"base image {base.tag} could not be built",
        fix=f"read {base.log_path}",
        evidence=tuple(base.log_tail.splitlines()[-3:]),
    )
    return _result(plan, verdict, base, None, logs, {"build": base.duration_s}, engine=engine_record)


def _probe_and_classify(
    plan: CellPlan,
    built: BuildOutcome,
    *,
    logs: dict[str, str],
    durations: dict[str, float],
    engine: Engine,
    options: RunOptions,
    labels: dict[str, str],
    activity: schedule.Activity,
    qemu: str | None,
    engine_record: EngineRecord | None,
    progress: Progress,
) -> CellResult:
    """A built cell probed (and benchmarked), the probe's stderr kept as a log, and its verdict."""
    progress(f"{'reused' if built.cached else 'built'} in {built.duration_s:.1f} s; probing and benchmarking")
    where = engine_record.describe() if engine_record is not None else "docker local"
    probed = _probe_cell(
        plan,
        built,
        engine=engine,
        options=options,
        labels=labels,
        activity=activity,
        qemu=(qemu, where),
        progress=progress,
    )
    ran = probed.ran
    durations = {**durations, "probe": ran.duration_s}
    if ran.bench_duration_s is not None:
        durations["bench"] = ran.bench_duration_s
    logs = {**logs, "probe_stderr": str(options.out_dir / "logs" / f"{plan.cell.name}.probe.stderr.log")}
    fileio.write_atomic(Path(logs["probe_stderr"]), redact(ran.stderr))
    if probed.reused:
        progress(f"{' and '.join(probed.reused)} reused from {probed.reused_from}")
    if probed.overlap:
        progress(f"its benchmark shared the machine with {', '.join(probed.overlap)}")
    verdict = classify(plan, built, ran)
    tested = _run_tests(
        plan, verdict, engine=engine, options=options, labels=labels, activity=activity, progress=progress
    )
    if tested is not None:
        verdict = judge_tests.classify(tested, verdict, image=plan.image_tag, limit=plan.cell.test_timeout)
        if tested.skipped is None:
            durations["tests"] = tested.duration_s
            logs["tests"] = str(options.out_dir / "logs" / f"{plan.cell.name}.tests.log")
    return replace(
        _result(plan, verdict, built, ran, logs, durations, engine=engine_record),
        tests=tested,
        reuse_key=probed.reuse_key,
        reused=probed.reused,
        reused_from=probed.reused_from,
        bench_overlap=probed.overlap,
    )


def _slow_build(plan: CellPlan) -> str:
    if plan.cell.project is not None and plan.cell.project.compiled and plan.placement.under_qemu:
        return "; the project has C/C++/Cython/Fortran/Rust sources and builds under QEMU: slow (many minutes)"
    return ""


def _run_tests(
    plan: CellPlan,
    verdict: Verdict,
    *,
    engine: Engine,
    options: RunOptions,
    labels: dict[str, str],
    activity: schedule.Activity,
    progress: Progress,
) -> judge_tests.TestReport | None:
    """The cell's test_command, when it has one and NumPy works there; a report that says why it did not run
    otherwise (test_skip, or the probe's failure), so tests never go missing silently."""
    command = plan.cell.test_command
    if command is None:
        return None
    if plan.cell.test_skipped:
        return judge_tests.TestReport.not_run(command, "tests skipped by test_skip")
    if not verdict.status.works:
        return judge_tests.TestReport.not_run(command, f"tests not run: the probe ended {verdict.status.value}")
    note = tests.note(plan)
    progress(f"running tests: {command}" + (f" ({note})" if note else ""))
    with activity.busy(plan.cell.name, "tests"):
        ran = tests.run_tests(plan, engine, labels=labels, keep=options.keep_containers)
    fileio.write_atomic(options.out_dir / "logs" / f"{plan.cell.name}.tests.log", redact(f"{ran.stdout}\n{ran.stderr}"))
    return judge_tests.read(ran, note=tests.cpu_note(plan))


@dataclass(frozen=True, kw_only=True)
class _Probed:
    ran: ProbeRun
    reuse_key: str
    reused: tuple[str, ...] = ()
    reused_from: str | None = None
    overlap: tuple[str, ...] | None = None  # None: no timed benchmark call


def _probe_cell(
    plan: CellPlan,
    built: BuildOutcome,
    *,
    engine: Engine,
    options: RunOptions,
    labels: dict[str, str],
    activity: schedule.Activity,
    qemu: tuple[str | None, str],
    progress: Progress,
) -> _Probed:
    """Probe and benchmark a built cell, or take its probe from the earlier run (--reuse-results). The
    benchmark call is a timed section: alone among benchmarks, with what else ran meanwhile recorded. `qemu`:
    the emulator's identity (None: unknown) and the engine it runs on, for an emulated cell's key."""
    name = plan.cell.name
    overlap: set[tuple[str, str]] | None = None

    @contextlib.contextmanager
    def timed() -> Iterator[None]:
        nonlocal overlap
        with activity.timed(name) as overlap:
            yield

    assert built.image_id is not None
    qemu_id, engine_name = qemu
    reuse_key = reuse.probe_key(plan, image_id=built.image_id, files=probe.files_for(plan), emulator=qemu_id)
    before = options.earlier.probe(name, reuse_key) if options.earlier is not None else None
    if before is not None and plan.placement.emulator == "binfmt" and qemu_id is None:
        # Both runs' keys say "emulator unknown": an upgraded QEMU would look the same, so nothing is reused.
        progress(
            f"probing again: the QEMU that runs {plan.platform.name} on {engine_name} cannot be identified "
            "(an engine on another machine or in a VM, or a handler re-registration pending; npmatrix doctor)"
        )
        before = None
    reused: tuple[str, ...] = ()
    if before is None or options.earlier is None:
        with activity.busy(name, "probe"):
            ran = probe.run_in_container(plan, engine, labels=labels, keep=options.keep_containers, timed=timed)
    else:
        # No 'busy' probe: a reused probe runs nothing another cell's benchmark could share the machine with
        # (its re-measured benchmark, if any, is a timed section of its own).
        activity.check()
        ran, reused = _reuse_probe(plan, before, engine=engine, options=options, labels=labels, timed=timed)
    shared = schedule.overlap_labels(overlap) if overlap is not None else None
    if "bench" in reused and before is not None:
        shared = before.bench_overlap  # the reused numbers were timed then, beside what ran then
    return _Probed(
        ran=ran,
        reuse_key=reuse_key,
        reused=reused,
        reused_from=options.earlier.source if reused and options.earlier else None,
        overlap=shared,
    )


def _reuse_probe(
    plan: CellPlan,
    before: CellResult,
    *,
    engine: Engine,
    options: RunOptions,
    labels: dict[str, str],
    timed: probe.TimedSection,
) -> tuple[ProbeRun, tuple[str, ...]]:
    """The earlier probe's facts (same image, scripts and command: reuse.py), the benchmark measured again
    unless --reuse-bench. Classified again like a fresh probe."""
    assert before.facts is not None and options.earlier is not None
    if options.earlier.reuses_bench(plan):
        return ProbeRun(exit_code=0, stdout="", stderr="", duration_s=0.0, facts=dict(before.facts)), ("probe", "bench")
    first = ProbeRun(exit_code=0, stdout="", stderr="", duration_s=0.0, facts=reuse.without_bench(before.facts))
    ran = probe.bench_after(plan, engine, first, labels=labels, keep=options.keep_containers, timed=timed)
    return ran, ("probe",)


def _no_wheel_again(
    plan: CellPlan, earlier: reuse.Earlier, build_key: str, *, engine: Engine, progress: Progress
) -> CellResult | None:
    """The earlier no-wheel result, when its build would fail the same way: same Dockerfile and base, no image
    since, and the index still offers no NumPy wheel for the cell's tags. None: build it."""
    before = earlier.no_wheel(plan.cell.name, build_key)
    if before is None or engine.image_id(plan.image_tag) is not None:
        return None
    started = time.monotonic()
    answer, _ = wheel_check.numpy_wheel(plan)
    if answer != "none":
        now = "offers one now" if answer == "offered" else "did not answer"
        progress(f"no-wheel last time, but the index {now}: building")
        return None
    progress("no NumPy wheel on the index for its tags (pip index versions), as last time: build skipped")
    return replace(
        before,
        cell=plan.cell,
        durations={"index_check": time.monotonic() - started},
        reuse_key=build_key,
        reused=("no-wheel",),
        reused_from=earlier.source,
        bench_overlap=None,
        not_asked=plan.not_asked,
    )


def _result(
    plan: CellPlan,
    verdict: Verdict,
    built: BuildOutcome,
    ran: ProbeRun | None,
    logs: dict[str, str],
    durations: dict[str, float],
    *,
    engine: EngineRecord | None = None,
) -> CellResult:
    return CellResult(
        cell=plan.cell,
        placement=plan.placement,
        verdict=verdict,
        image=ImageRecord(
            tag=plan.image_tag,
            id=built.image_id if built.ok else None,
            base=plan.base_image,
            reused=built.cached,
        ),
        durations=durations,
        logs=logs,
        facts=ran.facts if ran else None,
        engine=engine,
        not_asked=plan.not_asked,
    )


def _host_facts(fleet: Fleet, run_id: str) -> dict[str, Any]:
    return {
        "machine": host_platform.machine(),
        "system": host_platform.platform(),
        "python": host_platform.python_version(),
        "builder": fleet.default.builder.describe(),
        "engines": [m.describe() for m in fleet.members.values()],
        "run_id": run_id,
    }
