"""The words people see for a cell: where it ran, its status, where NumPy came from, its BLAS and NumPy.

Every view takes them from here (the terminal table, Markdown, HTML, JUnit, explain, diff), so one cell reads
the same everywhere. Each label is made from what the run recorded, never decided again: where a cell ran is its
`Placement` (issue 18: the HTML grid said "amd64 (qemu Nehalem,-sse4.2,-popcnt)" while the same page's facts
panel said "linux/amd64, native" and showed the host's CPU, because each view re-derived it from other fields).
"""

from __future__ import annotations

from collections.abc import Iterable

from npmatrix.config import install
from npmatrix.config.matrix import Cell
from npmatrix.config.platforms import presets
from npmatrix.judge.advice import Advisory
from npmatrix.plan import raspios
from npmatrix.plan.placement import Placement
from npmatrix.records.results import CellResult

QEMU_DEFAULT_MODEL = "max"  # the CPU model QEMU emulates when none is named: no real board

ADVISORY_LABELS = {
    "reference-blas": "reference BLAS",
    "atlas": "ATLAS",
    "single-threaded-blas": "single-threaded BLAS",
    "slow-gemm": "GEMM far below OpenBLAS",
    "page-size": "fails on a Pi 5's 16K pages",
}


def placement(r: CellResult) -> str:
    """Where it ran: "amd64 (native)", "arm64 (qemu cortex-a72)", "amd64 (qemu Nehalem,-sse4.2,-popcnt)" (an
    amd64 cell run as an older CPU under the probe's qemu-x86_64), "arm64 (native, cpu pi5 not applied) on
    docker ssh://pi@host", "arm/v7 (qemu cortex-a72) as board pi4" (a cell that models a Raspberry Pi)."""
    as_board = f" as board {r.cell.board}" if r.cell.board else ""
    return placement_text(r.placement, cpu=r.cell.cpu) + as_board


def placement_text(p: Placement, *, cpu: str | None = None) -> str:
    """`placement` of a Placement; `cpu`: the CPU model the cell named, for a model that was not applied."""
    if p.under_qemu:
        how = f"qemu {p.qemu_cpu or QEMU_DEFAULT_MODEL}"
    elif p.cpu_not_applied and cpu:
        how = f"native, cpu {cpu} not applied"
    else:
        how = "native"
    on = f" on {p.engine}" if p.engine else ""
    return f"{p.platform} ({how}){on}"


def emulated_cpu(p: Placement) -> str | None:
    """The CPU a cell under QEMU ran as ("QEMU cortex-a72"); None for a native cell, which ran as its own."""
    if not p.under_qemu:
        return None
    return f"QEMU {p.qemu_cpu}" if p.qemu_cpu else f"QEMU {QEMU_DEFAULT_MODEL} (its default model)"


def cpu(r: CellResult) -> str | None:
    """The CPU it ran as. Under QEMU /proc/cpuinfo shows the host's CPU, not the emulated one: both are said."""
    seen = r.summary.cpu_model if r.summary else None
    model = emulated_cpu(r.placement)
    if model is None:
        return seen
    return f"{model}; /proc/cpuinfo shows the host's {seen}" if seen else model


def status(r: CellResult) -> str:
    """The status, and what the matrix expected: "ok", "no-wheel (expected)", "crashed (expected ok)", with
    what was reused from an earlier run: "ok (probe reused)", and what a real Pi asks that this run did not:
    "no-wheel (expected) (incomplete: piwheels not reached)"."""
    reused = f" ({r.reused_label})" if r.reused_label else ""
    gaps = f" ({incomplete(r)})" if r.incomplete else ""
    if r.as_expected:
        return (r.status.value if r.status.works else f"{r.status.value} (expected)") + reused + gaps
    return f"{r.status.value} (expected {r.cell.expect.value}){reused}{gaps}"


def incomplete(r: CellResult) -> str:
    """ "incomplete: piwheels not reached" where the answer lacks what a real Pi asks; "" where it lacks nothing."""
    if not r.not_asked:
        return ""
    # piwheels was tried and did not answer; the apt archives are never asked (npmatrix builds from Debian's).
    words = [
        f"{n.source} not reached" if n.source == raspios.PIWHEELS else f"{n.source} not asked" for n in r.not_asked
    ]
    return f"incomplete: {', '.join(words)}"


