"""The HTML report in a real browser: Debian's Chromium, headless (scripts/test-tools-up installs it; `make
integration` and `make test` run that first). No container engine: the page is made by `npmatrix report` from a
recorded run (tests/data/results-default.json) and edits of it (tests/report_samples.py).

Chromium's --dump-dom gives the DOM after the page loaded, which is what a reader sees: one grid row per cell,
charts that are SVG with drawn bars and each cell's label, hostile strings as text. The screenshot is checked
for the summary's colour; a person looks at it too (docs/report-screenshot.png).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import report_samples as samples
from htmldom import Node, parse
from PIL import Image

from npmatrix.present.reports import charts
from npmatrix.records.results import Results

REPO = Path(__file__).resolve().parents[2]
WINDOW = (1400, 2000)
FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in CI containers; Chromium refuses its sandbox there
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
GOOD_GREEN = (0xDA, 0xFB, 0xE1)  # the summary box when every cell is as expected (html_page._CSS --works-bg)
BAD_RED = (0xFF, 0xEB, 0xE9)  # ... and when one is not (--bad-bg)


@pytest.fixture(scope="module")
def chromium() -> str:
    found = os.environ.get("NPMATRIX_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("no Chromium: run scripts/test-tools-up (as root on Debian it installs `chromium`)")
    return found


def _browse(chromium: str, page: Path, *args: str) -> str:
    """Chromium on `page`, in its own session so that a hang is ended with every process it started."""
    profile = page.parent / f".chromium-{page.stem}"
    command = [chromium, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within 120 s on {page}")
    assert proc.returncode == 0, err[-2000:]
    return out


def dump_dom(chromium: str, page: Path) -> Node:
    return parse(_browse(chromium, page, "--dump-dom"))


def screenshot(chromium: str, page: Path) -> Image.Image:
    shot = page.with_suffix(".png")
    _browse(chromium, page, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}")
    return Image.open(shot).convert("RGB")


def _report(results: Results, directory: Path) -> Path:
    """results.json in `directory`, and the page `npmatrix report` makes of it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(results.to_json(), indent=2))
    page = directory / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "npmatrix", "report", str(directory / "results.json"), "--out", str(page)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return page


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recorded run, with one of its logs beside it (the others are missing, as in a bare artifact)."""
    directory = tmp_path_factory.mktemp("night")
    (directory / "logs").mkdir()
    log = ["#6 6.959 Compatible tags: 564", "#6 16.65 ERROR: No matching distribution found for numpy==2.3.5"]
    (directory / "logs" / "pi32-pip.build.log").write_text("\n".join(log) + "\n")
    return _report(samples.default(), directory)


def _chart(dom: Node, name: str) -> Node:
    figure = dom.find("figure", data_chart=name)
    (svg,) = figure.find_all("svg")
    return svg


def _bars(svg: Node) -> list[Node]:
    """matplotlib draws each bar as a patch (<g id="patch_N">) clipped to its axes; the axes' own background
    and spines are patches too, but not clipped."""
    patches = [g for g in svg.find_all("g") if g.get("id").startswith("patch_")]
    return [p for g in patches for p in g.find_all("path") if "clip-path" in p.attrs]


def test_the_grid_has_one_entry_per_cell(chromium: str, night: Path) -> None:
    dom = dump_dom(chromium, night)
    entries = dom.find_all(data_cell="*")
    assert [e.get("data-cell") for e in entries] == ["colab-like", "pi64", "pi32-pip", "pi32-apt"]
    assert [e.get("data-status") for e in entries] == ["ok", "ok", "no-wheel", "ok"]
    assert "All 4 cells as expected" in dom.find(id="summary").text


def test_the_charts_rendered_bars_and_a_label_per_cell(chromium: str, night: Path) -> None:
    dom = dump_dom(chromium, night)
    for name, labels in (
        ("gemm-native", ["colab-like"]),
        ("gemm-emulated", ["pi64 (cortex-a72)", "pi32-apt (cortex-a15)"]),
    ):
        svg = _chart(dom, name)
        assert len(_bars(svg)) == 4 * len(labels), name  # float32/float64 x one thread/all threads, per cell
        texts = [t.text.strip() for t in svg.find_all("text")]
        assert [label for label in labels if label in texts] == labels, texts
    assert charts.EMULATED_NOTE in " ".join(t.text for t in _chart(dom, "gemm-emulated").find_all("text"))


def test_log_excerpts_where_the_log_is_and_a_note_where_it_is_not(chromium: str, night: Path) -> None:
    dom = dump_dom(chromium, night)
    pip = dom.find("details", data_detail="pi32-pip")
    assert pip.find("pre", **{"class": "log"}).text.endswith("No matching distribution found for numpy==2.3.5")
    missing = dom.find("details", data_detail="pi64").find_all("p", **{"class": "muted log-missing"})
    assert [m.text for m in missing] == [
        "build log not found: results/logs/pi64.build.log",
        "probe_stderr log not found: results/logs/pi64.probe.stderr.log",
    ]


def test_the_screenshot_shows_a_green_night(chromium: str, night: Path) -> None:
    image = screenshot(chromium, night)
    assert image.size == WINDOW
    colours = dict((rgb, n) for n, rgb in image.getcolors(maxcolors=1 << 20) or [])
    assert colours.get(GOOD_GREEN, 0) > 20_000  # the summary box
    assert colours.get(BAD_RED, 0) == 0
    assert len(colours) > 200  # text, bars and hatching, not an empty page


def test_a_night_with_cells_not_as_expected_shows_red_and_names_them(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    page = _report(samples.unexpected_night(), tmp_path_factory.mktemp("unexpected"))
    dom = dump_dom(chromium, page)
    summary = dom.find(id="summary")
    assert "2 of 4 cells NOT as expected" in summary.text
    assert [a.text for a in summary.find_all("a")] == ["pi64", "pi32-apt"]
    image = screenshot(chromium, page)
    colours = dict((rgb, n) for n, rgb in image.getcolors(maxcolors=1 << 20) or [])
    assert colours.get(BAD_RED, 0) > 20_000


def test_hostile_strings_render_as_text(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    page = _report(samples.hostile(), tmp_path_factory.mktemp("hostile"))
    dom = dump_dom(chromium, page)
    assert dom.find_all("script") == []
    assert len(dom.find_all("svg")) == 2  # the two charts; no </svg> from the probe closed or opened one
    assert len(dom.find_all(data_cell="*")) == 4
    pip = dom.find("details", data_detail="pi32-pip")
    assert f"reason {samples.HOSTILE}" in pip.find("summary").text
    assert pip.find("pre", **{"class": "evidence"}).text == samples.HOSTILE
    assert f"cpu {samples.HOSTILE}" in dom.find("details", data_detail="pi32-apt").text
