"""What emulation cannot show about a real Pi (issue 17), said in explain and every report, where it applies."""

from __future__ import annotations

import dataclasses

import pytest
from synthetic import cell_result, run

from npmatrix.config import matrix
from npmatrix.present import explain, labels
from npmatrix.present.reports.cells import key_facts
from npmatrix.present.reports.markdown import render_markdown
from npmatrix.records.results import CellResult

KERNEL = "32-bit Raspberry Pi OS boots a 64-bit kernel"
PAGES = "runs 16K pages"


def _result(body: str, name: str = "c") -> CellResult:
    cell = matrix.loads(f'[[cell]]\nname = "{name}"\nnumpy = "==2.3.5"\n{body}\n', source="m.toml").cells[0]
    return dataclasses.replace(cell_result(name, emulated=True), cell=cell)


@pytest.mark.parametrize(
    ("body", "kernel", "pages"),
    [
        ('platform = "arm/v7"\nboard = "pi4"', True, False),
        ('platform = "arm/v7"\nboard = "pi5"', True, True),
        ('platform = "arm64"\nboard = "pi5"', False, True),
        ('platform = "arm64"\ncpu = "pi5"', False, True),  # a Pi CPU without a board: the same Pi
        ('platform = "arm/v7"\nboard = "pi3"', False, False),  # a Pi 3 boots a 32-bit kernel under 32-bit Pi OS
        ('platform = "arm64"', False, False),  # no Pi at all
    ],
)
def test_one_line_each_where_it_applies(body: str, kernel: bool, pages: bool) -> None:
    lines = labels.emulation_limits(_result(body).cell)
    assert [KERNEL in line for line in lines].count(True) == kernel
    assert [PAGES in line for line in lines].count(True) == pages
    assert len(lines) == kernel + pages
    if kernel:
        assert any("uname -m` says aarch64 while dpkg says armhf" in line for line in lines)


def test_explain_and_the_reports_say_it() -> None:
    pi5 = _result('platform = "arm/v7"\nboard = "pi5"', name="pi5-32")
    other = _result('platform = "arm64"', name="plain")
    text = explain.render_text(explain.subject_from_result(pi5), explain.subject_from_result(other))
    assert f"pi5-32: not shown under emulation: on a real pi5, {KERNEL}" in text and PAGES in text
    assert "plain: not shown" not in text
    facts = dict(key_facts(pi5))
    assert "not shown here" in facts and "not shown here" not in dict(key_facts(other))
    report = render_markdown(run([pi5, other]))
    assert "What emulation cannot show about a real Pi" in report and "**pi5-32**" in report
    assert "**plain**: not shown" not in report
