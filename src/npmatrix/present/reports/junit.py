"""The JUnit XML report, so Jenkins, GitLab and GitHub test views show the matrix as tests.

One <testsuite> for the night (inside <testsuites>, which every reader takes), one <testcase> per cell:
classname "MATRIX.PLATFORM" (readers split a class name at its last dot into package and class, so cells group
by matrix, then platform), name the cell. A cell that is not as its matrix expected is a <failure> (message: the
status and reason; text: the fix and evidence), also when it works against expectation: the matrix is then out of
date. A cell that fails as expected (a 32-bit Pi without wheels) passes. Nothing is ever <skipped>.
A cell's own tests (test_command) are part of its testcase, not testcases of their own: whether they may fail is
the cell's `expect`, so a cell expected to fail its tests must not turn the CI view red. Its <system-out> says how
they ended, which failed by name, and the last lines they printed; its <failure> names them through the evidence.
The suite's <properties> carry the run and each cell's versions. Checked against tests/data/junit.xsd.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from npmatrix.judge.advice import Advisory
from npmatrix.present import labels
from npmatrix.present.owntests import CellTests, cell_tests
from npmatrix.present.reports.cells import cell_seconds, key_facts, matrix_name
from npmatrix.records.results import CellResult, Results, advisories
from npmatrix.text import strip_controls


def render_junit(results: Results) -> str:
    failures = sum(not r.as_expected for r in results.cells)
    seconds = sum(cell_seconds(r) for r in results.cells)
    counts = {"tests": str(len(results.cells)), "failures": str(failures), "errors": "0"}
    root = ET.Element("testsuites", {"name": "npmatrix", **counts, "time": _time(seconds)})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": _x(results.matrix),
            **counts,
            "skipped": "0",
            "time": _time(seconds),
            "timestamp": _x(results.started_at),
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in _properties(results):
        ET.SubElement(properties, "property", {"name": _x(name), "value": _x(value)})
    notes = advisories(results.cells)
    for r in results.cells:
        classname = f"{matrix_name(results)}.{r.placement.platform}"
        _testcase(suite, r, classname=classname, notes=notes.get(r.name, ()))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _testcase(suite: ET.Element, r: CellResult, *, classname: str, notes: tuple[Advisory, ...] = ()) -> None:
    attributes = {"name": _x(r.name), "classname": _x(classname), "time": _time(cell_seconds(r))}
    case = ET.SubElement(suite, "testcase", attributes)
    if not r.as_expected:
        failure = ET.SubElement(
            case, "failure", {"type": r.status.value, "message": _x(f"{labels.status(r)}: {r.verdict.reason}")}
        )
        failure.text = _x(_failure_text(r))
    out = ET.SubElement(case, "system-out")
    advice = [f"slow: {a.message}. Fix: {a.fix}" for a in notes]  # works, but slow: not a failure
    facts = [f"{k}: {v}" for k, v in key_facts(r)]
    out.text = _x("\n".join([f"{labels.status(r)}: {r.verdict.reason}", *advice, *facts, *_tests_text(cell_tests(r))]))


def _tests_text(tests: CellTests | None) -> list[str]:
    """The cell's own tests for its <system-out>: a blank line, then how they ended and what they printed."""
    if tests is None:
        return []
    lines = ["", tests.summary, f"tests command: {tests.command}"]
    lines += [f"tests note: {tests.note}"] if tests.note else []
    lines += [f"failed test: {name}" for name in tests.failed]
    lines += [f"failed test: and {tests.unnamed} more"] if tests.unnamed else []
    if tests.tail:
        lines += [f"tests output, last {len(tests.tail.splitlines())} lines:", tests.tail]
    return lines


def _failure_text(r: CellResult) -> str:
    parts = [f"Fix: {r.verdict.fix}" if r.verdict.fix else "No fix known."]
    if r.status.works:
        parts.append(f'It works now: set expect = "ok" for {r.name} in the matrix (it expects {r.cell.expect.value}).')
    if r.verdict.evidence:
        parts += ["", "Evidence:", *r.verdict.evidence]
    return "\n".join(parts)


def _properties(results: Results) -> list[tuple[str, str]]:
    props = [
        ("npmatrix.version", results.npmatrix_version),
        ("matrix", results.matrix),
        ("started_at", results.started_at),
        ("finished_at", results.finished_at or ""),
        ("complete", str(results.complete).lower()),
    ]
    props += [(f"host.{k}", str(v)) for k, v in sorted(results.host.items())]
    for r in results.cells:
        s = r.summary
        props.append((f"{r.name}.numpy", labels.numpy(r)))
        props.append((f"{r.name}.installed", labels.installed(r)))
        if s is not None:
            props += [(f"{r.name}.{k}", v) for k, v in _versions(r) if v]
        tests = cell_tests(r)
        if tests is not None:
            props.append((f"{r.name}.tests", tests.summary))
    return props


def _versions(r: CellResult) -> list[tuple[str, str | None]]:
    s = r.summary
    assert s is not None
    blas = labels.blas(r) if s.blas else None
    return [("python", s.python_version), ("libc", s.libc), ("pip", s.pip_version), ("blas", blas)]


def _time(seconds: float) -> str:
    return f"{seconds:.3f}"


def _x(text: str) -> str:
    """XML 1.0 cannot carry most control characters, escaped or not; ElementTree escapes the rest."""
    return strip_controls(text)
