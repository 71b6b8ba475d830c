"""The Markdown report: compact enough for a GitHub job summary (GitHub-flavoured tables).

One table of every cell, then the cells that are not as expected with their reason and fix. Text from results.json
is escaped for a table cell: `|` would end the cell, a newline the row, and `<`, `>`, `&` would be read as HTML.
"""

from __future__ import annotations

import html

from npmatrix.judge.advice import Advisory
from npmatrix.present import labels
from npmatrix.present.reports.cells import (
    Standing,
    night_summary,
    standing,
    when,
)
from npmatrix.records.results import CellResult, Results, advisories
from npmatrix.text import shorten, strip_controls

REASON_WIDTH = 100
MARKS = {
    Standing.WORKS: "✅",
    Standing.EXPECTED_FAILURE: "⚪",
    Standing.UNEXPECTED_FAILURE: "❌",
    Standing.UNEXPECTED_OK: "🔵",
}


def render_markdown(results: Results) -> str:
    night = night_summary(results)
    notes = advisories(results.cells)
    lines = [
        f"### npmatrix {md(results.matrix)}: {md(night.headline)}",
        "",
        f"{md(when(results))} · host {md(str(results.host.get('machine', '?')))} · "
        f"npmatrix {md(results.npmatrix_version)}",
        "",
        "| | cell | platform | NumPy | status | reason |",
        "|---|---|---|---|---|---|",
        *(_row(r, notes.get(r.name, ())) for r in results.cells),
        "",
        f"{MARKS[Standing.WORKS]} works · {MARKS[Standing.EXPECTED_FAILURE]} fails as expected · "
        f"{MARKS[Standing.UNEXPECTED_FAILURE]} fails, NOT as expected · "
        f"{MARKS[Standing.UNEXPECTED_OK]} works, NOT as expected (update the matrix's `expect`)",
    ]
    if night.unexpected:
        lines += ["", f"#### Not as expected ({len(night.unexpected)})", ""]
        lines += [_unexpected(r) for r in night.unexpected]
    if notes:
        lines += ["", f"#### Works, but slow ({len(notes)})", ""]
        lines += [f"- **{md(name)}**: {md(a.message)}.<br>Fix: {md(a.fix)}" for name, ns in notes.items() for a in ns]
    gaps = [(r.name, line) for r in results.cells for line in labels.not_asked_lines(r)]
    if gaps:
        lines += ["", "#### Incomplete: what a real Pi asks, not asked here", ""]
        lines += [f"- **{md(name)}**: {md(line)}" for name, line in gaps]
    limits = [(r.name, line) for r in results.cells for line in labels.emulation_limits(r.cell)]
    if limits:
        lines += ["", "#### What emulation cannot show about a real Pi", ""]
        lines += [f"- **{md(name)}**: {md(line)}" for name, line in limits]
    return "\n".join(lines) + "\n"


def _row(r: CellResult, notes: tuple[Advisory, ...] = ()) -> str:
    found = r.summary is not None and r.summary.numpy_version
    numpy = f"{labels.numpy(r)} ({labels.installed(r)})" if found else labels.numpy(r)
    reason = "" if r.status.works and r.as_expected else shorten(" ".join(r.verdict.reason.split()), REASON_WIDTH)
    if r.status.works and notes:
        reason = labels.advisories(notes)
    cells = (MARKS[standing(r)], r.name, labels.placement(r), numpy, labels.status(r), reason)
    return "| " + " | ".join(md(c) for c in cells) + " |"


def _unexpected(r: CellResult) -> str:
    line = f"- {MARKS[standing(r)]} **{md(r.name)}** ({md(labels.placement(r))}): {md(labels.status(r))}. "
    line += md(r.verdict.reason)
    if r.verdict.fix:
        line += f"<br>Fix: {md(r.verdict.fix)}"
    return line


def md(text: str) -> str:
    """Text for a Markdown table cell or list item, on one line."""
    one_line = " ".join(strip_controls(text).split())
    return html.escape(one_line, quote=False).replace("|", "\\|")
