"""A cell's own tests (test_command) in every report and in explain (issue 19): how they ended, their exit code,
the failing tests by name and the last lines of their output, all from what results.json keeps.

The tests are real captured runs (tests/data/testruns, judged by judge/tests.read as the runner does) attached to
cells of a real night (tests/report_samples.tests_night). The hostile night gives pi64's tests a tail holding
`</pre><script>`, ANSI and OSC escapes, a ``` fence and secrets, and hostile names and command.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
import report_samples as samples
import xmlschema
from htmldom import Node, parse

from npmatrix.judge.tests import TestReport
from npmatrix.present import explain, owntests
from npmatrix.present.reports import render
from npmatrix.records import results as results_io
from npmatrix.records.results import Results

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).resolve().parents[1] / "data" / "junit.xsd"))
FAILED_NAME = "tests/test_sample.py::test_fails_on_purpose"
ASSERTION = "E       assert 2.0 == 3.0"


@pytest.fixture(scope="module")
def night() -> Results:
    return samples.tests_night()


@pytest.fixture(scope="module")
def hostile() -> Results:
    return samples.hostile_tests_night()


def _no_secret(text: str) -> None:
    for secret in samples.TAIL_SECRETS:
        assert secret not in text


# --- the words ---------------------------------------------------------------------------------------------


def test_the_words_of_failed_passed_and_not_run_tests(night: Results) -> None:
    failed = owntests.cell_tests(night.cell("pi64"))
    assert failed is not None and failed.ran and not failed.passed
    assert failed.summary == "tests failed: exit 1 · 2 tests: 1 passed, 1 failed · 1.5 s"
    assert failed.failed == (FAILED_NAME,) and failed.unnamed == 0
    assert ASSERTION in failed.tail
    assert dict(failed.rows())["full output"] == "results/logs/pi64.tests.log"
    passed = owntests.cell_tests(night.cell("colab-like"))
    assert passed is not None and passed.passed
    assert passed.summary == "tests passed: exit 0 · 1 test: 1 passed · 1.5 s"
    not_run = owntests.cell_tests(night.cell("pi32-pip"))
    assert not_run is not None and not not_run.ran
    assert not_run.summary == "tests not run: the probe ended no-wheel"
    assert owntests.cell_tests(night.cell("pi32-apt")) is None  # no test_command


def test_a_signal_a_timeout_and_names_beyond_those_kept_are_said(night: Results) -> None:
    pi64 = night.cell("pi64")
    sigill = samples.with_tests(pi64, samples.captured_tests("sigill"))
    shown = owntests.cell_tests(sigill)
    assert shown is not None
    assert shown.summary.startswith("tests died with SIGILL: exit 132 (SIGILL)")
    assert "Fatal Python error: Illegal instruction" in shown.tail
    stopped = TestReport(command="pytest", exit_code=None, timed_out=True, duration_s=600.0)
    assert owntests.cell_tests(replace(pi64, tests=stopped)).summary == "tests timed out: exit none · 10.0 min"  # type: ignore[union-attr]
    many = TestReport(command="pytest", exit_code=1, failed=("a", "b"), counts={"tests": 90, "failures": 60})
    shown = owntests.cell_tests(replace(pi64, tests=many))
    assert shown is not None and shown.unnamed == 58
    assert shown.counts == "90 tests: 30 passed, 60 failed"


def test_a_results_file_keeps_what_the_reports_show(night: Results, tmp_path: Path) -> None:
    # What the reports read must survive results.json: written and read back, the words are the same.
    path = tmp_path / "results.json"
    path.write_text(json.dumps(night.to_json()))
    again = results_io.load(path)
    for name in ("colab-like", "pi64", "pi32-pip"):
        assert owntests.cell_tests(again.cell(name)) == owntests.cell_tests(night.cell(name))


# --- HTML --------------------------------------------------------------------------------------------------


def _tests_section(dom: Node, cell: str) -> Node:
    return dom.find("details", data_detail=cell).find("section", data_tests="*")


def test_html_shows_each_cells_tests(night: Results) -> None:
    dom = parse(render(night, "html"))
    failed = _tests_section(dom, "pi64")
    assert failed.get("data-tests") == "failed"
    assert failed.find("h4").text == "Tests failed"
    dl = failed.find("dl")
    facts = dict(zip([n.text for n in dl.find_all("dt")], [n.text for n in dl.find_all("dd")], strict=True))
    assert facts["command"] == "pytest {project}/tests"
    assert facts["exit code"] == "1" and facts["duration"] == "1.5 s"
    assert facts["tests"] == "2 tests: 1 passed, 1 failed"
    assert [li.text for li in failed.find("ul", **{"class": "failed-tests"}).find_all("li")] == [FAILED_NAME]
    tail = failed.find("pre", **{"class": "tests-tail"}).text
    assert ASSERTION in tail and tail.endswith("1 failed, 1 passed in 0.11s ==========================")
    assert _tests_section(dom, "colab-like").get("data-tests") == "passed"
    not_run = _tests_section(dom, "pi32-pip")
    assert not_run.get("data-tests") == "not-run"
    assert not_run.find("h4").text == "Tests not run: the probe ended no-wheel"
    assert dom.find("details", data_detail="pi32-apt").find_all("section") == []


def test_html_neutralises_a_hostile_tail(hostile: Results) -> None:
    text = render(hostile, "html")
    dom = parse(text)
    assert dom.find_all("script") == [] and "<script" not in text
    assert "\x1b" not in text and "\x07" not in text
    _no_secret(text)
    section = _tests_section(dom, "pi64")
    tail = section.find("pre", **{"class": "tests-tail"}).text
    assert "</pre><script>alert(1)</script>\nFAILED title\n```" in tail  # shown as text, escapes removed
    assert "?token=***&x=1" in tail and "ghp_***" in tail
    names = [li.text for li in section.find("ul", **{"class": "failed-tests"}).find_all("li")]
    assert names == [f"tests/test_x.py::test_{samples.HOSTILE}", "tests/test_y.py::test_cleared"]
    assert (
        dict(zip([n.text for n in section.find_all("dt")], [n.text for n in section.find_all("dd")], strict=True))[
            "command"
        ]
        == f"pytest {samples.HOSTILE}"
    )


# --- Markdown ----------------------------------------------------------------------------------------------


def _tests_part(text: str) -> str:
    return text.split("#### Tests (3 cells)\n", 1)[1].split("\n#### ", 1)[0]


def test_markdown_lists_each_cells_tests_and_the_tail_of_those_that_failed(night: Results) -> None:
    part = _tests_part(render(night, "md"))
    lines = part.strip().splitlines()
    assert (
        lines[0] == "- ✅ **colab-like**: tests passed: exit 0 · 1 test: 1 passed · 1.5 s · "
        "`pytest {project}/tests -k 'not on_purpose'`"
    )
    assert (
        lines[1]
        == "- ❌ **pi64**: tests failed: exit 1 · 2 tests: 1 passed, 1 failed · 1.5 s · `pytest {project}/tests`"
    )
    assert lines[2] == f"  - failing: `{FAILED_NAME}`"
    assert "<details><summary>pi64: output, last 22 lines</summary>\n\n```text\n" in part
    assert f"{ASSERTION}\n" in part
    assert lines[-1] == "- ⚪ **pi32-pip**: tests not run: the probe ended no-wheel · `pytest {project}/tests`"
    assert part.count("<details>") == 1  # passing tests show no tail


def test_markdown_fences_a_hostile_tail_so_it_cannot_end_the_block(hostile: Results) -> None:
    text = render(hostile, "md")
    assert "\x1b" not in text and "\x07" not in text
    _no_secret(text)
    part = _tests_part(text)
    # The tail holds a ``` line: the block is fenced with four backticks, and only the fence closes it.
    block = part.split("````text\n", 1)[1].split("\n````\n", 1)[0]
    assert block.splitlines() == [
        "collected 1 item",
        "</pre><script>alert(1)</script>",
        "FAILED title",
        "```",
        "# after the fence",
        "~~~",
        "index https://pypi.example/simple?token=***&x=1",
        "ghp_*** ]]> & done",
    ]
    # Outside code spans and the fenced block, no markup comes from the results file.
    outside = re.sub(r"````text\n.*?\n````\n", "", part, flags=re.S)
    outside = re.sub(r"(`+).*?\1", "", outside)
    assert "<script" not in outside and "</pre>" not in outside


def test_markdown_as_github_renders_it_has_no_element_from_the_tail(hostile: Results) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(render(hostile, "md"))
    assert "<script" not in rendered and "</pre><script>" not in rendered
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    # The tail's ``` did not close the block: the line after it is code, not a heading.
    assert "<h1>after the fence</h1>" not in rendered and "# after the fence" in rendered
    assert "<code>tests/test_x.py::test_&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in rendered


def test_markdown_code_spans_outrun_backticks_in_the_text() -> None:
    from npmatrix.present.reports.markdown import code

    assert code("pytest -k 'a'") == "`pytest -k 'a'`"
    assert code("echo `date` ``x``") == "``` echo `date` ``x`` ```"
    assert code("a ``b`` c") == "```a ``b`` c```"
    assert code("`edge`") == "`` `edge` ``"
    assert code("one\ntwo\x1b[31m") == "`one two`"


# --- JUnit -------------------------------------------------------------------------------------------------


def _case(text: str, name: str) -> ET.Element:
    SCHEMA.validate(text)
    (case,) = [c for c in ET.fromstring(text).iter("testcase") if c.get("name") == name]
    return case


def test_junit_carries_the_tests_outcome_names_and_tail_in_the_cells_testcase(night: Results) -> None:
    text = render(night, "junit")
    pi64 = _case(text, "pi64")
    assert pi64.find("failure") is not None  # tests-failed, against the matrix's expect = "ok"
    out = pi64.findtext("system-out") or ""
    assert "\ntests failed: exit 1 · 2 tests: 1 passed, 1 failed · 1.5 s\n" in out
    assert "\ntests command: pytest {project}/tests\n" in out
    assert f"\nfailed test: {FAILED_NAME}\n" in out
    assert "\ntests output, last 22 lines:\n" in out and ASSERTION in out
    assert "1 passed" in (_case(text, "colab-like").findtext("system-out") or "")
    assert _case(text, "colab-like").find("failure") is None
    assert "tests not run: the probe ended no-wheel" in (_case(text, "pi32-pip").findtext("system-out") or "")
    props = {p.get("name"): p.get("value") for p in ET.fromstring(text).iter("property")}
    assert props["pi64.tests"] == "tests failed: exit 1 · 2 tests: 1 passed, 1 failed · 1.5 s"
    assert "pi32-apt.tests" not in props
    # One testcase per cell still: the tests' own cases are not testcases of the suite.
    assert len(list(ET.fromstring(text).iter("testcase"))) == 4


def test_junit_keeps_a_hostile_tail_well_formed(hostile: Results) -> None:
    text = render(hostile, "junit")
    assert "\x1b" not in text and "\x07" not in text
    _no_secret(text)
    out = _case(text, "pi64").findtext("system-out") or ""
    assert "</pre><script>alert(1)</script>\nFAILED title\n```\n# after the fence" in out  # text, not markup
    assert f"failed test: tests/test_x.py::test_{samples.HOSTILE}" in out
    assert "ghp_*** ]]> & done" in out


# --- explain -----------------------------------------------------------------------------------------------


def test_explain_shows_the_failing_tests_and_the_tail(night: Results) -> None:
    a = explain.subject_from_result(night.cell("colab-like"))
    b = explain.subject_from_result(night.cell("pi64"))
    text = explain.render_text(a, b)
    assert (
        "\ncolab-like: tests passed: exit 0 · 1 test: 1 passed · 1.5 s (pytest {project}/tests -k 'not on_purpose')\n"
        in text
    )
    assert "\npi64: tests failed: exit 1 · 2 tests: 1 passed, 1 failed · 1.5 s (pytest {project}/tests)\n" in text
    assert f"\n  failed test: {FAILED_NAME}\n" in text
    assert "\n  output, last 20 lines:\n" in text and f"\n    {ASSERTION}\n" in text
    assert text.splitlines()[-1].startswith("colab-like works and pi64 does not (tests-failed)")  # still last
    document = explain.to_json(a, b)
    assert list(document["b"]["tests_failed"]) == [FAILED_NAME] and ASSERTION in document["b"]["tests_tail"]


def test_explain_neutralises_a_hostile_tail(hostile: Results) -> None:
    text = explain.render_text(
        explain.subject_from_result(hostile.cell("colab-like")), explain.subject_from_result(hostile.cell("pi64"))
    )
    assert "\x1b" not in text and "\x07" not in text
    _no_secret(text)
    assert "\n    FAILED title\n" in text and "\n  failed test: tests/test_y.py::test_cleared\n" in text
