"""The JUnit XML report: valid against a Jenkins-shaped schema (tests/data/junit.xsd), a failure exactly for the
cells not as their matrix expected, and the versions as properties."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
import report_samples as samples
import xmlschema

from npmatrix.present.reports.junit import render_junit
from npmatrix.records.results import Results
from npmatrix.verdict import Status

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).resolve().parents[1] / "data" / "junit.xsd"))


def _xml(results: Results) -> ET.Element:
    text = render_junit(results)
    SCHEMA.validate(text)
    return ET.fromstring(text)


def _cases(root: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in root.iter("testcase")}


def test_the_schema_rejects_what_jenkins_would_reject() -> None:
    # The schema must be able to fail, or validating against it proves nothing.
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate('<testsuites><testsuite name="x" tests="1"><testcase name="a"/></testsuite></testsuites>')
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate(
            '<testsuites><testsuite name="x" tests="1" failures="0" errors="0"><case/></testsuite></testsuites>'
        )


def test_one_suite_one_case_per_cell_all_passing_when_all_as_expected() -> None:
    root = _xml(samples.default())
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "matrix/default.toml"
    assert [suite.get(k) for k in ("tests", "failures", "errors", "skipped")] == ["4", "0", "0", "0"]
    cases = _cases(root)
    assert list(cases) == ["colab-like", "pi64", "pi32-pip", "pi32-apt"]
    assert {c.get("classname") for c in cases.values()} == {"default.amd64", "default.arm64", "default.arm/v7"}
    assert cases["pi64"].get("time") == "9.069"
    assert [c.tag for case in cases.values() for c in case] == ["system-out"] * 4
    assert root.find(".//skipped") is None


def test_an_expected_no_wheel_cell_passes_and_says_why_in_its_output() -> None:
    pip = _cases(_xml(samples.default()))["pi32-pip"]
    assert pip.find("failure") is None and pip.find("skipped") is None
    out = pip.findtext("system-out") or ""
    assert out.startswith("no-wheel (expected): PyPI has no NumPy==2.3.5 wheel for linux_armv7l")


def test_a_cell_not_as_expected_is_a_failure_with_reason_fix_and_evidence() -> None:
    root = _xml(samples.unexpected_night())
    assert root.find("testsuite").get("failures") == "2"  # type: ignore[union-attr]
    assert root.get("failures") == "2"
    failure = _cases(root)["pi64"].find("failure")
    assert failure is not None
    assert failure.get("type") == "crashed"
    assert failure.get("message") == "crashed (expected ok): `import numpy` died with SIGSEGV"
    text = failure.text or ""
    assert text.startswith("Fix: pin numpy<2.3 until OpenBLAS 0.3.31")
    assert "Evidence:\nFatal Python error: Segmentation fault" in text


def test_a_cell_that_works_against_expectation_fails_and_says_to_update_the_matrix() -> None:
    failure = _cases(_xml(samples.unexpected_night()))["pi32-apt"].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("ok (expected missing-shared-library): NumPy 1.24.2 imports")
    assert 'set expect = "ok" for pi32-apt' in (failure.text or "")


def test_versions_are_suite_properties() -> None:
    props = {p.get("name"): p.get("value") for p in _xml(samples.default()).iter("property")}
    assert props["npmatrix.version"] == "0.1.0"
    assert props["host.run_id"] == "c29ac3b144b8"
    assert props["pi64.numpy"] == "2.3.5"
    assert props["pi64.python"] == "3.11.2"
    assert props["pi64.blas"] == "scipy-openblas 0.3.30 (cortexa57)"
    assert props["pi32-apt.numpy"] == "1.24.2" and props["pi32-apt.installed"] == "debian"
    assert props["pi32-pip.numpy"] == "2.3.5 (not installed)"
    assert "pi32-pip.python" not in props  # never probed


def test_markup_and_control_characters_stay_well_formed() -> None:
    results = samples.default()
    pi64 = results.cell("pi64")
    evidence = (samples.HOSTILE, "\x1b[31mred\x1b[0m bell\x07 nul\x00 ]]> end")
    broken = samples.failed(pi64, Status.CRASHED, f"reason {samples.HOSTILE}", fix="f & g", evidence=evidence)
    failure = _cases(_xml(samples.with_cells(results, broken)))["pi64"].find("failure")
    assert failure is not None
    assert failure.get("message") == f"crashed (expected ok): reason {samples.HOSTILE}"
    assert failure.text is not None and "red bell nul ]]> end" in failure.text
    assert samples.HOSTILE in failure.text


def test_an_engine_error_is_a_failure_too() -> None:
    results = samples.default()
    colab = replace(results.cell("colab-like"), facts=None)
    broken = samples.failed(colab, Status.ENGINE_ERROR, "APIError: 500", fix="run `npmatrix doctor`")
    failure = _cases(_xml(samples.with_cells(results, broken)))["colab-like"].find("failure")
    assert failure is not None and failure.get("type") == "engine-error"
