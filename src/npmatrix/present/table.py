"""The terminal table: one row per cell, what it ran and whether it works, and why not."""

from __future__ import annotations

from collections.abc import Iterable

from tabulate import tabulate

from npmatrix.config import install
from npmatrix.judge.advice import Advisory
from npmatrix.judge.peak import fraction, peak
from npmatrix.records.results import CellResult, advisories
from npmatrix.text import one_line, shorten

HEADERS = ("cell", "platform", "Python", "NumPy", "installed", "BLAS", "status", "GFLOP/s f64", "f32", "% peak")


def table(results: Iterable[CellResult], *, reason_width: int = 70) -> str:
    cells = list(results)
    notes = advisories(cells)
    # Made printable before tabulate: it measures (and closes) ANSI sequences it finds in cells.
    rows = [tuple(one_line(v) for v in _row(r, reason_width, notes.get(r.name, ()))) for r in cells]
    return tabulate(rows, headers=HEADERS, tablefmt="simple", disable_numparse=True)


ADVISORY_LABELS = {
    "reference-blas": "reference BLAS",
    "atlas": "ATLAS",
    "single-threaded-blas": "single-threaded BLAS",
    "slow-gemm": "GEMM far below OpenBLAS",
}


def advisory_text(notes: Iterable[Advisory]) -> str:
    """ "slow: reference BLAS, ..." for a status column; empty without advisories."""
    labels = [ADVISORY_LABELS.get(a.kind, a.kind) for a in notes]
    return f"slow: {', '.join(labels)}" if labels else ""


def _row(r: CellResult, reason_width: int, notes: tuple[Advisory, ...] = ()) -> tuple[str, ...]:
    s = r.summary
    status = r.status.value if r.as_expected else f"{r.status.value} (expected {r.cell.expect.value})"
    if r.reused_label:
        status += f" ({r.reused_label})"
    if not r.status.works:
        status += f": {shorten(r.verdict.reason, reason_width)}"
    elif notes:
        status += f" ({advisory_text(notes)})"
    return (
        r.cell.name,
        platform_label(r),
        (s.python_version if s else None) or "-",
        (s.numpy_version if s else None) or (r.cell.numpy or "-").lstrip("="),
        installed(r),
        blas(r),
        status,
        _marked(r, s.best_gflops("float64") if s else None),
        _marked(r, s.best_gflops("float32") if s else None),
        percent_of_peak(r),
    )


CONTENDED_MARK = "*"


def contended(r: CellResult) -> bool:
    """A native cell's GFLOP/s timed while other cells' builds or probes ran (`bench_overlap`, --jobs > 1):
    the numbers may measure the contention. Emulated cells' numbers measure QEMU anyway (% peak says so)."""
    return bool(r.bench_overlap) and not r.under_qemu


def _marked(r: CellResult, gflops: float | None) -> str:
    return _gflops(gflops) + (CONTENDED_MARK if gflops is not None and contended(r) else "")


def bench_notes(results: Iterable[CellResult]) -> str:
    """Under the table: which GFLOP/s are marked, and what they shared the machine with (empty if none)."""
    shared = [
        f"{r.name} (with {', '.join(r.bench_overlap or ())})"
        for r in results
        if contended(r) and r.summary and r.summary.gemm
    ]
    if not shared:
        return ""
    return (
        f"{CONTENDED_MARK} GFLOP/s timed while other cells' work ran: {'; '.join(shared)}. Benchmarks never overlap "
        "one another; for numbers from a quiet machine run with --jobs 1."
    )


def peak_share(r: CellResult) -> float | None:
    """The f64 GEMM's share of the CPU's theoretical peak (peak.py); None when unknown or under QEMU."""
    gflops = r.summary.best_gflops("float64") if r.summary else None
    return fraction(gflops, peak((r.facts or {}).get("cpu"), emulated=r.under_qemu))


def percent_of_peak(r: CellResult) -> str:
    """peak_share for the table; "qemu" where a share means nothing."""
    if r.under_qemu and r.facts is not None:
        return "qemu"
    share = peak_share(r)
    return f"{share:.0%}" if share is not None else "-"


def platform_label(r: CellResult) -> str:
    """The platform, native or the CPU model QEMU ran it as, and the engine unless the local Docker:
    "arm64 (qemu cortex-a72)", "amd64 (native)", "arm64 (native, cpu pi5 not applied) on docker pi"."""
    name = r.oci_platform.removeprefix("linux/")
    if r.qemu_cpu:
        how = f"qemu {r.qemu_cpu.split()[0]}"
    elif r.emulated:
        how = "qemu"
    else:
        how = f"native, cpu {r.cell.cpu} not applied" if r.cell.cpu else "native"
    on = f" on {r.engine.describe()}" if r.engine and (r.engine.host or r.engine.kind != "docker") else ""
    return f"{name} ({how}){on}"


def installed(r: CellResult) -> str:
    """How NumPy got there, e.g. "wheel manylinux_2_27_aarch64" or "debian"; else what the cell asked for."""
    s = r.summary
    if s and s.origin and s.origin.stale:
        return f"{s.origin.kind} (NOT the one installed)"
    if s and s.origin and s.origin.kind in ("local-wheel", "conda", "editable", "url", "source"):
        return s.origin.kind + (f" {s.wheel_tag.split('-')[-1]}" if s.wheel_tag else "")
    if s and s.install_source == "wheel" and s.wheel_tag:
        return f"wheel {s.wheel_tag.split('-')[-1]}"
    if s and s.install_source:
        return s.install_source
    return install.method(r.cell.install).name  # an unknown method is an error, not shown as another


def blas(r: CellResult) -> str:
    """The BLAS NumPy uses and the kernel OpenBLAS picked, e.g. "scipy-openblas 0.3.30 (cortexa57)"."""
    s = r.summary
    if not s or not s.blas:
        return "-"
    return f"{s.blas} ({s.openblas_core})" if s.openblas_core else s.blas


def _gflops(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"


def advice_lines(results: list[CellResult]) -> str:
    """Under the table: each advisory of a working cell with its fix (empty when there are none)."""
    lines = []
    for name, notes in advisories(results).items():
        lines += [f"{name}: {a.message}. Fix: {a.fix}" for a in notes]
    return "\n".join(lines)


def summary_line(results: list[CellResult]) -> str:
    unexpected = [r.cell.name for r in results if not r.as_expected]
    works = sum(r.status.works for r in results)
    line = f"{len(results)} cells: {works} work, {len(results) - works} fail"
    return line + (f"; NOT as expected: {', '.join(unexpected)}" if unexpected else "; all as expected")
