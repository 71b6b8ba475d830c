"""A cell's own tests (test_command): a third call in the cell's image, after the probe and the benchmark,
locked down as they are (read-only, no network, nobody), with its own timeout and a bigger /tmp.

What the call runs and how its output comes back is plan/testcommand.py; judge/tests.py reads and judges it.
"""

from __future__ import annotations

from dataclasses import replace

from npmatrix.host.engine import Engine
from npmatrix.judge.outcomes import TestRun
from npmatrix.plan import testcommand
from npmatrix.plan.cellplan import CellPlan
from npmatrix.run.probe import lockdown_for


def run_tests(plan: CellPlan, engine: Engine, *, labels: dict[str, str], keep: bool = False) -> TestRun:
    assert plan.cell.test_command is not None
    # No scripts volume: the call needs nothing of npmatrix's inside, only the image and its project copy.
    lockdown = replace(lockdown_for(plan), tmpfs_size=testcommand.TMPFS_SIZE, scripts_dir=None)
    box = engine.container(
        plan.image_tag,
        testcommand.argv(plan.cell.test_command),
        oci_platform=plan.platform.oci,
        environment={**plan.environment, **testcommand.environment()},
        labels=labels,
        keep=keep,
        lockdown=lockdown,
    )
    with box:
        result = box.run(timeout=plan.cell.test_timeout)
    return TestRun(
        command=plan.cell.test_command,
        exit_code=result.exit_code,
        stdout=result.stdout,
        stderr=result.stderr,
        duration_s=result.duration_s,
        oom_killed=result.oom_killed,
    )


def cpu_note(plan: CellPlan) -> str | None:
    """How the tests run differently from the probe, for the cell's reason: an amd64 cell's CPU model is not
    applied to them. qemu-x86_64 runs the probe's own children (protocol.EXEC_PREFIX_VAR); a shell command's
    children it cannot follow, binfmt catching only foreign binaries."""
    if plan.placement.emulator == "qemu-x86_64":
        return f"tests run on this machine's own CPU: cpu = {plan.cell.cpu!r} applies to the probe only"
    return None


def note(plan: CellPlan) -> str | None:
    """What the progress line says before the tests of this cell, beyond "running tests"."""
    return cpu_note(plan) or ("under QEMU: 10-20x slower than native" if plan.placement.under_qemu else None)
