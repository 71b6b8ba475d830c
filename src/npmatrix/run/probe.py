"""Run the standalone probe (container/probe.py, container/bench.py) in a cell's container or on this host.

The scripts never import this package: they run inside images whose Python may be old and whose NumPy may
be broken. Their command line comes from npmatrix.plan.protocol, their output is read by npmatrix.records.probe_file.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path

from npmatrix.errors import EngineUnavailable
from npmatrix.host import process
from npmatrix.host.engine import Engine, Lockdown
from npmatrix.judge.outcomes import ProbeRun
from npmatrix.plan import protocol
from npmatrix.plan.cellplan import CellPlan
from npmatrix.records import probe_file


def files_for(plan: CellPlan) -> dict[str, bytes]:
    """The probe scripts and, for an amd64 cell with a CPU model, the x86 emulator its children run under."""
    files = protocol.script_files()
    if plan.placement.emulator == "qemu-x86_64":
        emulator = Path(protocol.X86_QEMU_HOST_PATH)
        if not emulator.is_file():
            raise EngineUnavailable(
                f"cell {plan.cell.name} runs as CPU {plan.placement.qemu_cpu!r} and needs {emulator}: "
                "run `make engine` or apt-get install qemu-user-static"
            )
        files[Path(protocol.X86_QEMU).name] = emulator.read_bytes()
    return files


def lockdown_for(plan: CellPlan) -> Lockdown:
    return Lockdown(memory=plan.cell.memory, pids=plan.cell.pids, tmpfs_size=plan.cell.tmp_size)


# The timed section of a probe: schedule.Activity.timed, bound to the cell; nothing when cells run one by one.
TimedSection = Callable[[], AbstractContextManager[object]]


def run_in_container(
    plan: CellPlan, engine: Engine, *, labels: dict[str, str], keep: bool = False, timed: TimedSection | None = None
) -> ProbeRun:
    """The probe, then, if NumPy imports, the benchmark in a second call inside `timed` (so timed benchmarks of
    concurrent cells never overlap); the benchmark's section is merged into the probe's facts."""
    first = _call(plan, engine, plan.probe_command(bench_stage="later"), labels=labels, keep=keep)
    return bench_after(plan, engine, first, labels=labels, keep=keep, timed=timed)


def bench_after(
    plan: CellPlan,
    engine: Engine,
    first: ProbeRun,
    *,
    labels: dict[str, str],
    keep: bool = False,
    timed: TimedSection | None = None,
) -> ProbeRun:
    """The benchmark call for a probe run (`first`, fresh or reused) that deferred it; `first` if it did not."""
    if not probe_file.bench_deferred(first):
        return first
    with timed() if timed else contextlib.nullcontext():
        second = _call(plan, engine, plan.probe_command(bench_stage="only"), labels=labels, keep=keep)
    return probe_file.merge_bench(first, second)


def _call(
    plan: CellPlan, engine: Engine, command: protocol.ProbeCommand, *, labels: dict[str, str], keep: bool
) -> ProbeRun:
    box = engine.container(
        plan.image_tag,
        command.argv(),
        oci_platform=plan.platform.oci,
        environment=plan.environment,
        labels=labels,
        keep=keep,
        lockdown=lockdown_for(plan),
    )
    with box:
        box.copy_into(files_for(plan), protocol.PROBE_DIR)
        result = box.run(timeout=plan.cell.timeout)
    run = probe_file.parse_output(
        exit_code=result.exit_code, stdout=result.stdout, stderr=result.stderr, duration_s=result.duration_s
    )
    return replace(run, oom_killed=result.oom_killed, memory_limit=plan.cell.memory)


def run_on_host(
    *, bench: bool, sizes: tuple[int, ...], repeats: int = 5, timeout: int = 300, imports: tuple[str, ...] = ()
) -> ProbeRun:
    """The same probe on this machine, with this Python: for a real Pi or a Colab notebook."""
    with tempfile.TemporaryDirectory(prefix="npmatrix-probe-") as tmp:
        for name, data in protocol.script_files().items():
            Path(tmp, name).write_bytes(data)
        command = protocol.ProbeCommand(
            python=sys.executable,
            script_dir=tmp,
            bench=bench,
            sizes=sizes,
            repeats=repeats,
            child_timeout=timeout,
            bench_timeout=timeout,
            imports=imports,
        )
        # Each child has its own limit inside the probe; this one only guards against the probe itself.
        done = process.capture(command.argv(), timeout=timeout * 4)
    if done.timed_out:
        return ProbeRun(
            exit_code=None,
            stdout="",
            stderr=done.stderr,
            duration_s=done.duration_s,
            facts=None,
            parse_error="the probe did not finish",
        )
    return probe_file.parse_output(
        exit_code=done.exit_code, stdout=done.stdout, stderr=done.stderr, duration_s=done.duration_s
    )
