"""What a run may take from an earlier one (`npmatrix run --reuse-results DIR`), and only where it is honest.

- A cell's **probe** is reused when its reuse key is the one recorded last time: the same image (by id), the
  same probe scripts, the same probe command line, environment, platform and container limits, and for an
  emulated cell the same emulator (emulator.py: QEMU decides which CPU the probe sees). Whatever the probe
  could see is then the same, so it would print the same facts. The benchmark is re-measured (it depends on
  the machine's load, not only on the image) unless `--reuse-bench` (every cell's) or `--reuse-bench
  emulated` (only emulated cells': their timings are QEMU's on this host, not the board's, and their
  correctness check is a function of the key). Only a probe that ended `ok` is reused: a crash or timeout
  may be load, not the image.
- A cell whose **build** failed with `no-wheel` is answered from the package index before its (emulated) build
  is tried again: when the Dockerfile and base image are unchanged and the index still offers no NumPy wheel
  for the cell's exact tags, the build would fail the same way. When the index offers one now (a wheel
  uploaded overnight), or cannot be asked, the cell is built: never a stale failure.

The keys are pure functions of their inputs (tests/unit/test_reuse.py says what they contain and ignore).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from npmatrix.plan import protocol
from npmatrix.plan.cellplan import CellPlan
from npmatrix.records.results import CellResult, Results
from npmatrix.verdict import Status

KEY_VERSION = 3  # bump when what a key covers changes: older keys then never match

Reused = Literal["probe", "bench", "no-wheel"]
ReuseBench = Literal["all", "emulated"]  # --reuse-bench [all|emulated]: whose benchmark numbers are reused
REUSE_BENCH: tuple[ReuseBench, ...] = ("all", "emulated")


def _digest(document: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def probe_key(plan: CellPlan, *, image_id: str, files: Mapping[str, bytes], emulator: str | None = None) -> str:
    """Everything a probe's facts can depend on; `emulator` is emulator.identity() for an emulated cell. Not the
    cell's name, note, source or expected status, not its build timeout, not the run, the time or the output
    directory: none of them reaches the container."""
    lockdown = {"memory": plan.cell.memory, "pids": plan.cell.pids, "tmp_size": plan.cell.tmp_size}
    return _digest(
        {
            "key_version": KEY_VERSION,
            "kind": "probe",
            "image_id": image_id,
            "platform": plan.platform.oci,
            "argv": plan.probe_command(bench_stage="later").argv(),
            "bench_argv": plan.probe_command(bench_stage="only").argv(),
            "environment": dict(sorted(plan.environment.items())),
            "lockdown": lockdown,
            "emulator": emulator,
            "probe_version": protocol.PROBE_VERSION,
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
        }
    )


def build_key(plan: CellPlan, *, base_id: str) -> str:
    """What a failed build depended on that we can see: the Dockerfile and the base image (by id). The package
    index is the part that changes under us; it is asked again each time (see wheel_check.py)."""
    return _digest(
        {
            "key_version": KEY_VERSION,
            "kind": "build",
            "dockerfile": plan.dockerfile,
            "base_id": base_id,
            "platform": plan.platform.oci,
        }
    )


@dataclass(frozen=True, kw_only=True)
class Earlier:
    """The cells of an earlier results.json a run may reuse, by name."""

    source: str
    cells: Mapping[str, CellResult]
    bench: ReuseBench | None = None  # --reuse-bench: whose benchmark numbers are reused too; None: nobody's

    @classmethod
    def of(cls, results: Results, *, bench: ReuseBench | None = None) -> Earlier:
        return cls(source=results.source, cells={c.name: c for c in results.cells}, bench=bench)

    def reuses_bench(self, plan: CellPlan) -> bool:
        """Are this cell's benchmark numbers taken with its probe, not measured again?"""
        return self.bench == "all" or (self.bench == "emulated" and plan.placement.under_qemu)

    def probe(self, name: str, key: str) -> CellResult | None:
        """The earlier result whose probe this cell may reuse: same key, ended ok, with facts."""
        earlier = self.cells.get(name)
        if earlier is None or earlier.reuse_key != key or earlier.facts is None:
            return None
        return earlier if earlier.status is Status.OK else None

    def no_wheel(self, name: str, key: str) -> CellResult | None:
        """The earlier result of a build that failed for want of a wheel, from the same Dockerfile and base."""
        earlier = self.cells.get(name)
        if earlier is None or earlier.reuse_key != key:
            return None
        return earlier if earlier.status is Status.NO_WHEEL and earlier.image.id is None else None


def without_bench(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Reused facts whose benchmark is measured again: the bench section as the split probe's first call
    leaves it, so the same merge fills it."""
    return {**facts, "bench": {"ran": False, "skipped_reason": protocol.BENCH_DEFERRED, "runs": []}}
