"""`npmatrix explain`: subjects, ranked differences and the verdict, on a saved results file.

tests/data/results-default.json is a copy of a real run of matrix/default.toml (colab-like ok, pi64 ok,
pi32-pip no-wheel, pi32-apt ok); results/results.json itself is rewritten by every run, so tests never read it.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from npmatrix.cli import cli
from npmatrix.errors import ConfigError
from npmatrix.judge import facts as summary
from npmatrix.judge.classify import classify_probe
from npmatrix.judge.facts import summarize
from npmatrix.present import explain
from npmatrix.present.explain import Subject
from npmatrix.verdict import Status

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "data" / "results-default.json"


def cell(name: str) -> Subject:
    return explain.load_subject(f"{RESULTS}:{name}")


def keys(a: Subject, b: Subject) -> list[str]:
    return [d.key for d in explain.differences(a, b)]


def by_key(a: Subject, b: Subject) -> dict[str, tuple[str, str]]:
    return {d.key: (d.a_value, d.b_value) for d in explain.differences(a, b)}


def npmatrix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "npmatrix", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


# --- subjects ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "probed", "machine", "numpy", "install", "blas"),
    [
        ("colab-like", Status.OK, True, "x86_64", "2.3.5", "wheel", "scipy-openblas 0.3.30"),
        ("pi64", Status.OK, True, "aarch64", "2.3.5", "wheel", "scipy-openblas 0.3.30"),
        ("pi32-pip", Status.NO_WHEEL, False, "armv7l", None, "pip (not installed)", None),
        ("pi32-apt", Status.OK, True, "armv7l", "1.24.2", "debian", "libblas.so.3"),
    ],
)
def test_subject_from_results_cell(
    name: str, status: Status, probed: bool, machine: str, numpy: str | None, install: str, blas: str | None
) -> None:
    s = cell(name)
    assert (s.label, s.status, s.probed, s.machine) == (name, status, probed, machine)
    assert (s.numpy_version, s.install_source, s.blas) == (numpy, install, blas)
    assert s.source == f"{RESULTS}:{name}"


def test_a_cell_that_never_built_keeps_its_inputs_and_verdict() -> None:
    s = cell("pi32-pip")
    assert s.platform == "linux/arm/v7"
    assert s.numpy_requested == "==2.3.5"
    assert "linux_armv7l" in s.reason
    assert s.fix is not None and "piwheels" in s.fix
    assert s.evidence[0] == "No matching distribution found for numpy==2.3.5"
    assert (s.python_version, s.libc, s.wheel_tag, s.gflops) == (None, None, None, None)


def test_emulated_cells_name_the_cpu_qemu_emulates_not_the_hosts() -> None:
    assert cell("pi64").cpu_model == "QEMU cortex-a72"
    assert cell("colab-like").cpu_model == "AMD EPYC"


def test_probe_facts_come_from_the_report() -> None:
    s = cell("colab-like")
    assert s.wheel_tag == "cp311-cp311-manylinux_2_27_x86_64"
    assert s.pip_top_tag == "cp311-cp311-manylinux_2_36_x86_64"
    assert (s.python_version, s.libc, s.pip_version) == ("3.11.2", "glibc 2.36", "23.0.1")
    assert s.cpu_baseline == ("SSE", "SSE2", "SSE3")
    assert "AVX2" in s.cpu_features
    record = json.loads(RESULTS.read_text())["cells"][0]
    expected = next(
        r["gflops_median"]
        for run in record["probe"]["bench"]["runs"]
        if run["threads"] == "all"
        for r in run["results"]
        if (r["dtype"], r["n"]) == ("float64", 1024)
    )
    assert s.gflops == pytest.approx(expected)  # float64, all threads, the largest n


@pytest.mark.parametrize(
    ("not_found", "expected"),
    [
        ([], ("libopenblas.so.0",)),  # ldd saw nothing: the extension never loaded
        (["libopenblas.so.0"], ("libopenblas.so.0",)),  # both name it: once
        (["libgfortran.so.5"], ("libopenblas.so.0", "libgfortran.so.5")),  # the one that failed comes first
    ],
)
def test_missing_library_named_only_by_the_import_error_is_counted(
    not_found: list[str], expected: tuple[str, ...]
) -> None:
    stderr = "ImportError: libopenblas.so.0: cannot open shared object file: No such file or directory"
    assert summary.missing_libraries({"stderr_tail": stderr, "ldd": {"not_found": not_found}}) == expected


# --- differences ------------------------------------------------------------------------------------------


def test_colab_vs_pi32_pip_ranks_architecture_first() -> None:
    diffs = explain.differences(cell("colab-like"), cell("pi32-pip"))
    assert diffs[0].key == "architecture"
    assert (diffs[0].a_value, diffs[0].b_value) == ("x86_64", "armv7l")
    # pi32-pip never ran the probe: facts only a probe knows are unknown, not "different".
    assert not {"Python", "libc", "BLAS", "wheel tag"} & set(keys(cell("colab-like"), cell("pi32-pip")))


def test_colab_vs_pi32_apt_shows_numpy_install_and_blas() -> None:
    found = by_key(cell("colab-like"), cell("pi32-apt"))
    assert found["NumPy"] == ("2.3.5", "1.24.2")
    assert found["installed from"] == ("wheel", "debian")
    assert found["BLAS"] == ("scipy-openblas 0.3.30", "libblas.so.3")
    assert keys(cell("colab-like"), cell("pi32-apt"))[0] == "architecture"


def test_both_working_with_another_numpy_says_so_first() -> None:
    # The surprise of a 32-bit Pi: PyPI has no wheel of Colab's NumPy, and apt gives another version.
    first = explain.verdict(cell("colab-like"), cell("pi32-apt"))
    assert first.startswith(
        "Both colab-like and pi32-apt work, but not with the same NumPy: colab-like has 2.3.5 (wheel), "
        "pi32-apt has 1.24.2 (debian)."
    )
    same = explain.verdict(cell("colab-like"), cell("colab-like"))
    assert same.startswith("Both colab-like and colab-like work.")


@pytest.mark.parametrize("name", ["colab-like", "pi64", "pi32-pip", "pi32-apt"])
def test_equal_subjects_have_no_differences(name: str) -> None:
    assert explain.differences(cell(name), cell(name)) == []


@pytest.mark.parametrize(("a", "b"), [("colab-like", "pi32-apt"), ("pi64", "pi32-apt"), ("colab-like", "pi64")])
def test_differences_are_ranked_by_weight_and_omit_equal_values(a: str, b: str) -> None:
    diffs = explain.differences(cell(a), cell(b))
    assert [d.weight for d in diffs] == sorted((d.weight for d in diffs), reverse=True)
    assert all(d.a_value != d.b_value for d in diffs)
    assert "Python" not in [d.key for d in diffs]  # 3.11.2 on every cell


def test_benchmark_noise_is_not_a_difference() -> None:
    a = cell("colab-like")
    assert "GFLOP/s f64" not in keys(a, dataclasses.replace(a, gflops=90.0))
    assert "GFLOP/s f64" in keys(a, dataclasses.replace(a, gflops=9.0))


def test_what_numpy_says_of_itself_is_unknown_where_it_does_not_import() -> None:
    good = cell("colab-like")
    broken = dataclasses.replace(good, numpy_imports=False, cpu_baseline=(), cpu_features=(), gflops=None)
    assert keys(good, broken) == []
    assert keys(good, dataclasses.replace(good, cpu_baseline=("SSE",))) == ["CPU baseline"]


@pytest.mark.parametrize(
    ("change", "top"),
    [
        # the failing side's status decides which difference is the likely cause
        (
            {
                "status": Status.MISSING_SHARED_LIBRARY,
                "missing_libraries": ("libopenblas.so.0",),
                "install_source": "other",
                "wheel_tag": None,
                "blas": None,
            },
            "missing libraries",
        ),
        ({"status": Status.CPU_UNSUPPORTED, "cpu_baseline": ("SSE", "SSE2", "AVX2"), "wheel_tag": "x"}, "CPU baseline"),
        ({"status": Status.ABI_MISMATCH, "failing_imports": ("scipy",), "numpy_version": "2.0.0"}, "failing imports"),
        ({"status": Status.NO_WHEEL, "python_version": "3.14.0", "pip_version": "25.0"}, "Python"),
        ({"status": Status.WRONG_RESULT, "blas": "libblas.so.3", "install_source": "debian"}, "BLAS"),
        ({"machine": "aarch64", "wheel_tag": "cp311-cp311-manylinux_2_27_aarch64"}, "architecture"),
    ],
)
def test_likely_cause_ranks_first(change: dict[str, object], top: str) -> None:
    good = cell("colab-like")
    bad = dataclasses.replace(good, label="other", **change)  # type: ignore[arg-type]
    assert keys(good, bad)[0] == top
    assert keys(bad, good)[0] == top


# --- verdict ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [("colab-like", "pi32-pip"), ("pi32-pip", "colab-like")])
def test_verdict_names_the_failing_side_its_cause_and_fix(a: str, b: str) -> None:
    text = explain.verdict(cell(a), cell(b))
    assert text.startswith("colab-like works and pi32-pip does not (no-wheel)")
    assert "linux_armv7l" in text
    assert "Likely cause: architecture differs" in text
    assert 'Fix: use Debian\'s python3-numpy (install = "apt")' in text
    assert "piwheels" in text


def test_verdict_when_both_work_names_setup_and_speed() -> None:
    text = explain.verdict(cell("colab-like"), cell("pi32-apt"))
    assert text.startswith("Both colab-like and pi32-apt work, but not with the same NumPy")
    assert "biggest setup difference: architecture" in text
    assert "GFLOP/s" in text and "QEMU" in text


def test_verdict_when_both_fail_explains_each() -> None:
    broken = dataclasses.replace(
        cell("pi32-apt"),
        status=Status.MISSING_SHARED_LIBRARY,
        reason="NumPy needs libblas.so.3, which is not installed",
        fix="apt-get install libblas3",
        missing_libraries=("libblas.so.3",),
    )
    text = explain.verdict(broken, cell("pi32-pip"))
    assert text.startswith("Neither works.")
    assert "pi32-apt (missing-shared-library): NumPy needs libblas.so.3" in text
    assert "Fix: apt-get install libblas3." in text
    assert "pi32-pip (no-wheel): PyPI has no NumPy==2.3.5 wheel for linux_armv7l" in text


def test_verdict_without_a_fix_says_so() -> None:
    crashed = dataclasses.replace(cell("colab-like"), label="x", status=Status.CRASHED, reason="died")
    assert "No fix known" in explain.verdict(cell("colab-like"), crashed)


# --- the command, in process ------------------------------------------------------------------------------


def test_explain_text_has_a_table_and_the_verdict() -> None:
    result = CliRunner().invoke(cli, ["explain", f"{RESULTS}:colab-like", f"{RESULTS}:pi32-apt"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split()[:3] == ["architecture", "x86_64", "armv7l"] for line in lines)
    assert any(line.split()[:3] == ["NumPy", "2.3.5", "1.24.2"] for line in lines)
    assert any(line.split()[:4] == ["installed", "from", "wheel", "debian"] for line in lines)
    assert lines[-1].startswith("Both colab-like and pi32-apt work, but not with the same NumPy")


def test_explain_json_has_both_subjects_differences_and_verdict() -> None:
    result = CliRunner().invoke(cli, ["explain", f"{RESULTS}:colab-like", f"{RESULTS}:pi32-pip", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert set(document) == {"a", "b", "differences", "verdict"}
    assert (document["a"]["label"], document["a"]["status"]) == ("colab-like", "ok")
    assert (document["b"]["status"], document["b"]["probed"]) == ("no-wheel", False)
    assert document["differences"][0] == {
        "key": "architecture",
        "a_value": "x86_64",
        "b_value": "armv7l",
        "weight": document["differences"][0]["weight"],
        "why": document["differences"][0]["why"],
    }
    assert "linux_armv7l" in document["verdict"]


def test_same_label_on_both_sides_falls_back_to_the_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["explain", f"{RESULTS}:pi64", f"{RESULTS}:pi64", "--format", "json"])
    document = json.loads(result.output)
    assert document["a"]["label"] == f"{RESULTS}:pi64"
    assert document["differences"] == []


def test_a_results_file_with_one_cell_needs_no_cell_name(tmp_path: Path) -> None:
    document = json.loads(RESULTS.read_text())
    document["cells"] = [c for c in document["cells"] if c["name"] == "pi32-apt"]
    single = tmp_path / "one.json"
    single.write_text(json.dumps(document))
    assert explain.load_subject(str(single)).label == "pi32-apt"


def test_unknown_cell_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError, match=r"no cell 'pi32-pp'; did you mean 'pi32-pip'\?") as info:
        explain.load_subject(f"{RESULTS}:pi32-pp")
    assert info.value.where == str(RESULTS)


# --- bad input through `python -m npmatrix`: one line, exit code 2, no traceback ------------------------


def _write(path: Path, document: object) -> str:
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return str(path)


@pytest.mark.parametrize(
    ("make_a", "fragment"),
    [
        (lambda tmp: str(tmp / "nope.json"), "nope.json: no such file"),
        (lambda tmp: str(tmp / "nope.json:colab-like"), "nope.json: no such file"),
        (lambda tmp: f"{RESULTS}:pi32-pp", "did you mean 'pi32-pip'?"),
        (lambda tmp: f"{RESULTS}:zzz", "no cell 'zzz' (cells: colab-like, pi64, pi32-pip, pi32-apt)"),
        (lambda tmp: str(RESULTS), "holds 4 cells, name one as FILE:CELL"),
        (lambda tmp: _write(tmp / "x.json", "{not json"), "cannot read it as JSON"),
        (lambda tmp: _write(tmp / "x.json", {"schema_version": 1}), "neither a probe file"),
        (lambda tmp: _write(tmp / "x.json", {"schema_version": 9, "cells": []}), "schema_version 9, expected 2"),
        (
            lambda tmp: _write(tmp / "x.json", {"schema_version": 1, "kind": "probe", "verdict": {"status": "fine"}}),
            "not a valid probe file: the document must contain ['created_at', 'probe'] properties",
        ),
        (
            lambda tmp: _write(
                tmp / "x.json",
                {
                    "schema_version": 1,
                    "kind": "probe",
                    "created_at": "",
                    "probe": None,
                    "verdict": {"status": "fine", "reason": "", "fix": None, "evidence": []},
                },
            ),
            "not a valid probe file: verdict.status must be one of ['ok', ",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, make_a: Callable[[Path], str], fragment: str) -> None:
    done = npmatrix("explain", make_a(tmp_path), f"{RESULTS}:colab-like")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("npmatrix: error: ")
    assert fragment in line
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("raw", "status"),
    [("probe-host-amd64-numpy-ok.json", Status.OK), ("probe-host-numpy-segv.json", Status.CRASHED)],
)
def test_bare_probe_script_output_is_accepted_and_judged(raw: str, status: Status) -> None:
    # What a Pi user gets from `python3 probe.py --bench > my-pi.json` without installing npmatrix.
    subject = explain.load_subject(str(REPO / "tests" / "data" / raw))
    assert subject.status is status
    assert subject.machine == "x86_64"
    assert "architecture" in keys(subject, cell("pi32-apt"))


def test_wrong_result_on_qemu_max_is_blamed_on_the_blas_kernel() -> None:
    # Captured from the gallery: the arm64 wheel's OpenBLAS picks its SVE kernel on QEMU's "max" CPU and
    # returns non-finite float32 products; on a Cortex-A72 it picks cortexa57 and is right.
    captured = json.loads((REPO / "tests" / "data" / "gallery" / "pi64-qemu-max.json").read_text())
    report = captured["probe"]
    verdict = classify_probe(summarize(report))
    assert verdict.status is Status.WRONG_RESULT
    bad = explain.subject_from_probe(report, verdict, label="pi64-qemu-max", source="captured", platform="arm64")
    diffs = explain.differences(bad, cell("pi64"))
    assert diffs[0].key == "BLAS kernel"
    assert (diffs[0].a_value, diffs[0].b_value) == ("armv8sve", "cortexa57")
    assert "BLAS kernel" in explain.verdict(bad, cell("pi64"))


# --- where NumPy came from, and works-but-slow --------------------------------------------------------------


def test_origin_is_a_difference_and_advice_reaches_the_verdict() -> None:
    colab, apt = cell("colab-like"), cell("pi32-apt")
    assert (colab.origin_kind, apt.origin_kind) == ("pypi-wheel", "debian")
    assert by_key(colab, apt)["NumPy came from"] == ("pypi-wheel", "debian")
    text = explain.verdict(colab, apt)
    assert "pi32-apt works, but slowly: NumPy runs on the reference BLAS" in text
    assert "apt install libopenblas0" in text
    assert colab.advisories == () and "colab-like works, but slowly" not in text


def test_a_stale_numpy_is_said() -> None:
    apt = dataclasses.replace(cell("pi32-apt"), stale=True, origin="Debian's package (apt); the running NumPy ...")
    assert "pi32-apt's NumPy is not the one its metadata describes" in explain.verdict(cell("colab-like"), apt)
    assert "came from" in explain.host_summary(cell("pi32-apt"))
