"""A cell's own tests judged (judge/tests.py), on outputs captured from real runs in a cell's image.

tests/data/testruns/*.json: `docker run` of a bookworm amd64 cell image (NumPy 2.3.5, pytest 8.3.4, the sample
project tests/data/ownproject) with plan/testcommand's argv and environment, locked down as run/tests.py does;
the sigill and missing-library cases run tests/data/testruns/cap/ (a module that raises SIGILL as a kernel
using a missing instruction would, and a test that loads libgfortran.so.5, which the image lacks).
sigill-import.json is a real one: the trixie arm64 cell image of tests/data/lseproject (torch 2.10.0) run as
QEMU_CPU=cortex-a72, where `import torch` dies of SIGILL loading libc10.so (ARMv8.1 LSE atomics).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npmatrix.judge import tests
from npmatrix.judge.outcomes import TestRun
from npmatrix.plan import testcommand
from npmatrix.verdict import Status, Verdict

DATA = Path(__file__).resolve().parents[1] / "data" / "testruns"
OK = Verdict(status=Status.OK, reason="NumPy 2.3.5 imports and computes")
IMAGE = "npmatrix-cell:own-amd64-8ad3423733bc"


def _captured(name: str) -> TestRun:
    record = json.loads((DATA / f"{name}.json").read_text())
    return TestRun(
        command=record["command"],
        exit_code=record["exit_code"],
        stdout=record["stdout"],
        stderr=record["stderr"],
        duration_s=1.0,
    )


def _judged(name: str) -> tuple[tests.TestReport, Verdict]:
    report = tests.read(_captured(name))
    return report, tests.classify(report, OK, image=IMAGE, limit=600)


def test_a_failing_test_is_tests_failed_naming_it() -> None:
    report, verdict = _judged("failed")
    assert report.failed == ("tests/test_sample.py::test_fails_on_purpose",)
    assert report.counts == {"tests": 2, "failures": 1, "errors": 0, "skipped": 0}
    assert verdict.status is Status.TESTS_FAILED
    assert verdict.reason == "1 of 2 tests failed: tests/test_sample.py::test_fails_on_purpose"
    assert verdict.evidence[:2] == (
        "FAILED tests/test_sample.py::test_fails_on_purpose",
        "E       assert 2.0 == 3.0",
    )
    assert verdict.fix == (
        f"run them in the cell's image: docker run --rm {IMAGE} sh -c 'cd /tmp && pytest /opt/npmatrix-project/tests'"
    )
    assert testcommand.JUNIT_MARKER not in report.output_tail and "<testsuite" not in report.output_tail


def test_the_junit_file_names_the_failures_when_pytest_printed_no_summary() -> None:
    run = _captured("failed")
    run = TestRun(
        command=run.command,
        exit_code=1,
        stdout=run.stdout.replace("FAILED ", "failed "),
        stderr="",
        duration_s=1.0,
    )
    assert tests.read(run).failed == ("tests.test_sample.test_fails_on_purpose",)


def test_passing_tests_keep_the_probes_verdict_and_say_how_many_passed() -> None:
    report, verdict = _judged("passed")
    assert verdict.status is Status.OK
    assert verdict.reason == "NumPy 2.3.5 imports and computes; tests passed (1 passed)"
    assert report.failed == ()


def test_an_illegal_instruction_in_a_test_is_cpu_unsupported_naming_the_module() -> None:
    report, verdict = _judged("sigill")
    assert report.exit_code == 132
    assert verdict.status is Status.CPU_UNSUPPORTED
    assert "illegal instruction (SIGILL) in fastmod" in verdict.reason
    assert verdict.evidence[:2] == (
        "Fatal Python error: Illegal instruction",
        'File "/cap/fastmod.py", line 7 in kernel',
    )
    assert verdict.fix is not None and verdict.fix.startswith("install a build of fastmod for this CPU's baseline")


def test_a_sigill_while_importing_a_dependency_names_the_dependency_not_importlib() -> None:
    # faulthandler's innermost frames are importlib's own ("<frozen importlib._bootstrap_external>" ...
    # create_module): the dependency is the first frame that is a file, torch/__init__.py's `from torch._C import *`.
    report, verdict = _judged("sigill-import")
    assert report.exit_code == 132
    assert verdict.status is Status.CPU_UNSUPPORTED
    assert verdict.reason == (
        "a test died of an illegal instruction (SIGILL) in torch, while loading its compiled code:"
        " it uses an instruction this CPU lacks"
    )
    assert verdict.fix is not None
    assert verdict.fix.startswith("install a build of torch for this CPU's baseline, or another release of torch")
    assert "frozen" not in verdict.fix
    assert verdict.evidence == (
        "Fatal Python error: Illegal instruction",
        'File "/opt/venv/lib/python3.13/site-packages/torch/__init__.py", line 431 in <module>',
        'File "/opt/venv/lib/python3.13/site-packages/npmatrix_lse_sample/__init__.py", line 8 in <module>',
        'File "/opt/npmatrix-project/tests/test_lse_sample.py", line 1 in <module>',
    )


def test_a_missing_shared_library_names_it_and_its_debian_package() -> None:
    _, verdict = _judged("missing-library")
    assert verdict.status is Status.MISSING_SHARED_LIBRARY
    assert verdict.reason == "a test needs libgfortran.so.5, which is not installed"
    assert verdict.fix == "apt-get install libgfortran5 (the cell's apt = [...])"
    assert "libgfortran.so.5: cannot open shared object file" in verdict.evidence[0]


def test_a_command_that_is_not_found_is_tests_failed_with_the_shells_words() -> None:
    _, verdict = _judged("no-pytest")
    assert verdict.status is Status.TESTS_FAILED
    assert verdict.reason == "the test command exited 127: sh: 1: py.test2: not found"


def test_a_timeout_and_another_signal() -> None:
    timed_out = tests.read(TestRun(command="pytest", exit_code=None, stdout="", stderr="", duration_s=600.0))
    verdict = tests.classify(timed_out, OK, image=IMAGE, limit=600)
    assert verdict.status is Status.TIMEOUT
    assert "within test_timeout = 600 s" in verdict.reason
    segv = tests.read(TestRun(command="pytest", exit_code=139, stdout="", stderr="boom\n", duration_s=1.0))
    verdict = tests.classify(segv, OK, image=IMAGE, limit=600)
    assert (verdict.status, verdict.reason) == (Status.CRASHED, "the tests died with SIGSEGV")


def test_a_failed_probe_wins_and_test_skip_is_said() -> None:
    broken = Verdict(status=Status.IMPORT_FAILED, reason="`import numpy` failed")
    report = tests.TestReport.not_run("pytest", "tests not run: the probe ended import-failed")
    assert tests.classify(report, broken, image=IMAGE, limit=1) == broken
    skipped = tests.classify(tests.TestReport.not_run("pytest", "tests skipped by test_skip"), OK, image=IMAGE, limit=1)
    assert skipped.status is Status.OK and skipped.reason.endswith("; tests skipped by test_skip")


@pytest.mark.parametrize("name", ["failed", "passed", "sigill", "sigill-import", "missing-library", "no-pytest"])
def test_the_report_survives_json(name: str) -> None:
    report = tests.read(_captured(name))
    assert tests.TestReport.from_json(json.loads(json.dumps(report.to_json()))) == report
    assert len(report.output_tail.splitlines()) <= tests.TAIL_LINES


def test_a_junit_file_that_does_not_parse_is_ignored() -> None:
    run = TestRun(
        command="pytest",
        exit_code=1,
        stdout=f"x\n{testcommand.JUNIT_MARKER}\n<testsuite><oops",
        stderr="",
        duration_s=1.0,
    )
    assert tests.read(run).counts is None


_OUTPUT = st.text(max_size=3000) | st.lists(
    st.sampled_from(
        [
            "FAILED tests/test_a.py::test_b - assert 1 == 2",
            "ERROR ../../opt/npmatrix-project/tests/test_c.py",
            "Fatal Python error: Illegal instruction",
            '  File "/opt/venv/lib/python3.11/site-packages/fast/_k.py", line 3 in k',
            "ImportError: libfoo.so.1: cannot open shared object file: No such file or directory",
            f"\n{testcommand.JUNIT_MARKER}\n",
            '<testsuites><testsuite tests="x" failures="1"><testcase classname="a" name="b"><failure/>',
            "</testcase></testsuite></testsuites>",
            "E       assert 2.0 == 3.0",
            "\x1b[31mred\x1b[0m",
        ]
    ),
    max_size=200,
).map("\n".join)


@given(stdout=_OUTPUT, stderr=_OUTPUT, exit_code=st.none() | st.integers(min_value=0, max_value=255))
def test_any_output_is_read_and_judged_within_bounds(stdout: str, stderr: str, exit_code: int | None) -> None:
    run = TestRun(command="pytest {project}", exit_code=exit_code, stdout=stdout, stderr=stderr, duration_s=1.0)
    report = tests.read(run)
    assert len(report.output_tail.splitlines()) <= tests.TAIL_LINES
    assert len(report.failed) <= tests.MAX_NAMES
    assert all(not name.startswith("../") for name in report.failed)
    verdict = tests.classify(report, OK, image=IMAGE, limit=60)
    assert verdict.status is Status.OK if exit_code == 0 else verdict.status is not Status.OK
    assert verdict.reason and "\n" not in verdict.reason
    assert tests.TestReport.from_json(json.loads(json.dumps(report.to_json()))) == report
