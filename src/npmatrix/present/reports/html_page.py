"""The HTML report: one self-contained page (no script, no stylesheet or font from the network).

Top to bottom: the night in one line (how many cells, how many as expected, which are not and why); a grid with
one row per cell coloured by its standing; GEMM charts, native and emulated apart; with history, each cell's
status night by night and a GFLOP/s trend; then every cell in detail with its facts, evidence and log tail
(open by default for the cells that are not as expected).

Every string that comes from results.json (a probe, a log, a matrix file) goes through `_e`, which escapes it
for HTML text and attributes. The charts are SVG from matplotlib, which escapes its own text (charts.py).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from npmatrix.judge.advice import Advisory
from npmatrix.present import labels
from npmatrix.present.owntests import CellTests, cell_tests
from npmatrix.present.reports import charts
from npmatrix.present.reports.cells import (
    STANDING_LABELS,
    Standing,
    gemm_bars,
    key_facts,
    night_summary,
    oldest_first,
    standing,
    when,
)
from npmatrix.present.reports.logs import LogTail
from npmatrix.records.results import CellResult, Results, advisories
from npmatrix.text import strip_controls

TIMELINE_NIGHTS = 30  # status columns shown; the trend chart shows every night


def render_html(
    results: Results,
    *,
    history: Sequence[Results] = (),
    log_tails: Mapping[str, Sequence[LogTail]] | None = None,
) -> str:
    """The page for `results`. `history` holds earlier nights of the same matrix (any order; `results` itself
    may be among them): when given, the page adds a status timeline and a GFLOP/s trend."""
    title = f"npmatrix: {results.matrix}, {when(results)}"
    sections = [
        _header(results),
        _grid(results),
        _gemm(results),
        _history(results, history) if history else "",
        _details(results, log_tails or {}),
        _footer(results),
    ]
    body = "\n".join(s for s in sections if s)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _e(value: object) -> str:
    return html.escape(strip_controls(str(value)), quote=True)


def _anchor(name: str) -> str:
    return f"cell-{_e(name)}"


# --- the night in one line --------------------------------------------------------------------------------


def _header(results: Results) -> str:
    night = night_summary(results)
    host = results.host
    meta = [when(results), f"host {host.get('machine', '?')}", str(host.get("builder", "")), results.npmatrix_version]
    meta[-1] = f"npmatrix {meta[-1]}"
    verdict = (
        f"All {night.cells} cells as expected"
        if night.all_as_expected
        else f"{len(night.unexpected)} of {night.cells} cells NOT as expected"
    )
    counts = " ".join(_count_pill(s, n) for s in Standing if (n := sum(standing(r) is s for r in results.cells)))
    return (
        f'<header>\n<h1>npmatrix <span class="matrix">{_e(results.matrix)}</span></h1>\n'
        f'<p class="meta">{" · ".join(_e(m) for m in meta if m)}</p>\n'
        f'<div id="summary" class="summary {"good" if night.all_as_expected else "bad"}" '
        f'data-cells="{night.cells}" data-as-expected="{night.as_expected}">\n'
        f'<p class="verdict">{_e(verdict)}</p>\n<p class="counts">{counts}</p>\n'
        f"{_unexpected_list(night.unexpected)}</div>\n</header>"
    )


def _count_pill(s: Standing, count: int) -> str:
    return f'<span class="pill st-{s.value}">{_e(STANDING_LABELS[s])}: {count}</span>'


def _unexpected_list(unexpected: Sequence[CellResult]) -> str:
    if not unexpected:
        return ""
    items = "".join(
        f'<li><a href="#{_anchor(r.name)}">{_e(r.name)}</a> <span class="muted">{_e(labels.placement(r))}</span>'
        f" <b>{_e(labels.status(r))}</b>: {_e(r.verdict.reason)}"
        + (f'<br><span class="fix">Fix: {_e(r.verdict.fix)}</span>' if r.verdict.fix else "")
        + "</li>"
        for r in unexpected
    )
    return f'<ul class="unexpected">{items}</ul>\n'


# --- the grid ---------------------------------------------------------------------------------------------

_GRID_HEADERS = ("cell", "platform", "Python", "NumPy", "installed", "BLAS", "status", "GFLOP/s f64", "reason")


def _grid(results: Results) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in _GRID_HEADERS)
    notes = advisories(results.cells)
    rows = "\n".join(_grid_row(r, notes.get(r.name, ())) for r in results.cells)
    return (
        '<section id="grid">\n<h2>Cells</h2>\n'
        f'<table class="grid">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>\n</section>'
    )


def _grid_row(r: CellResult, notes: tuple[Advisory, ...] = ()) -> str:
    s = r.summary
    st = standing(r)
    best = s.best_gflops("float64") if s else None
    gflops = (
        "-" if best is None else f"{best:.1f}" + (' <span class="qemu">QEMU</span>' if r.placement.under_qemu else "")
    )
    # The fix of a cell that fails as expected is known and lives in its details; the grid stays one line a cell.
    fix = f'<div class="fix">Fix: {_e(r.verdict.fix)}</div>' if r.verdict.fix and not r.as_expected else ""
    fix += "".join(
        f'<div class="advice">Slow: {_e(a.message)}<div class="fix">Fix: {_e(a.fix)}</div></div>' for a in notes
    )
    cells = [
        f'<td class="name"><a href="#{_anchor(r.name)}">{_e(r.name)}</a></td>',
        f"<td>{_e(labels.placement(r))}</td>",
        f"<td>{_e((s.python_version if s else None) or '-')}</td>",
        f"<td>{_e(labels.numpy(r))}</td>",
        f"<td>{_e(labels.installed(r))}</td>",
        f"<td>{_e(labels.blas(r))}</td>",
        f'<td><span class="badge st-{st.value}" title="{_e(STANDING_LABELS[st])}">{_e(labels.status(r))}</span></td>',
        f'<td class="num">{gflops}</td>',
        f'<td class="reason">{_e(r.verdict.reason)}{fix}</td>',
    ]
    return (
        f'<tr class="st-{st.value}" data-cell="{_e(r.name)}" data-status="{_e(r.status.value)}" '
        f'data-standing="{st.value}">{"".join(cells)}</tr>'
    )


# --- GEMM charts ------------------------------------------------------------------------------------------


def _gemm(results: Results) -> str:
    measured = [(r, b) for r in results.cells if (b := gemm_bars(r)) is not None]
    native = [b for r, b in measured if not r.placement.under_qemu]
    emulated = [b for r, b in measured if r.placement.under_qemu]
    parts = ['<section id="gemm">\n<h2>GEMM GFLOP/s</h2>', _GEMM_INTRO]
    if native:
        parts.append(_figure("gemm-native", "Native cells", charts.gemm_svg(native, under_qemu=False, salt="native")))
    if emulated:
        caption = "Emulated cells (QEMU on this host): the speed of the emulator, not of a Raspberry Pi"
        parts.append(_figure("gemm-emulated", caption, charts.gemm_svg(emulated, under_qemu=True, salt="emulated")))
    unmeasured = [r for r in results.cells if gemm_bars(r) is None]
    if unmeasured:
        names = ", ".join(f"{_e(r.name)} ({_e(r.status.value)})" for r in unmeasured)
        parts.append(f'<p class="muted" id="no-gemm">No GEMM measured: {names}</p>')
    if not measured:
        parts.append('<p class="muted">No cell measured GEMM.</p>')
    return "\n".join(parts) + "\n</section>"


_GEMM_INTRO = (
    '<p class="muted">Median GFLOP/s at the largest size each cell measured, one thread and all threads. Every '
    "product is checked against a float64 reference; a bar marked WRONG RESULT was fast and wrong. Compare "
    "cells of one night only: the host CPU differs between machines.</p>"
)


def _figure(name: str, caption: str, svg: str) -> str:
    kind = "chart emulated" if name.endswith("emulated") else "chart"
    return f'<figure class="{kind}" data-chart="{name}">\n<figcaption>{_e(caption)}</figcaption>\n{svg}</figure>'


# --- history ----------------------------------------------------------------------------------------------


def _history(results: Results, history: Sequence[Results]) -> str:
    nights = _nights(results, history)
    cells = [{c.name: c for c in night.cells} for night in nights]  # per night, by name: looked up often
    names = list(dict.fromkeys(c.name for night in [results, *reversed(nights)] for c in night.cells))
    night_names = [n.started_at[:16].replace("T", " ") for n in nights]
    series = [_trend_series(name, cells) for name in names]
    trend = charts.trend_svg(night_names, [s for s in series if any(p is not None for p in s.points)], salt="trend")
    shown = slice(-TIMELINE_NIGHTS, None)
    return (
        f'<section id="history">\n<h2>History: {len(nights)} nights</h2>\n'
        f"{_timeline(names, nights[shown], cells[shown])}\n"
        f"{_figure('trend', 'GFLOP/s across nights (float64 GEMM, all threads, largest size)', trend)}\n</section>"
    )


def _nights(results: Results, history: Sequence[Results]) -> list[Results]:
    """Every night once, oldest first, this one included."""
    seen: dict[tuple[str, str], Results] = {}
    for night in [*history, results]:
        seen[(night.started_at, str(night.host.get("run_id", "")))] = night
    return oldest_first(list(seen.values()))


def _trend_series(name: str, nights: Sequence[Mapping[str, CellResult]]) -> charts.TrendSeries:
    points: list[float | None] = []
    under_qemu = False
    for cells in nights:
        cell = cells.get(name)
        points.append(cell.summary.best_gflops("float64") if cell and cell.summary else None)
        under_qemu = cell.placement.under_qemu if cell else under_qemu
    return charts.TrendSeries(cell=name, under_qemu=under_qemu, points=tuple(points))


def _timeline(names: Sequence[str], nights: Sequence[Results], cells: Sequence[Mapping[str, CellResult]]) -> str:
    head = "".join(f'<th title="{_e(n.started_at)}">{_e(n.started_at[5:10])}</th>' for n in nights)
    rows = []
    for name in names:
        tds = [_timeline_entry(night, by_name.get(name)) for night, by_name in zip(nights, cells, strict=True)]
        rows.append(f'<tr data-timeline-cell="{_e(name)}"><th>{_e(name)}</th>{"".join(tds)}</tr>')
    shown = f"the last {len(nights)}" if len(nights) == TIMELINE_NIGHTS else "each night"
    return (
        f'<h3>Status, {shown} (hover for the reason)</h3>\n<table class="timeline">'
        f"<thead><tr><th>cell</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _timeline_entry(night: Results, cell: CellResult | None) -> str:
    if cell is None:
        return '<td class="st-none" title="not in this night">·</td>'
    tip = f"{night.started_at}: {labels.status(cell)}: {cell.verdict.reason}"
    return f'<td class="st-{standing(cell).value}" title="{_e(tip)}">{_e(_status_initial(cell))}</td>'


def _status_initial(cell: CellResult) -> str:
    return "✓" if cell.status.works else "✗"


# --- each cell in detail ----------------------------------------------------------------------------------


def _details(results: Results, log_tails: Mapping[str, Sequence[LogTail]]) -> str:
    blocks = "\n".join(_cell_detail(r, log_tails.get(r.name, ())) for r in results.cells)
    return f'<section id="details">\n<h2>Cells in detail</h2>\n{blocks}\n</section>'


def _cell_detail(r: CellResult, tails: Sequence[LogTail]) -> str:
    st = standing(r)
    facts = [("status", labels.status(r)), ("reason", r.verdict.reason)]
    facts += [("fix", r.verdict.fix)] if r.verdict.fix else []
    rows = "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in [*facts, *key_facts(r)])
    evidence = (
        f'<h4>Evidence</h4>\n<pre class="evidence">{_e(chr(10).join(r.verdict.evidence))}</pre>\n'
        if r.verdict.evidence
        else ""
    )
    tests = cell_tests(r)
    if tests is not None and tests.tail:
        # The tests' log ends with pytest's junit XML; the tail results.json keeps is its output without it.
        tails = [t for t in tails if t.kind != "tests"]
    logs = "".join(_log_block(t) for t in tails)
    return (
        f'<details id="{_anchor(r.name)}" class="cell st-{st.value}" data-detail="{_e(r.name)}"'
        f"{'' if st.as_expected else ' open'}>\n"
        f'<summary><span class="badge st-{st.value}">{_e(labels.status(r))}</span> <b>{_e(r.name)}</b> '
        f'<span class="muted">{_e(labels.placement(r))}</span> {_e(r.verdict.reason)}</summary>\n'
        f'<dl class="facts">{rows}</dl>\n{evidence}{_tests_block(tests)}{logs}</details>'
    )


def _tests_block(tests: CellTests | None) -> str:
    """The cell's own tests: what ran, how it ended, which tests failed, and the last lines it printed."""
    if tests is None:
        return ""
    state = "passed" if tests.passed else ("failed" if tests.ran else "not-run")
    rows = "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in tests.rows())
    heading = tests.heading[:1].upper() + tests.heading[1:]
    return (
        f'<section class="tests tests-{state}" data-tests="{state}">\n<h4>{_e(heading)}</h4>\n'
        f'<dl class="facts tests">{rows}</dl>\n{_failed_tests(tests)}{_tests_tail(tests)}</section>\n'
    )


