"""The Markdown report: compact enough for a GitHub job summary (GitHub-flavoured tables).

One table of every cell, then the cells that are not as expected with their reason and fix, then each cell's own
tests (test_command): how they ended, the failing tests by name, and for tests that did not pass the last lines of
their output in a fenced block. Text from results.json is escaped for a table cell: `|` would end the cell, a
newline the row, and `<`, `>`, `&` would be read as HTML. Code spans and fenced blocks show their text literally
(no HTML, no entities), so there it is only made one line (`code`) or fenced by more backticks than it holds.
"""

from __future__ import annotations

import html
import re

from npmatrix.judge.advice import Advisory
from npmatrix.present import labels
from npmatrix.present.owntests import CellTests, cell_tests
from npmatrix.present.reports.cells import (
    Standing,
    night_summary,
    standing,
    when,
)
from npmatrix.records.results import CellResult, Results, advisories
from npmatrix.text import shorten, strip_controls

REASON_WIDTH = 100
TAIL_LINES = 30  # of a test command's output; results.json keeps more, the HTML report shows them all
TAIL_LINE_WIDTH = 300
NAMES_SHOWN = 10  # failing tests named; the HTML report names all that results.json keeps
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
    tests = [t for r in results.cells if (t := cell_tests(r)) is not None]
    if tests:
        lines += ["", f"#### Tests ({len(tests)} cells)", ""]
        lines += [line for t in tests for line in _tests(t)]
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


def _tests(t: CellTests) -> list[str]:
    mark = "✅" if t.passed else ("❌" if t.ran else "⚪")
    lines = [f"- {mark} **{md(t.cell)}**: {md(t.summary)} · {code(t.command)}"]
    if t.failed:
        names = ", ".join(code(name) for name in t.failed[:NAMES_SHOWN])
        more = len(t.failed) - NAMES_SHOWN + t.unnamed
        lines.append(f"  - failing: {names}" + (f" and {more} more" if more > 0 else ""))
    if t.ran and not t.passed and t.tail:
        lines += ["", *_tail_block(t), ""]
    return lines


def _tail_block(t: CellTests) -> list[str]:
    """The output's last lines in a collapsed block, fenced by more backticks than any run in them, so a fence
    in the output cannot end the block and let the rest be read as Markdown or HTML."""
    shown = [shorten(strip_controls(line), TAIL_LINE_WIDTH) for line in t.tail_lines(TAIL_LINES)]
    longest = max((len(run) for run in re.findall(r"`+", "\n".join(shown))), default=0)
    fence = "`" * max(3, longest + 1)
    summary = f"{md(t.cell)}: output, last {len(shown)} lines"
    return [f"<details><summary>{summary}</summary>", "", f"{fence}text", *shown, fence, "", "</details>"]


def code(text: str) -> str:
    """Text as an inline code span, on one line: delimited by more backticks than any run in it, and spaced
    when it starts or ends with one (CommonMark strips one space each side)."""
    one_line = " ".join(strip_controls(text).split())
    longest = max((len(run) for run in re.findall(r"`+", one_line)), default=0)
    ticks = "`" * (longest + 1)
    return (
        f"{ticks} {one_line} {ticks}"
        if one_line.startswith("`") or one_line.endswith("`")
        else f"{ticks}{one_line}{ticks}"
    )


def md(text: str) -> str:
    """Text for a Markdown table cell or list item, on one line."""
    one_line = " ".join(strip_controls(text).split())
    return html.escape(one_line, quote=False).replace("|", "\\|")
