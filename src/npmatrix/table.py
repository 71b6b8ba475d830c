"""The terminal table: one row per cell, what it ran and whether it works, and why not."""

from __future__ import annotations

from collections.abc import Iterable

from tabulate import tabulate

from npmatrix.peak import fraction, peak
from npmatrix.results import CellResult
from npmatrix.text import one_line

HEADERS = ("cell", "platform", "Python", "NumPy", "installed", "BLAS", "status", "GFLOP/s f64", "f32", "% peak")


def table(results: Iterable[CellResult], *, reason_width: int = 70) -> str:
    # Made printable before tabulate: it measures (and closes) ANSI sequences it finds in cells.
    rows = [tuple(one_line(v) for v in _row(r, reason_width)) for r in results]
    return tabulate(rows, headers=HEADERS, tablefmt="simple", disable_numparse=True)


def _row(r: CellResult, reason_width: int) -> tuple[str, ...]:
    s = r.summary
    status = r.status.value if r.as_expected else f"{r.status.value} (expected {r.cell.expect.value})"
    if r.reused_label:
        status += f" ({r.reused_label})"
    if not r.status.works:
        status += f": {_shorten(r.verdict.reason, reason_width)}"
    return (
        r.cell.name,
        platform_label(r),
        (s.python_version if s else None) or "-",
        (s.numpy_version if s else None) or (r.cell.numpy or "-").lstrip("="),
        installed(r),
        blas(r),
        status,
        _gflops(s.best_gflops("float64") if s else None),
        _gflops(s.best_gflops("float32") if s else None),
        percent_of_peak(r),
    )


def percent_of_peak(r: CellResult) -> str:
    """The f64 GEMM's share of the CPU's theoretical peak (peak.py); "qemu" where a share means nothing."""
    emulated = r.emulated or r.qemu_cpu is not None
    if emulated and r.facts is not None:
        return "qemu"
    share = fraction(
        r.summary.best_gflops("float64") if r.summary else None, peak((r.facts or {}).get("cpu"), emulated=emulated)
    )
    return f"{share:.0%}" if share is not None else "-"


def platform_label(r: CellResult) -> str:
    """The platform and the CPU model QEMU ran it as, e.g. "arm64 (qemu cortex-a72)"."""
    return r.oci_platform.removeprefix("linux/") + (f" (qemu {r.qemu_cpu.split()[0]})" if r.qemu_cpu else "")


def installed(r: CellResult) -> str:
    """How NumPy got there, e.g. "wheel manylinux_2_27_aarch64" or "debian"; else what the cell asked for."""
    s = r.summary
    if s and s.install_source == "wheel" and s.wheel_tag:
        return f"wheel {s.wheel_tag.split('-')[-1]}"
    if s and s.install_source:
        return s.install_source
    return "pip" if r.cell.install == "pip" else "apt"


def blas(r: CellResult) -> str:
    """The BLAS NumPy uses and the kernel OpenBLAS picked, e.g. "scipy-openblas 0.3.30 (cortexa57)"."""
    s = r.summary
    if not s or not s.blas:
        return "-"
    return f"{s.blas} ({s.openblas_core})" if s.openblas_core else s.blas


def _gflops(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def summary_line(results: list[CellResult]) -> str:
    unexpected = [r.cell.name for r in results if not r.as_expected]
    works = sum(r.status.works for r in results)
    line = f"{len(results)} cells: {works} work, {len(results) - works} fail"
    return line + (f"; NOT as expected: {', '.join(unexpected)}" if unexpected else "; all as expected")
