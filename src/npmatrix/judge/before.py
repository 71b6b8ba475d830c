"""Verdicts known from the plan alone, before anything is built (issue 17): pure, no engine.

An ARMv6 CPU (a Pi Zero / Pi 1, QEMU's arm1176) on Debian's armhf cannot run: Debian builds armhf for ARMv7,
so its python3 dies of an illegal instruction, or under some QEMU models hangs until the timeout (20 s and
more, after a base image and a cell build that could never have worked). Said here, at once, with the fix.
"""

from __future__ import annotations

from npmatrix.config import boards
from npmatrix.plan.cellplan import CellPlan
from npmatrix.verdict import Status, Verdict

# QEMU's ARM models older than ARMv7 (`qemu-arm-static -cpu help`): ARMv6 (the ARM11 family, the Pi's
# ARM1176JZF-S among them) and ARMv5 (ARM9/ARM10, XScale, StrongARM).
PRE_ARMV7_MODELS = frozenset(
    {
        "arm1136",
        "arm1136-r2",
        "arm1176",
        "arm11mpcore",
        "arm926",
        "arm946",
        "arm1026",
        "ti925t",
        "sa1100",
        "sa1110",
        "pxa250",
        "pxa255",
        "pxa260",
        "pxa261",
        "pxa262",
        "pxa270",
    }
)
DEBIAN_ARMHF = "arm/v7"


def before_build(plan: CellPlan) -> Verdict | None:
    """The verdict the plan already gives, or None: build and probe it."""
    model = plan.placement.qemu_cpu
    if plan.placement.platform != DEBIAN_ARMHF or model not in PRE_ARMV7_MODELS or plan.cell.base_image:
        return None
    board = plan.cell.board_profile
    who = f"board {board.name} ({board.description})" if board else f"CPU model {model}"
    raspios = boards.profiles().raspios
    return Verdict(
        status=Status.CPU_UNSUPPORTED,
        reason=f"{who} is an ARMv6 CPU and Debian's armhf is built for ARMv7: its Python cannot run there, "
        "so nothing was built or started",
        fix=f"on this board use {raspios.armv6_userland.split(';')[0]}, which runs on every Pi, or NumPy "
        "from Raspbian's archive (apt install python3-numpy); in the matrix, drop this cell or model the "
        "board as arm/v6",
        evidence=(
            f"platform {plan.placement.platform} (Debian armhf: ARMv7 and VFPv3-D16 at least)",
            f"QEMU CPU model {model} (ARMv6)",
            f"source: {raspios.armv6_source}",
        ),
    )
