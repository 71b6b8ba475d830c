"""One cell reads the same in every view (present/labels.py), and the terminal table fits the terminal.

Issue 18: for numpy24-old-x86 (an amd64 cell run as Nehalem under the probe's qemu-x86_64) the HTML grid said
"amd64 (qemu Nehalem,-sse4.2,-popcnt)" and the same page's facts panel "linux/amd64, native" with the host's
CPU. Here the captured result of that cell, a native cell and an arm64 cell under QEMU are rendered in every
format, and each format must name the same placement.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import report_samples as samples
from htmldom import Node, parse

from npmatrix.plan import cellplan
from npmatrix.present import diff, explain, labels, table
from npmatrix.present.reports import html_page
from npmatrix.present.reports.junit import render_junit
from npmatrix.present.reports.markdown import md, render_markdown
from npmatrix.records import results
from npmatrix.records.results import CellResult, ImageRecord, Results
from npmatrix.verdict import Status, Verdict

DATA = Path(__file__).resolve().parents[1] / "data"
NEHALEM = "amd64 (qemu Nehalem,-sse4.2,-popcnt)"
EXPECTED = {"numpy24-old-x86": NEHALEM, "colab-like": "amd64 (native)", "pi64": "arm64 (qemu cortex-a72)"}


def _captured(name: str, engine_platform: str = "amd64") -> CellResult:
    """A gallery capture as the runner records it: planned, placed on an amd64 engine, its probe facts."""
    capture = json.loads((DATA / "gallery" / f"{name}.json").read_text())
    cell = results.cell_from_json(capture["inputs"])
    placed = cellplan.place(cellplan.plan_cell(cell), engine_platform)
    verdict = Verdict(
        status=Status(capture["status_at_capture"]), reason=capture["reason_at_capture"], fix=capture["fix_at_capture"]
    )
    image = ImageRecord(tag=placed.image_tag, id="sha256:1", base=placed.base_image, reused=True)
    return CellResult(
        cell=cell,
        placement=placed.placement,
        verdict=verdict,
        image=image,
        durations={"probe": 7.2},
        logs={},
        facts=capture["probe"],
    )


@pytest.fixture(scope="module")
def night() -> Results:
    real = samples.default()
    return dataclasses.replace(real, cells=(real.cell("colab-like"), real.cell("pi64"), _captured("numpy24-old-x86")))


@pytest.fixture(scope="module")
def page(night: Results) -> Node:
    return parse(html_page.render_html(night))


def test_the_nehalem_cell_is_under_qemu_by_its_placement() -> None:
    r = _captured("numpy24-old-x86")
    assert (r.placement.emulator, r.placement.qemu_cpu) == ("qemu-x86_64", "Nehalem,-sse4.2,-popcnt")
    assert r.placement.under_qemu and labels.placement(r) == NEHALEM


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_format_names_the_same_placement(night: Results, page: Node, name: str) -> None:
    r = night.cell(name)
    label = labels.placement(r)
    assert label == EXPECTED[name]
    seen = {
        "table": _row(table.table(night.cells, wide=True), name),
        "narrow table": _row(table.table(night.cells, width=300), name),
        "markdown": next(line for line in render_markdown(night).splitlines() if f"| {md(name)} |" in line),
        "html grid": page.find("tr", data_cell=name).find_all("td")[1].text,
        "html details": page.find("details", data_detail=name).find("span", **{"class": "muted"}).text,
        "html facts": _facts(page, name)["platform"],
        "junit": _junit_out(render_junit(night), name),
        "explain": explain.render_text(explain.subject_from_result(r), explain.subject_from_result(r)),
        "diff": _diff_line(night, name),
    }
    assert {view: label in text for view, text in seen.items()} == dict.fromkeys(seen, True), seen
    assert seen["html grid"] == seen["html facts"] == label


def test_the_facts_panel_says_which_cpu_qemu_emulated(page: Node) -> None:
    nehalem = _facts(page, "numpy24-old-x86")
    # Under QEMU /proc/cpuinfo shows the host's CPU: the panel named that CPU as the one NumPy ran on.
    assert nehalem["CPU"] == "QEMU Nehalem,-sse4.2,-popcnt; /proc/cpuinfo shows the host's AMD EPYC"
    assert "native" not in nehalem["platform"]
    assert _facts(page, "colab-like")["CPU"] == "AMD EPYC"


def test_a_native_arm_cell_says_its_cpu_model_was_not_applied() -> None:
    pi5 = _captured("pi64-qemu-max", engine_platform="arm64")
    assert not pi5.placement.under_qemu and labels.cpu(pi5) == (pi5.summary.cpu_model if pi5.summary else None)
    assert labels.placement(pi5) == "arm64 (native)"  # pi64-qemu-max names no CPU model: nothing to apply
    model = dataclasses.replace(pi5.cell, cpu="pi4")
    placed = cellplan.place(cellplan.plan_cell(model), "arm64").placement
    assert labels.placement_text(placed, cpu="pi4") == "arm64 (native, cpu pi4 not applied)"


def _row(text: str, name: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return line


def _facts(page: Node, name: str) -> dict[str, str]:
    dl = page.find("details", data_detail=name).find("dl")
    return dict(zip([n.text for n in dl.find_all("dt")], [n.text for n in dl.find_all("dd")], strict=True))


def _junit_out(xml: str, name: str) -> str:
    case = re.search(rf'<testcase name="{re.escape(name)}".*?</testcase>', xml, re.S)
    assert case is not None
    return case.group(0)


def _diff_line(night: Results, name: str) -> str:
    r = night.cell(name)
    broken = dataclasses.replace(r, verdict=Verdict(status=Status.CRASHED, reason="constructed"))
    after = dataclasses.replace(night, cells=tuple(broken if c.name == name else c for c in night.cells))
    return next(line for line in diff.render_text(diff.diff(night, after)).splitlines() if f" {name}: " in line)


# --- the table fits the terminal ------------------------------------------------------------------------------


def test_the_default_matrix_table_fits_120_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    cells = list(results.load(DATA / "results-default.json").cells)
    wide = table.table(cells, wide=True)
    assert max(len(line) for line in wide.splitlines()) > 200  # the old layout: what had to fit
    printed = "\n".join([table.table(cells), table.advice_lines(cells), table.bench_notes(cells)])
    assert max(len(line) for line in printed.splitlines()) <= 120, printed
    assert "\x1b" not in printed  # a CI log: plain text
    # The reason is no longer in the row but under the table, whole, with its fix.
    assert "pi32-pip: PyPI has no NumPy==2.3.5 wheel" in printed
    under = " ".join(printed.split("pi32-pip: ", 1)[1].split())
    assert "pip would build from source. Fix: use Debian's python3-numpy" in under
    for name in ("colab-like", "pi64", "pi32-pip", "pi32-apt"):
        assert sum(line.startswith(name + " ") for line in printed.splitlines()) == 1


def test_without_a_terminal_the_table_fits_100(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)  # pytest's stdout is no terminal: the fallback applies
    assert table.terminal_width() == table.FALLBACK_WIDTH == 100
    cells = list(results.load(DATA / "results-default.json").cells)
    assert max(len(line) for line in table.table(cells).splitlines()) <= 100


def test_a_wide_terminal_gets_every_label_unwrapped() -> None:
    cells = list(results.load(DATA / "results-default.json").cells)
    text = table.table(cells, width=300)
    assert len(text.split("\n\n")[0].splitlines()) == 2 + len(cells)  # headers, rule, one line a cell
    assert "arm/v7 (qemu cortex-a15)" in _row(text, "pi32-apt")


def test_run_has_a_wide_switch() -> None:
    from click.testing import CliRunner

    from npmatrix.cli import cli

    shown = CliRunner().invoke(cli, ["run", "--help"], terminal_width=200)
    assert shown.exit_code == 0 and "--wide" in shown.output and "fit the terminal" in shown.output
