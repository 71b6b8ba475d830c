"""Verdicts known from the plan alone, before anything is built (issue 17): pure, no engine.

An ARMv6 CPU (a Pi Zero / Pi 1, QEMU's arm1176) on Debian's armhf cannot run: Debian builds armhf for ARMv7,
so its python3 dies of an illegal instruction, or under some QEMU models hangs until the timeout (20 s and
more, after a base image and a cell build that could never have worked). Said here, at once, with the fix.
That holds on platform arm/v6 too, whose base is Debian's armhf unless the cell brings a root filesystem of an
ARMv6 userland (`rootfs`: Raspberry Pi OS's 32-bit one); such a cell runs as arm1176 for real.
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
DEBIAN_ARMHF = "armhf"  # the Debian architecture of the platforms arm/v7 and arm/v6 (data/platforms.toml)
ROOTFS_EXAMPLE = "raspios-armhf.tar"


def before_build(plan: CellPlan) -> Verdict | None:
    """The verdict the plan already gives, or None: build and probe it. A cell on its own base image, or on
    the root filesystem it brings (Raspberry Pi OS's ARMv6 userland: `rootfs`), is not Debian's armhf: built."""
    model = plan.placement.qemu_cpu
    if plan.platform.debian_arch != DEBIAN_ARMHF or model not in PRE_ARMV7_MODELS:
        return None
    if plan.cell.base_image or plan.cell.rootfs:
        return None
    board = plan.cell.board_profile
    who = f"board {board.name} ({board.description})" if board else f"CPU model {model}"
    # arm/v6 is recorded as ARMv6, but without a rootfs its base is still made of Debian's armhf packages.
    platform = plan.placement.platform
    base = (
        "Debian's armhf" if platform == "arm/v7" else f"platform {platform} without a rootfs is Debian's armhf, which"
    )
    raspios = boards.profiles().raspios
    return Verdict(
        status=Status.CPU_UNSUPPORTED,
        reason=f"{who} is an ARMv6 CPU and {base} is built for ARMv7: its Python cannot run there, "
        "so nothing was built or started",
        fix=f"on this board use {raspios.armv6_userland.split(';')[0]}, which runs on every Pi, or NumPy "
        "from Raspbian's archive (apt install python3-numpy); in the matrix, run Raspberry Pi OS's own 32-bit "
        f'userland: platform = "arm/v6" with rootfs = "{ROOTFS_EXAMPLE}", a tarball of its image\'s root '
        "partition (docs/boards.md), or drop this cell",
        evidence=(
            f"platform {platform} (Debian armhf: ARMv7 and VFPv3-D16 at least)",
            f"QEMU CPU model {model} (ARMv6)",
            f"source: {raspios.armv6_source}",
        ),
    )
