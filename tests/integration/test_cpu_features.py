"""A dependency that needs a CPU feature a Pi 4 lacks and a Pi 5 has: the sample project tests/data/lseproject
(one test, on NumPy and torch==2.10.0) in two emulated arm64 cells that differ only in their CPU model.

torch 2.10.0's aarch64 wheel bundles a mimalloc built with ARMv8.1 LSE atomics in torch/lib/libc10.so; its
initialiser (`ldaddal` in _mi_options_init) runs when the library is loaded, so `import torch` dies of SIGILL
on the Pi 4's Cortex-A72 (ARMv8.0) and works on the Pi 5's Cortex-A76 (ARMv8.2). Reported on real boards:
pytorch/pytorch#174344 (Cortex-A53, Debian trixie, Python 3.13) and #176993 (Raspberry Pi 4); reproduced under
qemu-user in vectorize-io/hindsight#4201. QEMU 7.2's cortex-a72 model has no LSE, its cortex-a76 has it
(measured: AT_HWCAP in /proc/self/auxv of a trixie arm64 container has HWCAP_ATOMICS, and asimddp, asimdhp,
lrcpc, under QEMU_CPU=cortex-a76 only), so the emulated cells fail and pass as the boards do.

Measured here (2 cores, QEMU 7.2): a cold build 172 s (pip installs the 146 MB torch wheel under emulation;
the pi5 image reuses every layer, 0.5 s), the pi4 cell's tests 2.6 s, the pi5 cell's 11.7 s; 3.6 min in all.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, CliRun, npmatrix

SAMPLE = REPO / "tests" / "data" / "lseproject"


@pytest.fixture(scope="module")
def lse_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[CliRun, float]:
    work = tmp_path_factory.mktemp("cpu-features")
    cells = "".join(
        f"""
[[cell]]
name = "lse-{board}"
platform = "arm64"
cpu = "{board}"
project = "{SAMPLE}"
test_command = "pytest {{project}}/tests"
{expect}
"""
        for board, expect in (("pi4", 'expect = "cpu-unsupported"'), ("pi5", ""))
    )
    # The same import as the probe's own `imports`: judged torch's, not NumPy's. Same project, test_requires and
    # test_command (never run: the probe fails first), so its image shares every layer.
    cells += f"""