def not_asked_lines(r: CellResult) -> tuple[str, ...]:
    """Each thing a real Pi asks that this run did not, in a sentence: for explain and the reports."""
    return tuple(n.why for n in r.not_asked)


def advisories(notes: Iterable[Advisory]) -> str:
    """ "slow: reference BLAS, ..." beside a working cell's status; empty without advisories."""
    notes = tuple(notes)
    # The page-size advisory is no slowness: a cell that works here and will not load on a real Pi 5.
    slow = [ADVISORY_LABELS.get(a.kind, a.kind) for a in notes if a.kind != "page-size"]
    words = [f"slow: {', '.join(slow)}"] if slow else []
    words += [ADVISORY_LABELS["page-size"] for a in notes if a.kind == "page-size"]
    return "; ".join(words)


def numpy(r: CellResult) -> str:
    """The NumPy the probe found, else the pin the cell asked for: "2.3.5", "1.24.2", "2.3.5 (not installed)"."""
    s = r.summary
    if s is not None and s.numpy_version:
        return s.numpy_version
    return f"{install.method(r.cell.install).not_installed(r.cell)} (not installed)"


def installed(r: CellResult, *, short: bool = False) -> str:
    """How NumPy got there, e.g. "wheel manylinux_2_27_aarch64", "piwheels-style wheel (linux_armv7l)" or
    "debian"; else what the cell asked for.
    `short`: without the wheel's architecture, which the placement says ("wheel manylinux_2_27")."""
    s = r.summary
    if s and s.origin and s.origin.stale:
        return f"{s.origin.kind} (NOT the one installed)"
    if s and s.origin and s.origin.piwheels_style:
        # Always with its tag, short or not: without it ("linux") it would say nothing.
        return s.origin.label
    tag = _platform_tag(r, short=short)
    if s and s.origin and s.origin.kind in ("local-wheel", "conda", "editable", "url", "source"):
        return s.origin.kind + (f" {tag}" if tag else "")
    if s and s.install_source == "wheel" and tag:
        return f"wheel {tag}"
    if s and s.install_source:
        return s.install_source
    return install.method(r.cell.install).name  # an unknown method is an error, not shown as another


def _platform_tag(r: CellResult, *, short: bool) -> str | None:
    """The wheel's platform tag ("manylinux_2_27_aarch64"); `short`: without its architecture."""
    wheel_tag = r.summary.wheel_tag if r.summary else None
    if not wheel_tag:
        return None
    tag = wheel_tag.split("-")[-1]
    preset = presets().platforms.get(r.placement.platform)
    return tag.removesuffix(f"_{preset.wheel_arch}") if short and preset else tag


def blas(r: CellResult) -> str:
    """The BLAS NumPy uses and the kernel OpenBLAS picked, e.g. "scipy-openblas 0.3.30 (cortexa57)"; "-"."""
    s = r.summary
    if not s or not s.blas:
        return "-"
    return f"{s.blas} ({s.openblas_core})" if s.openblas_core else s.blas


def emulation_limits(cell: Cell) -> tuple[str, ...]:
    """What a run under QEMU cannot show about the real Pi a cell models, one line each where it applies."""
    board = cell.pi
    if board is None:
        return ()
    lines = []
    if cell.platform == "arm/v7" and board.uname_32bit == "aarch64":
        lines.append(
            f"not shown under emulation: on a real {board.name}, 32-bit Raspberry Pi OS boots a 64-bit kernel, so "
            "`uname -m` says aarch64 while dpkg says armhf and pip or uv may pick the wrong wheel tags "
            "(pypa/pip#9980, astral-sh/uv#17375); qemu-arm says armv7l"
        )
    if board.page_size != 4096:
        lines.append(
            f"not shown under emulation: a real {board.name} runs {board.page_size // 1024}K pages; qemu-user "
            "runs with the host's 4K pages, so a library built for 4K pages works here and may fail there"
        )
    return tuple(lines)
