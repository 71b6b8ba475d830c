"""The HTML report's charts: GEMM GFLOP/s per cell and a trend across nights, as SVG text drawn by matplotlib.

Why matplotlib's SVG backend, inlined into the page: the report is opened from CI artifacts, often offline, so
it carries no JavaScript and loads nothing; SVG keeps text as text (`svg.fonttype: none`), so labels stay
selectable and the browser test can find each cell's name in the DOM; and with a fixed `svg.hashsalt` and no
Date metadata the same results give the same bytes, so two reports diff cleanly. Only `Figure` is used, never
pyplot: no global state and no GUI backend. matplotlib is the optional extra `npmatrix[report]` and is imported
here, when a chart is drawn, so that everything else runs without it (see reports.require).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from npmatrix.present.reports.cells import DTYPES, GemmBars

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

EMULATED_NOTE = "QEMU: measures the emulator, not a Pi"
THREAD_STYLES = (("single", "1 thread", "#4c72b0"), ("all", "all threads", "#dd8452"))


@dataclass(frozen=True, kw_only=True)
class TrendSeries:
    """One cell's GFLOP/s across nights, oldest first; None where that night measured nothing."""

    cell: str
    under_qemu: bool  # Placement.under_qemu
    points: tuple[float | None, ...]


def gemm_svg(bars: Sequence[GemmBars], *, under_qemu: bool, salt: str) -> str:
    """Horizontal bars, one group per cell: float32 and float64 side by side, one thread and all threads."""
    with _style(salt):
        figure = _figure(width=10.0, height=1.6 + 0.5 * len(bars))
        axes = figure.subplots(1, len(DTYPES), sharey=True)
        for ax, dtype in zip(axes, DTYPES, strict=True):
            _gemm_panel(ax, bars, dtype, under_qemu=under_qemu)
        axes[0].set_yticks(range(len(bars)), [b.label for b in bars])
        axes[0].set_ylim(len(bars) - 0.5, -0.5)  # first cell on top, like the grid
        handles, labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
        if under_qemu:
            figure.suptitle(f"{EMULATED_NOTE}: compare emulated cells with each other only", color="#8a4b00")
        return _svg(figure)


def _gemm_panel(ax: Axes, bars: Sequence[GemmBars], dtype: str, *, under_qemu: bool) -> None:
    for offset, (threads, label, color) in zip((-0.2, 0.2), THREAD_STYLES, strict=True):
        rows = [(i + offset, b.get(dtype, threads)) for i, b in enumerate(bars)]
        measured = [(y, g) for y, g in rows if g is not None]
        values = [g.gflops_median for _, g in measured]
        ax.barh(
            [y for y, _ in measured],
            values,
            height=0.38,
            xerr=[g.gflops_iqr / 2 for _, g in measured],
            color=color,
            alpha=0.55 if under_qemu else 1.0,
            hatch="///" if under_qemu else None,
            edgecolor="#333333" if under_qemu else color,
            linewidth=0.4,
            error_kw={"elinewidth": 0.8, "ecolor": "#333333"},
            label=label,
        )
        for y, g in measured:
            text = _number(g.gflops_median) + ("" if g.ok else " WRONG RESULT")
            end = g.gflops_median + g.gflops_iqr / 2
            ax.annotate(text, (end, y), xytext=(3, 0), textcoords="offset points", va="center")
    sizes = sorted({g.n for b in bars for g in b.rows.values() if g.dtype == dtype})
    ax.set_title(f"{dtype}, n={'/'.join(map(str, sizes))}" + (" (QEMU)" if under_qemu else ""))
    ax.set_xlabel("GFLOP/s (median; whisker ±IQR/2)")
    ax.margins(x=0.18)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def _number(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def trend_svg(nights: Sequence[str], series: Sequence[TrendSeries], *, salt: str) -> str:
    """GFLOP/s per cell across nights: native and emulated cells in separate panels (their scales differ
    a hundredfold, and emulated numbers measure QEMU)."""
    panels = [(title, [s for s in series if s.under_qemu is emu]) for title, emu in _TREND_PANELS]
    panels = [(title, members) for title, members in panels if members]
    with _style(salt):
        figure = _figure(width=10.0, height=0.4 + 2.3 * max(1, len(panels)))
        axes = figure.subplots(max(1, len(panels)), 1, squeeze=False)[:, 0]
        for ax, (title, members) in zip(axes, panels, strict=False):
            _trend_panel(ax, nights, members, title)
        return _svg(figure)


_TREND_PANELS = (
    ("native: float64 GEMM, all threads, largest n", False),
    (f"{EMULATED_NOTE}: float64 GEMM, all threads", True),
)


def _trend_panel(ax: Axes, nights: Sequence[str], series: Sequence[TrendSeries], title: str) -> None:
    marker = "o" if len(nights) <= 60 else None
    for s in series:
        ys = [math.nan if p is None else p for p in s.points]
        ax.plot(range(len(nights)), ys, marker=marker, markersize=3, linewidth=1.2, label=s.cell)
    step = max(1, math.ceil(len(nights) / 10))
    ticks = list(range(0, len(nights), step))
    ax.set_xticks(ticks, [nights[i] for i in ticks], rotation=30, ha="right")
    ax.set_title(title, color="#8a4b00" if EMULATED_NOTE in title else "black")
    ax.set_ylabel("GFLOP/s")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8, ncols=1 + len(series) // 16)


@contextmanager
def _style(salt: str) -> Iterator[None]:
    try:
        import matplotlib
    except ImportError as exc:  # reports.require says this first, with the fix; this is the last line of defence
        raise RuntimeError("the HTML report's charts need matplotlib: pip install 'npmatrix[report]'") from exc
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",  # text as <text>, not glyph paths: smaller, and readable in the DOM
            "svg.hashsalt": f"npmatrix-{salt}",  # fixed ids; a salt per chart keeps them unique within one page
            "text.parse_math": False,  # a "$" in a label is a dollar sign, not mathtext
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        yield


def _figure(*, width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # without the XML declaration and DOCTYPE, which HTML does not take
