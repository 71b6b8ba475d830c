"""The terminal table: one row per cell, what it ran and whether it works; why not, and the fix, under it.

It fits the terminal (`terminal_width`: $COLUMNS, else the terminal's width, else 100 when stdout is no
terminal): short columns, and each failing cell's reason and fix as lines under the table, wrapped to the same
width. `wide=True` gives the old layout, the reason in the row, whatever the width.

tabulate rather than rich: it is already a dependency (rich would be a new one, on the 32-bit Pis the host
package must install on), its "simple" format is plain text with no escapes for a CI log, and the width rule
here is small enough to own: drop the widest free-text column's tail until the table fits.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterable, Sequence

from tabulate import tabulate

from npmatrix.judge.advice import Advisory
from npmatrix.judge.peak import fraction, peak
from npmatrix.present import labels
from npmatrix.records.results import CellResult, advisories
from npmatrix.text import one_line, shorten

HEADERS = ("cell", "platform", "Python", "NumPy", "installed", "BLAS", "status", "GFLOP/s f64", "f32", "% peak")
SHORT_HEADERS = ("cell", "platform", "Python", "NumPy", "installed", "BLAS", "status", "GF/s f64", "f32", "%peak")
# The columns `fit` may wrap: BLAS, installed, NumPy, status, and last the placement.
WRAPPABLE = (5, 4, 3, 6, 1)
MIN_COLUMN = 8
GAP = 2  # tabulate's "simple" format puts two spaces between columns
FALLBACK_WIDTH = 100  # when stdout is no terminal and $COLUMNS is unset: a CI log


def terminal_width() -> int:
    return shutil.get_terminal_size((FALLBACK_WIDTH, 24)).columns


def table(
    results: Iterable[CellResult], *, wide: bool = False, width: int | None = None, reason_width: int = 70
) -> str:
    """The table, and (unless `wide`) the failing cells' reasons and fixes under it, every line at most
    `width` columns (None: `terminal_width()`) where cell names and numbers allow."""
    cells = list(results)
    notes = advisories(cells)
    if wide:
        return _render([_row(r, notes.get(r.name, ()), reason_width=reason_width) for r in cells], HEADERS)
    limit = width or terminal_width()
    rows = [_row(r, notes.get(r.name, ())) for r in cells]
    under = reason_lines(cells, width=limit)
    return _render_fitted(rows, SHORT_HEADERS, width=limit) + (f"\n\n{under}" if under else "")


def _render(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    # Made printable before tabulate: it measures (and closes) ANSI sequences it finds in cells.
    printable = [tuple(one_line(v) for v in row) for row in rows]
    return tabulate(printable, headers=headers, tablefmt="simple", disable_numparse=True)


def _render_fitted(rows: Sequence[Sequence[str]], headers: Sequence[str], *, width: int) -> str:
    """The "simple" layout without the two spaces tabulate pads every header with (20 columns of a table of
    ten): headers and their rule go in as rows of a "plain" table, which pads nothing."""
    printable = [tuple(one_line(v) for v in row) for row in rows]
    widths = fit(printable, headers, width=width)
    rule = [
        "-" * (w or max(len(v) for v in [h, *(row[i] for row in printable)]))
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    ]
    wrap = widths if any(widths) else None
    return tabulate([headers, rule, *printable], tablefmt="plain", disable_numparse=True, maxcolwidths=wrap)


def fit(rows: Sequence[Sequence[str]], headers: Sequence[str], *, width: int) -> list[int | None]:
    """Per column, the width to wrap it at (None: as wide as it is) so that the table fits `width`. The
    wrappable column with the most room loses a character at a time: first down to its longest word (the
    placement only after the others), then (a narrow terminal) down to MIN_COLUMN, breaking words. Nothing is
    cut: a wrapped cell goes on under itself; cell names and numbers are never wrapped."""
    texts = [[one_line(r[i]) for r in rows] for i in range(len(headers))]
    floor = [len(h) for h in headers]
    widths = [max([floor[i], *(len(t) for t in column)]) for i, column in enumerate(texts)]
    words = [
        max([floor[i], MIN_COLUMN, *(len(w) for t in column for w in t.split())]) for i, column in enumerate(texts)
    ]
    wrapped: list[int | None] = [None] * len(widths)
    # Where a cell ran is what issue 18 was about: it wraps last, and only once the others are at their words.
    phases = ((WRAPPABLE[:-1], words), (WRAPPABLE, words), (WRAPPABLE, [max(f, MIN_COLUMN) for f in floor]))
    for columns, smallest in phases:
        while sum(widths) + GAP * (len(widths) - 1) > width:
            room = [i for i in columns if widths[i] > smallest[i]]
            if not room:
                break
            column = max(room, key=lambda i: widths[i] - smallest[i])
            widths[column] -= 1
            wrapped[column] = widths[column]
    return wrapped


def reason_lines(results: Iterable[CellResult], *, width: int) -> str:
    """Under the table: each failing cell's reason and fix, wrapped to `width` (empty when all work)."""
    found = [r for r in results if not r.status.works]
    return _wrapped(
        [
            f"{r.name}: {_sentence(r.verdict.reason)}" + (f" Fix: {r.verdict.fix}" if r.verdict.fix else "")
            for r in found
        ],
        width=width,
    )