[[cell]]
name = "lse-pi4-imports"
platform = "arm64"
cpu = "pi4"
project = "{SAMPLE}"
test_command = "pytest {{project}}/tests"
imports = ["torch"]
expect = "cpu-unsupported"
"""
    matrix = work / "matrix.toml"
    matrix.write_text(f'[defaults]\nsuite = "trixie"\nnumpy = "2.3.5"\ntest_requires = ["pytest==8.3.4"]\n{cells}')
    out = work / "out"
    started = time.monotonic()
    # --jobs 1: the pi5 cell builds after the pi4 one and takes every layer from its cache (one torch install).
    run = npmatrix("run", "--matrix", str(matrix), "--out", str(out), "--jobs", "1", out_dir=out, timeout=1500)
    return run, time.monotonic() - started


def test_the_pi4_cell_ends_cpu_unsupported_and_the_pi5_cell_ok(lse_run: tuple[CliRun, float]) -> None:
    run, seconds = lse_run
    got = {c["name"]: c["status"] for c in run.results["cells"]}
    assert got == {"lse-pi4": "cpu-unsupported", "lse-pi5": "ok", "lse-pi4-imports": "cpu-unsupported"}, run.stdout
    assert run.returncode == 0, run.stderr[-2000:]
    assert seconds < 900, f"took {seconds:.0f} s"


def test_the_pi4_cell_names_torch_and_the_fix(lse_run: tuple[CliRun, float]) -> None:
    cell = lse_run[0].cell("lse-pi4")
    assert cell["placement"]["qemu_cpu"] == "cortex-a72"
    assert cell["reason"] == (
        "a test died of an illegal instruction (SIGILL) in torch, while loading its compiled code:"
        " it uses an instruction this CPU lacks"
    )
    assert cell["fix"].startswith(
        "install a build of torch for this CPU's baseline, or another release of torch (an older one, or a newer"
        " one that fixed it); run them in the cell's image: docker run --rm npmatrix-cell:lse-pi4-"
    )
    assert cell["evidence"][0] == "Fatal Python error: Illegal instruction"
    assert cell["evidence"][1].startswith('File "/opt/venv/lib/python3.13/site-packages/torch/__init__.py", line ')
    assert cell["tests"]["exit_code"] == 128 + 4  # SIGILL
    assert "Fatal Python error: Illegal instruction" in Path(cell["logs"]["tests"]).read_text()


def test_numpy_itself_works_on_the_pi4(lse_run: tuple[CliRun, float]) -> None:
    """The probe passed before the tests ran: the dependency fails, not NumPy."""
    probe = lse_run[0].cell("lse-pi4")["probe"]
    assert probe["platform"]["machine"] == "aarch64"
    assert probe["numpy"]["version"] == "2.3.5" and probe["numpy"]["import_ok"] and probe["bench"]["ran"]


def test_numpy_sees_an_armv8_0_cpu_on_the_pi4_and_an_armv8_2_one_on_the_pi5(lse_run: tuple[CliRun, float]) -> None:
    """NumPy does not test for LSE, but for its ARMv8.2 siblings: dot product and half-precision arithmetic,
    which the A76 has and the A72 lacks (the emulated models are the real cores' feature sets)."""
    found = {n: set(lse_run[0].cell(n)["probe"]["numpy"]["cpu_features_found"]) for n in ("lse-pi4", "lse-pi5")}
    assert {"ASIMDDP", "ASIMDHP"} <= found["lse-pi5"]
    assert not {"ASIMDDP", "ASIMDHP"} & found["lse-pi4"]


def test_the_pi5_cell_runs_the_same_test_and_it_passes(lse_run: tuple[CliRun, float]) -> None:
    cell = lse_run[0].cell("lse-pi5")
    assert cell["placement"]["qemu_cpu"] == "cortex-a76"
    assert cell["reason"].endswith("; tests passed (1 passed)")
    tests = cell["tests"]
    assert tests["exit_code"] == 0 and tests["failed"] == []
    assert tests["counts"] == {"tests": 1, "failures": 0, "errors": 0, "skipped": 0}


def test_the_two_cells_differ_only_in_the_cpu_model(lse_run: tuple[CliRun, float], docker_client: Any) -> None:
    """Same filesystem layers (the LABEL that names the cell adds none): the CPU model alone decides."""
    run = lse_run[0]
    images = [docker_client.images.get(run.cell(n)["image"]["tag"]) for n in ("lse-pi4", "lse-pi5")]
    assert images[0].attrs["RootFS"]["Layers"] == images[1].attrs["RootFS"]["Layers"]
    assert run.cell("lse-pi5")["durations_s"]["build"] < 60  # every layer from the pi4 cell's build


def test_torch_in_the_probes_imports_is_judged_torchs_fault_not_numpys(lse_run: tuple[CliRun, float]) -> None:
    cell = lse_run[0].cell("lse-pi4-imports")
    assert cell["reason"].startswith(
        "`import torch` died of an illegal instruction (SIGILL): torch uses instructions this CPU lacks;"
        " NumPy 2.3.5 itself imports (as Raspberry Pi 4"
    )
    assert cell["fix"] == (
        "install a build of torch for this CPU's baseline, or another release of torch (an older one, or a newer"
        " one that fixed it)"
    )
    assert cell["probe"]["imports"][0]["module"] == "torch" and cell["probe"]["imports"][0]["signal"] == "SIGILL"
    assert cell["tests"]["skipped"].startswith("tests not run"), cell["tests"]
