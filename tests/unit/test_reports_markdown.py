"""The Markdown report: a GitHub job summary. One table row per cell, the cells not as expected listed with
their fix, and text that cannot break the table."""

from __future__ import annotations

import report_samples as samples

from npmatrix.present.reports.markdown import md, render_markdown
from npmatrix.verdict import Status


def _rows(text: str) -> dict[str, list[str]]:
    """Table rows by cell name, split at unescaped pipes."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| |"):
            cells = [c.strip() for c in _split(line)[1:-1]]
            rows[cells[1]] = cells
    return rows


def _split(line: str) -> list[str]:
    parts, current, escaped = [], "", False
    for ch in line:
        if ch == "|" and not escaped:
            parts.append(current)
            current = ""
        else:
            current += ch
        escaped = ch == "\\" and not escaped
    return [*parts, current]


def test_a_row_per_cell_with_status_and_the_reason_only_where_it_matters() -> None:
    text = render_markdown(samples.default())
    assert text.startswith("### npmatrix matrix/default.toml: 4 cells: 3 work, 1 fail; all as expected\n")
    rows = _rows(text)
    assert list(rows) == ["colab-like", "pi64", "pi32-pip", "pi32-apt"]
    assert rows["colab-like"] == ["✅", "colab-like", "amd64 (native)", "2.3.5 (wheel manylinux_2_27_x86_64)", "ok", ""]
    assert rows["pi32-pip"][0] == "⚪"
    assert rows["pi32-pip"][3:5] == ["2.3.5 (not installed)", "no-wheel (expected)"]
    assert rows["pi32-pip"][5].startswith("PyPI has no NumPy==2.3.5 wheel for linux_armv7l")
    assert rows["pi32-apt"][2:4] == ["arm/v7 (qemu cortex-a15)", "1.24.2 (debian)"]
    assert "Not as expected" not in text


def test_cells_not_as_expected_are_listed_with_their_fix() -> None:
    text = render_markdown(samples.unexpected_night())
    assert "4 cells: 2 work, 2 fail; 2 NOT as expected" in text.splitlines()[0]
    rows = _rows(text)
    assert rows["pi64"][0] == "❌" and rows["pi64"][4] == "crashed (expected ok)"
    assert rows["pi32-apt"][0] == "🔵" and rows["pi32-apt"][4] == "ok (expected missing-shared-library)"
    assert rows["pi32-pip"][0] == "⚪"
    listed = text.split("#### Not as expected (2)\n", 1)[1].strip().splitlines()
    assert listed[0].startswith("- ❌ **pi64** (arm64 (qemu cortex-a72)): crashed (expected ok). `import numpy` died")
    assert listed[0].endswith("<br>Fix: pin numpy&lt;2.3 until OpenBLAS 0.3.31")
    assert listed[1].startswith("- 🔵 **pi32-apt**")


def test_pipes_newlines_and_markup_cannot_break_the_table() -> None:
    results = samples.default()
    reason = "a | b\nsecond line <b>bold</b> & more"
    broken = samples.failed(results.cell("pi64"), Status.CRASHED, reason, fix="x | y")
    text = render_markdown(samples.with_cells(results, broken))
    (line,) = [row for row in text.splitlines() if "| pi64 |" in row]
    assert len(_split(line)) == 8  # 6 columns between 7 unescaped pipes
    assert _rows(text)["pi64"][5] == "a \\| b second line &lt;b&gt;bold&lt;/b&gt; &amp; more"
    assert "Fix: x \\| y" in text


def test_md_escapes() -> None:
    assert md("a|b") == "a\\|b"
    assert md("one\ntwo\r\nthree") == "one two three"
    assert md("<script>&") == "&lt;script&gt;&amp;"
    assert md("\x1b[31mred\x1b[0m") == "red"


def test_long_reasons_are_shortened_in_the_table_not_in_the_list() -> None:
    results = samples.default()
    reason = "word " * 60
    broken = samples.failed(results.cell("pi64"), Status.CRASHED, reason.strip())
    text = render_markdown(samples.with_cells(results, broken))
    assert len(_rows(text)["pi64"][5]) == 100 and _rows(text)["pi64"][5].endswith("…")
    assert reason.strip() in text
