"""The key line of a failed build (buildlog.key_line) and whether pip was building from source
(buildlog.source_build), read from real build logs captured from cells (tests/data/buildlogs) and from
messages quoted verbatim from public reports. Pure: no engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from npmatrix.judge import buildlog

LOGS = Path(__file__).resolve().parents[1] / "data" / "buildlogs"


def _log(name: str) -> str:
    return (LOGS / name).read_text()


def test_pep668_refusal_is_the_key_line_not_the_executor_summary() -> None:
    key = buildlog.key_line(_log("pep668-bookworm-amd64.build.log"))
    assert key is not None
    assert key.line == "error: externally-managed-environment"
    assert "PEP 668" in key.cause
    for fix in ("venv", "apt install python3-numpy", "--break-system-packages"):
        assert fix in key.fix


def test_pep668_log_is_not_a_source_build() -> None:
    assert buildlog.source_build(_log("pep668-bookworm-amd64.build.log")) is None


# One line each, as printed in real build logs (BuildKit's "#7 12.34 " prefix and pip's indentation included
# where they occur): the rule, the cause's key word and a fix word it must carry.
VERBATIM = [
    pytest.param(
        "#7 61.2       ../meson.build:1:0: ERROR: Unknown compiler(s): [['cc'], ['gcc'], ['clang'], ['nvc'], "
        "['pgcc'], ['icc'], ['icx']]",
        "ERROR: Unknown compiler(s): [['cc'], ['gcc'], ['clang'], ['nvc'], ['pgcc'], ['icc'], ['icx']]",
        "no C compiler",
        "gcc g++ python3-dev",
        id="meson-no-compiler",
    ),
    pytest.param(
        "      error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory",
        "error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory",
        "no C compiler",
        "wheel",
        id="setuptools-no-compiler",
    ),
    pytest.param(
        "      numpy/core/src/multiarray/_multiarray_tests.c:1:10: fatal error: Python.h: No such file or directory",
        "fatal error: Python.h: No such file or directory",
        "python3-dev",
        "python3-dev",
        id="missing-python-headers",
    ),
    pytest.param(
        "      Did not find CMake 'cmake'",
        "Did not find CMake 'cmake'",
        "CMake",
        "cmake",
        id="no-cmake",
    ),
    pytest.param(
        "      c++: fatal error: Killed signal terminated program cc1plus",
        "Killed signal terminated program cc1plus",
        "out of memory",
        "swap",
        id="compiler-oom",
    ),
    pytest.param(
        "#9 3.1 ERROR: No matching distribution found for npmatrix-demo==0.1",
        "ERROR: No matching distribution found for npmatrix-demo==0.1",
        "no release",
        "find_links",
        id="own-requirement-not-found",
    ),
]


@pytest.mark.parametrize(("log_line", "line", "cause", "fix"), VERBATIM)
def test_each_known_cause_is_found_below_pips_summaries(log_line: str, line: str, cause: str, fix: str) -> None:
    # pip's own summaries come after the cause and say "error" too: they must not be taken for it.
    log = "\n".join(
        [
            "#7 5.700 Collecting numpy==1.26.4",
            log_line,
            "#7 70.1       [end of output]",
            "#7 70.1   note: This error originates from a subprocess, and is likely not a problem with pip.",
            "#7 70.1 error: metadata-generation-failed",
            "#7 ERROR: executor failed running [/bin/sh -c python3 -m pip install numpy]: exit code: 1",
        ]
    )
    key = buildlog.key_line(log)
    assert key is not None
    assert key.line == line
    assert cause in key.cause
    assert fix in key.fix


def test_a_log_without_a_known_cause_has_no_key_line() -> None:
    assert buildlog.key_line("#5 ERROR: executor failed running [/bin/sh -c false]: exit code: 1\n") is None


def test_the_sdist_pip_builds_is_named() -> None:
    log = (
        "#7 5.700 Collecting numpy==1.26.4\n#7 5.979   Downloading numpy-1.26.4.tar.gz (15.8 MB)\n"
        "#7 25.12   Installing build dependencies: started\n"
    )
    assert buildlog.source_build(log) == buildlog.SourceBuild(project="numpy", version="1.26.4")
    assert buildlog.SourceBuild(project="numpy", version="1.26.4").label == "numpy 1.26.4"


def test_a_wheel_install_is_not_a_source_build() -> None:
    log = (
        "#7 5.7 Collecting numpy==2.3.5\n#7 5.9   Downloading numpy-2.3.5-cp311-cp311-manylinux_2_27_x86_64."
        "manylinux_2_28_x86_64.whl (16.6 MB)\n#7 9.1 Installing collected packages: numpy\n"
    )
    assert buildlog.source_build(log) is None


def test_a_numpy_sdist_without_a_compiler_names_mesons_line_not_pips_error() -> None:
    # Captured from the gallery cell numpy126-sdist-no-compiler: pip's "error: subprocess-exited-with-error"
    # comes 14 lines before meson's own words.
    log = _log("sdist-no-compiler-trixie-amd64.build.log")
    key = buildlog.key_line(log)
    assert key is not None
    assert key.line == "ERROR: Unknown compiler(s): [['cc'], ['gcc'], ['clang'], ['nvc'], ['pgcc'], ['icc'], ['icx']]"
    assert key.quote.startswith("#6 121.8       ../meson.build:1:0: ERROR: Unknown compiler(s)")
    assert buildlog.source_build(log) == buildlog.SourceBuild(project="numpy", version="1.26.4")


def test_a_source_build_cut_off_by_the_timeout_is_still_a_source_build() -> None:
    log = _log("sdist-timeout-trixie-amd64.build.log")
    assert buildlog.key_line(log) is None
    assert buildlog.source_build(log) == buildlog.SourceBuild(project="numpy", version="1.26.4")