def _failed_tests(tests: CellTests) -> str:
    if not tests.failed:
        return ""
    items = "".join(f"<li><code>{_e(name)}</code></li>" for name in tests.failed)
    more = f'<li class="muted">and {tests.unnamed} more</li>' if tests.unnamed else ""
    count = len(tests.failed) + tests.unnamed
    return f'<h5>Failing tests ({count})</h5>\n<ul class="failed-tests">{items}{more}</ul>\n'


def _tests_tail(tests: CellTests) -> str:
    if not tests.tail:
        return ""
    count = len(tests.tail.splitlines())
    return f'<h5>Output, last {count} lines</h5>\n<pre class="tests-tail">{_e(tests.tail)}</pre>\n'


def _log_block(tail: LogTail) -> str:
    if not tail.found:
        return f'<p class="muted log-missing">{_e(tail.kind)} log not found: <code>{_e(tail.recorded)}</code></p>\n'
    if not tail.lines:
        return f'<p class="muted">{_e(tail.kind)} log <code>{_e(tail.recorded)}</code> is empty</p>\n'
    return (
        f"<h4>{_e(tail.kind)} log <code>{_e(tail.recorded)}</code>, last {len(tail.lines)} lines</h4>\n"
        f'<pre class="log">{_e(chr(10).join(tail.lines))}</pre>\n'
    )