def _wrapped(paragraphs: Iterable[str], *, width: int | None) -> str:
    """Each paragraph on one line (None: unwrapped), or wrapped to `width` with its later lines indented."""
    lines: list[str] = []
    for text in paragraphs:
        text = one_line(text)
        if width is None:
            lines.append(text)
        else:
            lines += textwrap.wrap(text, width=max(width, 40), subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join(lines)


def _sentence(text: str) -> str:
    text = one_line(text).strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _row(r: CellResult, notes: tuple[Advisory, ...] = (), *, reason_width: int | None = None) -> tuple[str, ...]:
    s = r.summary
    status = labels.status(r)
    if not r.status.works and reason_width is not None:
        status += f": {shorten(r.verdict.reason, reason_width)}"
    elif r.status.works and notes:
        status += f" ({labels.advisories(notes)})"
    return (
        r.cell.name,
        labels.placement(r),
        (s.python_version if s else None) or "-",
        labels.numpy(r),
        labels.installed(r, short=reason_width is None),
        labels.blas(r),
        status,
        _marked(r, s.best_gflops("float64") if s else None),
        _marked(r, s.best_gflops("float32") if s else None),
        percent_of_peak(r),
    )


CONTENDED_MARK = "*"


def contended(r: CellResult) -> bool:
    """A native cell's GFLOP/s timed while other cells' builds or probes ran (`bench_overlap`, --jobs > 1):
    the numbers may measure the contention. Emulated cells' numbers measure QEMU anyway (% peak says so)."""
    return bool(r.bench_overlap) and not r.placement.under_qemu


def _marked(r: CellResult, gflops: float | None) -> str:
    return _gflops(gflops) + (CONTENDED_MARK if gflops is not None and contended(r) else "")


def bench_notes(results: Iterable[CellResult], *, wide: bool = False) -> str:
    """Under the table: which GFLOP/s are marked, and what they shared the machine with (empty if none);
    wrapped to the terminal unless `wide`."""
    shared = [
        f"{r.name} (with {', '.join(r.bench_overlap or ())})"
        for r in results
        if contended(r) and r.summary and r.summary.gemm
    ]
    if not shared:
        return ""
    note = (
        f"{CONTENDED_MARK} GFLOP/s timed while other cells' work ran: {'; '.join(shared)}. Benchmarks never overlap "
        "one another; for numbers from a quiet machine run with --jobs 1."
    )
    return _wrapped([note], width=None if wide else terminal_width())


def peak_share(r: CellResult) -> float | None:
    """The f64 GEMM's share of the CPU's theoretical peak (peak.py); None when unknown or under QEMU."""
    gflops = r.summary.best_gflops("float64") if r.summary else None
    return fraction(gflops, peak((r.facts or {}).get("cpu"), under_qemu=r.placement.under_qemu))


def percent_of_peak(r: CellResult) -> str:
    """peak_share for the table; "qemu" where a share means nothing."""
    if r.placement.under_qemu and r.facts is not None:
        return "qemu"
    share = peak_share(r)
    return f"{share:.0%}" if share is not None else "-"


def _gflops(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"


def advice_lines(results: list[CellResult], *, wide: bool = False) -> str:
    """Under the table: each advisory of a working cell with its fix (empty when there are none); wrapped to
    the terminal unless `wide`."""
    found = [f"{name}: {a.message}. Fix: {a.fix}" for name, notes in advisories(results).items() for a in notes]
    return _wrapped(found, width=None if wide else terminal_width())


def incomplete_lines(results: Iterable[CellResult], *, wide: bool = False) -> str:
    """Under the table: what each incomplete cell's answer lacks, a sentence each (empty when none lacks
    anything); wrapped to the terminal unless `wide`."""
    found = [f"{r.name}: incomplete: {_sentence(line)}" for r in results for line in labels.not_asked_lines(r)]
    return _wrapped(found, width=None if wide else terminal_width())


def summary_line(results: list[CellResult]) -> str:
    unexpected = [r.cell.name for r in results if not r.as_expected]
    works = sum(r.status.works for r in results)
    line = f"{len(results)} cells: {works} work, {len(results) - works} fail"
    line += f"; NOT as expected: {', '.join(unexpected)}" if unexpected else "; all as expected"
    gaps = [r.cell.name for r in results if r.incomplete]
    # An incomplete answer is no failure: it is what PyPI and Debian's archive give, and a real Pi asks more.
    return line + (f"; incomplete (a real Pi asks more): {', '.join(gaps)}" if gaps else "")
