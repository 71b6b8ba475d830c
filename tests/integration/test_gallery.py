"""The failure gallery on the real engine: each real-world failure reproduced and explained."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest
from conftest import REPO, CliRun, npmatrix

GALLERY = tomllib.loads((REPO / "matrix" / "gallery.toml").read_text())["cell"]


def test_every_gallery_cell_ends_as_expected(gallery_run: CliRun) -> None:
    got = {c["name"]: c["status"] for c in gallery_run.results["cells"]}
    want = {c["name"]: c.get("expect", "ok") for c in GALLERY}
    assert got == want
    assert gallery_run.returncode == 0, gallery_run.stdout


@pytest.mark.parametrize(
    ("cell", "in_reason", "in_fix"),
    [
        ("pi32-blas-missing", ["libblas.so.3"], ["apt-get install libblas3"]),
        ("numpy2-old-pandas", ["pandas", "compiled against NumPy 1.x", "NumPy 2.3.5"], ["pin numpy<2"]),
        ("py313-numpy126", ["Python 3.13 is too new for NumPy 1.26.4", "cp313"], ["numpy==2.1.0 or newer"]),
        ("old-pip", ["pip 20.2", "PEP 600", "platform is not the problem"], ["upgrade pip"]),
        ("pi-zero-armhf", ["board pi0", "ARMv6", "ARMv7", "nothing was built"], ["32-bit Raspberry Pi OS", "Raspbian"]),
        ("numpy24-old-x86", ["was built for a CPU baseline (X86_V2)", "2.4.6"], ["older NumPy"]),
        ("pi32-pip", ["linux_armv7l"], ["python3-numpy", "piwheels"]),
        ("pi64-qemu-max", ["float32", "QEMU's default CPU 'max'"], ["OPENBLAS_CORETYPE"]),
        ("debian-scipy-pip-numpy2", ["scipy.linalg", "compiled against NumPy 1.x", "NumPy 2.3.5"], ["numpy<2"]),
        (
            "numpy-sdist-no-compiler",
            ["building numpy 1.26.4 from source", "cp313", "no C compiler", "ERROR: Unknown compiler(s)"],
            ["install a wheel", "only_binary = true", "apt-get install gcc g++ python3-dev"],
        ),
        (
            "pip-system-python",
            ["PEP 668", "error: externally-managed-environment"],
            ["python3 -m venv", "apt install python3-numpy", "--break-system-packages"],
        ),
    ],
)
def test_reason_and_fix_are_specific(gallery_run: CliRun, cell: str, in_reason: list[str], in_fix: list[str]) -> None:
    result = gallery_run.cell(cell)
    for fragment in in_reason:
        assert fragment in result["reason"], result["reason"]
    for fragment in in_fix:
        assert fragment in (result["fix"] or ""), result["fix"]
    assert result["evidence"], "a verdict quotes the lines it was read from"


def test_the_slow_source_build_times_out_on_any_machine(gallery_run: CliRun) -> None:
    """The status is certain (an emulated NumPy build outlasts 480 s anywhere); how far the build got is not:
    from a cold apt cache on a slow mirror the build is stopped before pip starts, otherwise in the compile,
    and only then can the reason name the source build."""
    cell = gallery_run.cell("numpy-sdist-slow-build")
    assert cell["status"] == "timeout" and "480 s" in cell["reason"] and "build_timeout" in (cell["fix"] or "")
    assert cell["evidence"], "a verdict quotes the lines it was read from"
    if "from source" in cell["reason"]:
        for fragment in ["still running after 480 s", "building numpy 1.26.4 from source", "did not finish", "cp313"]:
            assert fragment in cell["reason"], cell["reason"]
        for fragment in ["install a wheel", "piwheels", "python3-numpy"]:
            assert fragment in cell["fix"], cell["fix"]


def test_abi_mismatch_evidence_is_numpys_own_message(gallery_run: CliRun) -> None:
    cell = gallery_run.cell("numpy2-old-pandas")
    assert cell["probe"]["numpy"]["import_ok"] is True  # NumPy itself is fine ...
    pandas = next(i for i in cell["probe"]["imports"] if i["module"] == "pandas")
    assert pandas["ok"] is False  # ... the extension built for NumPy 1.x is not
    assert "NumPy 1.x" in pandas["stderr_tail"] or "dtype size changed" in pandas["stderr_tail"]


def test_the_cpu_model_is_what_numpy_saw(gallery_run: CliRun) -> None:
    old_x86 = gallery_run.cell("numpy23-old-x86")
    assert old_x86["status"] == "ok"
    features = set(old_x86["probe"]["numpy"]["cpu_features_found"])
    assert "SSE41" in features and "SSE42" not in features and "POPCNT" not in features
    native = gallery_run.cell("colab-like")
    assert {"SSE42", "POPCNT"} <= set(native["probe"]["numpy"]["cpu_features_found"])
    pi64 = gallery_run.cell("pi64-qemu-max")
    assert pi64["placement"]["emulator"] == "binfmt" and pi64["placement"]["qemu_cpu"] is None  # QEMU's max
    assert "SVE" in pi64["probe"]["numpy"]["cpu_features_found"]  # what made OpenBLAS pick its SVE kernels


def test_same_numpy_version_works_on_colab_and_not_on_the_pi(gallery_run: CliRun) -> None:
    colab, pi = gallery_run.cell("colab-like"), gallery_run.cell("pi32-pip")
    assert colab["inputs"]["numpy"] == pi["inputs"]["numpy"] == "==2.3.5"
    assert (colab["status"], pi["status"]) == ("ok", "no-wheel")


def _gemm(cell: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for run in cell["probe"]["bench"]["runs"] for r in run["results"]]


def test_wrong_result_is_caught_by_the_numerical_check_not_the_speed(gallery_run: CliRun) -> None:
    bad = [r for r in _gemm(gallery_run.cell("pi64-qemu-max")) if not r["ok"]]
    assert bad and all(r["dtype"] == "float32" for r in bad)
    assert all(r["ok"] for r in _gemm(gallery_run.cell("pi64-qemu-max")) if r["dtype"] == "float64")


def test_explain_names_the_cause_of_the_problem_statement(gallery_run: CliRun) -> None:
    results = gallery_run.out_dir / "results.json"
    explained = npmatrix("explain", f"{results}:colab-like", f"{results}:pi32-pip", out_dir=gallery_run.out_dir)
    assert explained.returncode == 0, explained.stderr
    verdict = explained.stdout.strip().splitlines()[-1]
    assert verdict.startswith("colab-like works and pi32-pip does not (no-wheel)")
    assert "architecture" in verdict and "linux_armv7l" in verdict and "python3-numpy" in verdict
    as_json = npmatrix(
        "explain",
        f"{results}:colab-like",
        f"{results}:numpy24-old-x86",
        "--format",
        "json",
        out_dir=gallery_run.out_dir,
    )
    document = json.loads(as_json.stdout)
    assert document["b"]["status"] == "cpu-unsupported"
    assert "X86_V2" in document["verdict"]


def test_works_but_slow_the_reference_blas_cell_carries_its_advisory(gallery_run: CliRun) -> None:
    refblas, openblas = gallery_run.cell("pi32-apt-refblas"), gallery_run.cell("pi32-apt-openblas")
    assert (refblas["status"], openblas["status"]) == ("ok", "ok")  # advice, not a failure status
    (note,) = refblas["advisories"]
    assert note["kind"] == "reference-blas"
    assert "apt install libopenblas0" in note["fix"] and "libblas.so.3-arm-linux-gnueabihf" in note["fix"]
    assert "advisories" not in openblas
    assert openblas["probe"]["numpy"]["blas_runtime"]["openblas"]["corename"]  # the same NumPy, on OpenBLAS
    assert "ok (slow: reference BLAS)" in gallery_run.stdout
    assert "pi32-apt-refblas: NumPy runs on the reference BLAS" in gallery_run.stdout


def test_the_probe_reports_where_numpy_came_from(gallery_run: CliRun) -> None:
    origins = {
        c["name"]: c["probe"]["numpy"]["install"]["origin"]
        for c in gallery_run.results["cells"]
        if c["probe"] and c["probe"]["numpy"]["found"]
    }
    assert origins["colab-like"] == "pypi-wheel" and origins["numpy2-old-pandas"] == "pypi-wheel"
    assert origins["pi32-apt-refblas"] == origins["pi32-blas-missing"] == "debian"
    colab = gallery_run.cell("colab-like")["summary"]["origin"]
    assert colab["installer"] == "pip" and colab["running_version"] == colab["installed_version"] == "2.3.5"
    results = gallery_run.out_dir / "results.json"
    explained = npmatrix("explain", f"{results}:colab-like", f"{results}:pi32-apt-refblas", out_dir=gallery_run.out_dir)
    assert "NumPy came from" in explained.stdout and "works, but slowly" in explained.stdout


def test_a_source_build_failure_quotes_the_build_not_pips_summary(gallery_run: CliRun) -> None:
    cell = gallery_run.cell("numpy-sdist-no-compiler")
    assert any("meson.build:1:0: ERROR: Unknown compiler(s)" in line for line in cell["evidence"])
    assert "subprocess-exited-with-error" not in cell["reason"]
    assert "metadata-generation-failed" not in cell["reason"]


def test_pip_without_a_venv_used_debians_own_python(gallery_run: CliRun) -> None:
    cell = gallery_run.cell("pip-system-python")
    assert cell["inputs"]["venv"] is False
    log = (gallery_run.out_dir / "logs" / "pip-system-python.build.log").read_text()
    assert "from /usr/lib/python3/dist-packages/pip (python 3.11)" in log  # Debian's pip, not a venv's