def _footer(results: Results) -> str:
    return (
        f"<footer>Made from <code>{_e(results.source)}</code> by npmatrix. Self-contained: no script, nothing "
        "loaded from the network. Charts drawn with matplotlib.</footer>"
    )


_CSS = """
:root { --works: #1a7f37; --works-bg: #dafbe1; --known: #57606a; --known-bg: #eaeef2;
  --bad: #cf222e; --bad-bg: #ffebe9; --fixed: #0969da; --fixed-bg: #ddf4ff; --qemu: #8a4b00; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1f2328;
  margin: 0 auto; padding: 16px 24px 48px; max-width: 1400px; }
h1 { font-size: 22px; margin: 0 0 2px; } h1 .matrix { font-weight: normal; color: #57606a; }
h2 { font-size: 18px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 28px; }
h3 { font-size: 15px; } h4 { font-size: 13px; margin: 12px 0 4px; } h5 { font-size: 12px; margin: 8px 0 2px; }
section.tests { border-top: 1px solid #d8dee4; margin-top: 8px; }
section.tests-failed h4 { color: var(--bad); } section.tests-passed h4 { color: var(--works); }
ul.failed-tests { margin: 2px 0; padding-left: 20px; font-size: 13px; }
.meta, .muted { color: #57606a; } .muted { font-size: 13px; }
.summary { border-radius: 8px; padding: 10px 16px; margin: 12px 0; border: 2px solid; }
.summary.good { border-color: var(--works); background: var(--works-bg); }
.summary.bad { border-color: var(--bad); background: var(--bad-bg); }
.summary p { margin: 4px 0; } .verdict { font-size: 20px; font-weight: 600; }
.summary.good .verdict { color: var(--works); } .summary.bad .verdict { color: var(--bad); }
.unexpected { margin: 6px 0; padding-left: 20px; } .unexpected li { margin: 4px 0; }
.pill, .badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600;
  border: 1px solid; white-space: nowrap; }
.st-works .badge, .badge.st-works, .pill.st-works { color: var(--works); background: var(--works-bg); }
.badge.st-expected-failure, .pill.st-expected-failure { color: var(--known); background: var(--known-bg); }
.badge.st-unexpected-failure, .pill.st-unexpected-failure { color: #fff; background: var(--bad);
  border-color: var(--bad); }
.badge.st-unexpected-ok, .pill.st-unexpected-ok { color: #fff; background: var(--fixed); border-color: var(--fixed); }
table.grid { border-collapse: collapse; width: 100%; font-size: 13px; }
.grid th { text-align: left; background: #f6f8fa; border-bottom: 2px solid #d0d7de; padding: 6px 8px; }
.grid td { border-bottom: 1px solid #d8dee4; padding: 6px 8px; vertical-align: top; }
.grid tr { border-left: 6px solid transparent; }
.grid tr.st-works td:first-child { box-shadow: inset 6px 0 var(--works); }
.grid tr.st-expected-failure td:first-child { box-shadow: inset 6px 0 #afb8c1; }
.grid tr.st-unexpected-failure td { background: var(--bad-bg); }
.grid tr.st-unexpected-failure td:first-child { box-shadow: inset 6px 0 var(--bad); }
.grid tr.st-unexpected-ok td { background: var(--fixed-bg); }
.grid tr.st-unexpected-ok td:first-child { box-shadow: inset 6px 0 var(--fixed); }
.grid td.name { padding-left: 14px; font-weight: 600; white-space: nowrap; }
.grid td.num { text-align: right; white-space: nowrap; } .grid td.reason { max-width: 520px; }
.grid tr.st-works td.reason { color: #57606a; }
.qemu { color: var(--qemu); font-size: 11px; font-weight: 600; }
.fix { color: #0a3069; font-size: 12px; margin-top: 2px; }
.advice { color: #8a4b00; font-size: 12px; margin-top: 2px; }
a { color: inherit; }
figure.chart { margin: 12px 0 20px; padding: 8px; border: 1px solid #d0d7de; border-radius: 8px; }
figure.chart.emulated { border: 2px dashed var(--qemu); }
figure.chart figcaption { font-weight: 600; margin-bottom: 4px; }
figure.chart.emulated figcaption { color: var(--qemu); }
figure.chart svg { max-width: 100%; height: auto; display: block; }
table.timeline { border-collapse: collapse; font-size: 12px; }
.timeline th, .timeline td { border: 1px solid #fff; padding: 2px 6px; text-align: center; }
.timeline tbody th { text-align: left; }
.timeline td.st-works { background: var(--works-bg); color: var(--works); }
.timeline td.st-expected-failure { background: var(--known-bg); color: var(--known); }
.timeline td.st-unexpected-failure { background: var(--bad); color: #fff; }
.timeline td.st-unexpected-ok { background: var(--fixed); color: #fff; }
.timeline td.st-none { color: #afb8c1; }
details.cell { border: 1px solid #d0d7de; border-left: 6px solid #afb8c1; border-radius: 6px; margin: 8px 0;
  padding: 6px 12px; }
details.cell.st-works { border-left-color: var(--works); }
details.cell.st-unexpected-failure { border-left-color: var(--bad); }
details.cell.st-unexpected-ok { border-left-color: var(--fixed); }
details.cell summary { cursor: pointer; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; font-size: 13px; }
dl.facts dt { color: #57606a; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
pre { background: #f6f8fa; border: 1px solid #d8dee4; border-radius: 6px; padding: 8px; font-size: 12px;
  overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
code { font-size: 12px; }
footer { margin-top: 32px; color: #57606a; font-size: 12px; }
"""
