"""Where a cell runs: one value, decided once by the plan (`cellplan.plan_cell`, then `cellplan.place` on an
engine), carried by the CellPlan and then by the CellResult and results.json. Every stage and every view reads
it; none decides again whether a cell ran under QEMU (issue 18: the HTML grid said "qemu Nehalem" and the same
page's facts panel said "native" for one cell, because each looked at a different field).

Stdlib only: records and views import it without loading the planner's renderer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

# What puts a cell under QEMU. "binfmt": the engine's machine is another platform, and the kernel's binfmt_misc
# handler runs every binary of the container under qemu-<arch>. "qemu-x86_64": an amd64 cell on an amd64 engine
# that names a CPU model; binfmt never applies to native binaries, so the probe runs its children under the
# qemu-x86_64 it brings (plan.protocol.EXEC_PREFIX_VAR).
Emulator = Literal["binfmt", "qemu-x86_64"]
EMULATORS: tuple[Emulator, ...] = get_args(Emulator)


@dataclass(frozen=True, kw_only=True)
class Placement:
    platform: str  # the preset name, as a cell names it: "amd64", "arm/v7"
    oci: str  # its OCI platform string: "linux/arm/v7"
    emulator: Emulator | None  # what runs it under QEMU; None: native
    qemu_cpu: str | None  # the CPU model QEMU emulates; None: native, or QEMU's default model ("max")
    cpu_not_applied: bool = False  # the cell names a CPU model, but it runs natively where no QEMU applies one
    engine: str | None = None  # the engine, when not the local Docker: "docker ssh://pi@host"; None: local Docker

    def __post_init__(self) -> None:
        # A CPU model only exists under QEMU: a native cell with one is the very ambiguity this value removes.
        if self.qemu_cpu is not None and self.emulator is None:
            raise ValueError(f"{self.platform}: QEMU CPU model {self.qemu_cpu!r} without an emulator")

    @property
    def under_qemu(self) -> bool:
        """The one test for "runs under QEMU": its GFLOP/s measure QEMU's translation, /proc/cpuinfo shows
        the host's CPU, and a share of the CPU's peak means nothing."""
        return self.emulator is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "oci": self.oci,
            "emulator": self.emulator,
            "qemu_cpu": self.qemu_cpu,
            "cpu_not_applied": self.cpu_not_applied,
            "engine": self.engine,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Placement:
        return cls(
            platform=record["platform"],
            oci=record["oci"],
            emulator=record["emulator"],
            qemu_cpu=record["qemu_cpu"],
            cpu_not_applied=record["cpu_not_applied"],
            engine=record["engine"],
        )
