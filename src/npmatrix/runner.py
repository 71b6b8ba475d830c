"""Run a plan: bases, then per cell build -> probe -> classify -> record. The only module that sequences
side effects; each step's failure becomes the cell's result, and results.json is rewritten after each cell."""

from __future__ import annotations

import platform as host_platform
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from npmatrix import build, fileio, owner, probe
from npmatrix.base_image import BaseRecipe
from npmatrix.classify import classify
from npmatrix.engine import OWNER_LABEL, RUN_LABEL, Builder, Engine
from npmatrix.engines import EngineChoice, EngineTarget
from npmatrix.errors import ConfigError, EngineError, EngineUnavailable
from npmatrix.fleet import Fleet, Member
from npmatrix.outcomes import BuildOutcome, ProbeRun
from npmatrix.plan import CellPlan, bases_needed
from npmatrix.results import CellResult, EngineRecord, ImageRecord, Results, ResultsFile
from npmatrix.text import redact
from npmatrix.verdict import Status, Verdict

Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    out_dir: Path
    rebuild: bool = False
    keep_containers: bool = False
    matrix_source: str = ""
    # --resume: finished cells of an earlier run of the same matrix, kept as they are (see `resumable`)
    finished: tuple[CellResult, ...] = ()
    previous_run_id: str | None = None  # its containers, left when the engine went away, are removed
    engines: EngineChoice = field(default_factory=EngineChoice)  # which engine each platform runs on


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
    planned = {p.cell.name: p.cell for p in plans}
    for result in previous.cells:
        cell = planned.get(result.name)
        if cell is not None and cell != result.cell:
            changed = [f.name for f in fields(cell) if getattr(cell, f.name) != getattr(result.cell, f.name)]
            raise ConfigError(
                f"cell {result.name!r} was run with other inputs ({', '.join(changed)} changed since); "
                "start afresh with another --out",
                where=previous.source,
            )
    return tuple(r for r in previous.cells if r.status is not Status.ENGINE_ERROR)


def run(plans: Sequence[CellPlan], options: RunOptions, *, progress: Progress) -> list[CellResult]:
    finished = {r.name: r for r in options.finished}
    todo = [p for p in plans if p.cell.name not in finished]
    fleet = Fleet.connect(options.engines, [p.platform.name for p in plans])
    run_id = uuid.uuid4().hex[:12]
    results_file = ResultsFile(
        options.out_dir / "results.json", matrix=options.matrix_source, host=_host_facts(fleet, run_id)
    )
    results_file.write(complete=False)
    for member in fleet.members.values():
        if options.previous_run_id:
            _remove_leftovers(member.engine, options.previous_run_id, progress=progress)
    bases = _ensure_fleet_bases(fleet, todo, log_dir=options.out_dir / "logs", progress=progress)
    results: list[CellResult] = []
    with build.build_secrets() as secrets:
        for index, planned in enumerate(plans, start=1):
            plan, member = fleet.place(planned)
            step = f"[{index}/{len(plans)}] {plan.cell.name} ({_where(plan, member, fleet)})"
            if plan.cell.name in finished:
                result = finished.pop(plan.cell.name)
                results.append(result)
                results_file.add(result)
                progress(f"{step}: kept from the earlier run: {result.status.value}")
                continue
            result = _run_cell_safely(
                plan,
                bases[member.target],
                builder=member.builder,
                engine=member.engine,
                engine_record=member.record,
                secrets=secrets,
                options=options,
                labels={RUN_LABEL: run_id, OWNER_LABEL: owner.current(), "org.npmatrix.cell": plan.cell.name},
                progress=_prefixed(progress, step),
            )
            results.append(result)
            results_file.add(result)
            mark = "" if result.as_expected else f"  <- expected {plan.cell.expect.value}"
            progress(f"{step}: {result.status.value}: {result.verdict.reason}{mark}")
    for result in finished.values():  # cells of the earlier run that --arch/--cell left out this time
        results.append(result)
        results_file.add(result)
    results_file.write(complete=True)
    return results


def _where(plan: CellPlan, member: Member, fleet: Fleet) -> str:
    """For progress lines: "linux/arm64, qemu" or "linux/arm64, native on docker (ssh://pi@host)"."""
    how = "qemu" if plan.emulated else "native"
    if plan.cpu_not_applied:
        how += f", cpu {plan.cell.cpu} not applied"
    on = f" on {member.target.describe()}" if len(fleet.members) > 1 or member.target.host else ""
    return f"{plan.platform.oci}, {how}{on}"


def _ensure_fleet_bases(
    fleet: Fleet, plans: Sequence[CellPlan], *, log_dir: Path, progress: Progress
) -> dict[EngineTarget, dict[str, BuildOutcome]]:
    """Each engine's missing base images, made on (and for) that engine: engines share no images."""
    bases: dict[EngineTarget, dict[str, BuildOutcome]] = {}
    for target, member in fleet.members.items():
        mine = tuple(p for p in plans if fleet.choice.for_platform(p.platform.name) == target)
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
                log_path=log_dir / f"base-{r.suite}-{r.platform.slug}.log",
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
    progress: Progress,
    engine_record: EngineRecord | None = None,
) -> CellResult:
    logs = {"build": str(options.out_dir / "logs" / f"{plan.cell.name}.build.log")}
    base = bases.get(plan.base.tag) if plan.base else None
    if base is not None and not base.ok:
        verdict = Verdict(
            status=Status.BUILD_FAILED,
            reason=f"base image {base.tag} could not be built",
            fix=f"read {base.log_path}",
            evidence=tuple(base.log_tail.splitlines()[-3:]),
        )
        return _result(plan, verdict, base, None, logs, {"build": base.duration_s}, engine=engine_record)
    progress(f"building {plan.image_tag} (log: {logs['build']})")
    built = build.build_cell(
        plan,
        builder=builder,
        engine=engine,
        secrets=secrets,
        log_path=Path(logs["build"]),
        rebuild=options.rebuild,
        progress=progress,
    )
    durations = {"build": built.duration_s}
    ran: ProbeRun | None = None
    if built.ok:
        progress(f"{'reused' if built.cached else 'built'} in {built.duration_s:.1f} s; probing and benchmarking")
        ran = probe.run_in_container(plan, engine, labels=labels, keep=options.keep_containers)
        durations["probe"] = ran.duration_s
        logs["probe_stderr"] = str(options.out_dir / "logs" / f"{plan.cell.name}.probe.stderr.log")
        fileio.write_atomic(Path(logs["probe_stderr"]), redact(ran.stderr))
    return _result(plan, classify(plan, built, ran), built, ran, logs, durations, engine=engine_record)


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
        oci_platform=plan.platform.oci,
        emulated=plan.emulated,
        qemu_cpu=plan.cpu_label,
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
