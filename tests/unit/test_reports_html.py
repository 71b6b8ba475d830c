"""The HTML report's structure, read back with the standard library's HTML parser (tests/htmldom.py).

Built from a real run (tests/data/results-default.json) and edits of it (tests/report_samples.py). The browser
test (tests/integration/test_report_browser.py) checks the same page as Chromium renders it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import report_samples as samples
from htmldom import Node, parse

from npmatrix.present.reports import charts, html_page, logs
from npmatrix.present.reports.cells import Standing
from npmatrix.records.results import Results

REPO = Path(__file__).resolve().parents[2]


def _page(results: Results, **kwargs: object) -> tuple[str, Node]:
    text = html_page.render_html(results, **kwargs)  # type: ignore[arg-type]
    return text, parse(text)


@pytest.fixture(scope="module")
def default_page() -> tuple[str, Node]:
    return _page(samples.default())


@pytest.fixture(scope="module")
def unexpected_page() -> tuple[str, Node]:
    return _page(samples.unexpected_night())


def test_the_grid_has_one_row_per_cell_in_matrix_order(default_page: tuple[str, Node]) -> None:
    _, dom = default_page
    rows = dom.find_all(data_cell="*")
    assert [r.get("data-cell") for r in rows] == ["colab-like", "pi64", "pi32-pip", "pi32-apt"]
    assert {r.tag for r in rows} == {"tr"}
    pip = dom.find("tr", data_cell="pi32-pip")
    assert pip.get("data-status") == "no-wheel"
    assert pip.get("data-standing") == Standing.EXPECTED_FAILURE
    assert "no-wheel (expected)" in pip.text
    assert "PyPI has no NumPy==2.3.5 wheel for linux_armv7l" in pip.text
    assert "Fix:" not in pip.text  # a known failure's fix is in its details, not in the grid
    colab = dom.find("tr", data_cell="colab-like").text
    assert all(s in colab for s in ("3.11.2", "2.3.5", "wheel manylinux_2_27_x86_64", "SkylakeX", "91.6"))
    assert "QEMU" in dom.find("tr", data_cell="pi64").text  # its GFLOP/s are the emulator's


def test_the_summary_says_all_as_expected(default_page: tuple[str, Node]) -> None:
    _, dom = default_page
    summary = dom.find(id="summary")
    assert "good" in summary.get("class")
    assert (summary.get("data-cells"), summary.get("data-as-expected")) == ("4", "4")
    assert "All 4 cells as expected" in summary.text
    assert "works: 3" in summary.text and "fails as expected: 1" in summary.text
    assert summary.find_all("ul") == []


def test_the_summary_names_each_cell_not_as_expected_with_reason_and_fix(unexpected_page: tuple[str, Node]) -> None:
    _, dom = unexpected_page
    summary = dom.find(id="summary")
    assert "bad" in summary.get("class")
    assert "2 of 4 cells NOT as expected" in summary.text
    items = [li.text for li in summary.find_all("li")]
    assert len(items) == 2
    assert "pi64" in items[0] and "crashed (expected ok)" in items[0] and "SIGSEGV" in items[0]
    assert "Fix: pin numpy<2.3 until OpenBLAS 0.3.31" in items[0]
    assert "pi32-apt" in items[1] and "ok (expected missing-shared-library)" in items[1]
    assert [a.get("href") for a in summary.find_all("a")] == ["#cell-pi64", "#cell-pi32-apt"]
    assert dom.find("tr", data_cell="pi64").get("data-standing") == Standing.UNEXPECTED_FAILURE
    assert dom.find("tr", data_cell="pi32-apt").get("data-standing") == Standing.UNEXPECTED_OK
    assert dom.find("tr", data_cell="pi32-pip").get("data-standing") == Standing.EXPECTED_FAILURE
    # pi64 crashed on import: no GEMM, so no bars, and it says so.
    assert dom.find(id="no-gemm").text == "No GEMM measured: pi64 (crashed), pi32-pip (no-wheel)"


def test_details_are_open_for_cells_not_as_expected_only(unexpected_page: tuple[str, Node]) -> None:
    _, dom = unexpected_page
    details = {d.get("data-detail"): d for d in dom.find_all("details")}
    assert list(details) == ["colab-like", "pi64", "pi32-pip", "pi32-apt"]
    assert {name for name, d in details.items() if "open" in d.attrs} == {"pi64", "pi32-apt"}
    pi64 = details["pi64"]
    assert pi64.get("id") == "cell-pi64"
    assert "Fatal Python error: Segmentation fault" in pi64.find("pre", **{"class": "evidence"}).text


def test_details_show_the_key_probe_facts(default_page: tuple[str, Node]) -> None:
    _, dom = default_page
    facts = _facts(dom, "pi64")
    assert facts["platform"] == "arm64 (qemu cortex-a72)"  # as in the grid (issue 18)
    assert facts["Python"] == "3.11.2 · glibc 2.36"
    assert facts["NumPy"].startswith("2.3.5 · wheel cp311-cp311-manylinux_2_27_aarch64")
    assert facts["BLAS"] == "scipy-openblas 0.3.30 (cortexa57)"
    assert facts["CPU"].startswith("QEMU cortex-a72; /proc/cpuinfo shows the host's")
    pip = _facts(dom, "pi32-pip")  # no image, no probe: what the matrix asked for
    assert pip["NumPy"] == "2.3.5 (not installed), matrix asks for numpy==2.3.5 (binary only)"
    assert pip["image"].endswith("(not built)")
    assert "Python" not in pip


def _facts(dom: Node, cell: str) -> dict[str, str]:
    detail = dom.find("details", data_detail=cell)
    dl = detail.find("dl", **{"class": "facts"})  # not the tests' own (class "facts tests")
    terms = [n.text for n in dl.find_all("dt")]
    values = [n.text for n in dl.find_all("dd")]
    return dict(zip(terms, values, strict=True))


def test_missing_logs_are_named_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the recorded paths are relative to where the run started: not here
    results = samples.default()  # the logs it names are not in tests/data
    _, dom = _page(results, log_tails=logs.read_tails(results))
    missing = dom.find("details", data_detail="pi32-pip").find_all("p", **{"class": "muted log-missing"})
    assert [m.text for m in missing] == ["build log not found: results/logs/pi32-pip.build.log"]


def test_a_log_beside_results_json_is_shown_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A log at the recorded path (another night's, in the working directory) must not win over this run's.
    (tmp_path / "results" / "logs").mkdir(parents=True)
    (tmp_path / "results" / "logs" / "pi32-pip.build.log").write_text("another night\n")
    monkeypatch.chdir(tmp_path)
    results_path = tmp_path / "night" / "results.json"
    (tmp_path / "night" / "logs").mkdir(parents=True)
    results_path.write_text(samples.DEFAULT.read_text())
    lines = [f"#6 {i} step" for i in range(40)] + [f"ERROR: {samples.HOSTILE}"]
    (tmp_path / "night" / "logs" / "pi32-pip.build.log").write_text("\n".join(lines) + "\n")
    results = replace(samples.default(), source=str(results_path))
    text, dom = _page(results, log_tails=logs.read_tails(results))
    log = dom.find("details", data_detail="pi32-pip").find("pre", **{"class": "log"})
    shown = log.text.splitlines()
    assert len(shown) == logs.TAIL_LINES
    assert shown[0] == "#6 11 step" and shown[-1] == f"ERROR: {samples.HOSTILE}"
    assert "<script" not in text


def test_gemm_charts_native_and_emulated_apart(default_page: tuple[str, Node]) -> None:
    _, dom = default_page
    native = dom.find("figure", data_chart="gemm-native")
    emulated = dom.find("figure", data_chart="gemm-emulated")
    assert "emulated" in emulated.get("class") and "emulated" not in native.get("class")
    for figure, labels in ((native, ["colab-like"]), (emulated, ["pi64 (cortex-a72)", "pi32-apt (cortex-a15)"])):
        svg = figure.find("svg")
        assert len(svg.find_all("path")) > 10  # bars, whiskers, ticks
        texts = [t.text.strip() for t in svg.find_all("text")]
        assert [label for label in labels if label in texts] == labels
        assert {"float32, n=1024", "float64, n=1024"} <= set(texts) or figure is emulated
    emulated_texts = " ".join(t.text for t in emulated.find("svg").find_all("text"))
    assert charts.EMULATED_NOTE in emulated_texts
    assert "pi32-pip" not in emulated_texts  # no GEMM: listed apart
    assert dom.find(id="no-gemm").text == "No GEMM measured: pi32-pip (no-wheel)"
    assert "91.6" in " ".join(t.text for t in native.find("svg").find_all("text"))  # colab-like f64, all threads


def test_a_wrong_result_bar_says_so() -> None:
    results = samples.default()
    pi64 = results.cell("pi64")
    assert pi64.facts is not None
    facts = samples.hostile_facts(pi64.facts)  # any copy will do
    for run in facts["bench"]["runs"]:
        for row in run["results"]:
            row["ok"] = row["dtype"] != "float32"
    _, dom = _page(samples.with_cells(results, replace(pi64, facts=facts)))
    texts = [t.text for t in dom.find("figure", data_chart="gemm-emulated").find_all("text")]
    assert sum("WRONG RESULT" in t for t in texts) == 2  # float32: one thread and all threads


def test_hostile_strings_are_text_never_markup() -> None:
    text, dom = _page(samples.hostile())
    assert dom.find_all("script") == []
    assert "<script" not in text
    # Every </svg> closes an <svg> the charts opened; none comes from the probe's facts.
    assert text.count("</svg>") == text.count("<svg") == len(dom.find_all("svg")) == 2
    pip = dom.find("details", data_detail="pi32-pip")
    assert f"reason {samples.HOSTILE}" in pip.find("summary").text
    assert samples.HOSTILE in pip.find("pre", **{"class": "evidence"}).text
    facts = _facts(dom, "pi32-pip")
    assert facts["fix"] == f"fix {samples.HOSTILE}"
    assert facts["note"] == f"note {samples.HOSTILE}"
    assert _facts(dom, "pi32-apt")["CPU"].endswith(f"cpu {samples.HOSTILE}")
    assert dom.find("tr", data_cell="pi32-apt").find_all("td")[2].text == "3.11 </svg>"
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quoted&quot;" in text


def test_no_history_no_history_section(default_page: tuple[str, Node]) -> None:
    _, dom = default_page
    assert dom.find_all(id="history") == []


def test_history_adds_a_status_timeline_and_a_trend_chart() -> None:
    now = samples.default()
    nights = [
        samples.night_at(samples.unexpected_night(), "2026-11-24T03:00:00+00:00", scale=1.2),
        samples.night_at(now, "2026-11-23T03:00:00+00:00", scale=0.8),
        now,  # the report's own night among the history is shown once
    ]
    _, dom = _page(now, history=nights)
    section = dom.find(id="history")
    assert "3 nights" in section.find("h2").text
    timeline = section.find("table")
    assert [th.text for th in timeline.find("thead").find_all("th")] == ["cell", "11-23", "11-24", "11-25"]
    pi64 = timeline.find("tr", data_timeline_cell="pi64")
    assert [td.get("class") for td in pi64.find_all("td")] == ["st-works", "st-unexpected-failure", "st-works"]
    assert "crashed (expected ok)" in pi64.find_all("td")[1].get("title")
    assert len(timeline.find("tbody").find_all("tr")) == 4
    trend = section.find("figure", data_chart="trend").find("svg")
    texts = {t.text.strip() for t in trend.find_all("text")}
    assert {"colab-like", "pi64", "pi32-apt"} <= texts  # legend: each cell that measured GEMM
    assert "pi32-pip" not in texts
    assert len(trend.find_all("path")) > 10


def test_the_same_results_give_the_same_bytes_in_another_process(default_page: tuple[str, Node]) -> None:
    code = (
        "import sys; sys.path.insert(0, 'tests'); import report_samples as s; "
        "from npmatrix.present.reports import html_page; sys.stdout.write(html_page.render_html(s.default()))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout == default_page[0]


def test_the_page_loads_nothing_and_runs_nothing(default_page: tuple[str, Node]) -> None:
    text, dom = default_page
    assert dom.find_all("script") == [] and dom.find_all("link") == [] and dom.find_all("img") == []
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text)


def test_sixty_cells_stay_under_two_megabytes() -> None:
    text, dom = _page(samples.many_cells(60))
    assert len(dom.find_all(data_cell="*")) == 60
    assert len(text.encode()) < 2_000_000


def test_html_modules_load_without_matplotlib() -> None:
    # `report --format md` must work where matplotlib is not installed (a 32-bit Pi).
    code = "import sys; import npmatrix.present.reports.html_page, npmatrix.cli; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_timeline_shows_the_last_thirty_nights_and_the_trend_all_of_them() -> None:
    now = samples.default()
    history = [samples.night_at(now, f"2026-10-{day:02d}T03:00:00+00:00", scale=day / 20) for day in range(1, 32)]
    _, dom = _page(now, history=history)
    section = dom.find(id="history")
    assert "32 nights" in section.find("h2").text
    heads = [th.text for th in section.find("table").find("thead").find_all("th")]
    assert len(heads) == 1 + html_page.TIMELINE_NIGHTS
    assert heads[1] == "10-03" and heads[-1] == "11-25"  # the oldest two fall off the timeline
    assert "the last 30" in section.find("h3").text


def test_details_say_the_share_of_peak_and_what_a_benchmark_shared_the_machine_with() -> None:
    results = samples.default()
    colab = samples.cell(results, "colab-like")
    assert colab.facts is not None
    cpu = {**colab.facts["cpu"], "model_name": "AMD EPYC 9B14 @ 2.60GHz", "count": 2}  # a clock: a peak
    colab = replace(colab, bench_overlap=("pi64 build",), facts={**colab.facts, "cpu": cpu})
    cells = [colab if c.name == "colab-like" else c for c in results.cells]
    _, dom = _page(replace(results, cells=tuple(cells)))
    colab, pi64 = _facts(dom, "colab-like"), _facts(dom, "pi64")
    assert colab["benchmark shared the machine with"] == "pi64 build"
    assert re.fullmatch(r"\d+%", colab["% of peak (f64 GEMM)"]), colab
    assert pi64["% of peak (f64 GEMM)"] == "not meaningful under QEMU"
    assert "benchmark shared the machine with" not in pi64  # timed alone, or recorded before bench_overlap
