"""`npmatrix probe` on this machine, for real through `python -m npmatrix`, and `explain` on what it wrote.

No engine: the probe runs the standalone scripts with this Python. A "broken" NumPy is a fake numpy package
first on PYTHONPATH whose import fails the way a wheel-less OpenBLAS build does on a Pi.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from npmatrix.cli import cli
from npmatrix.host import process
from npmatrix.judge.outcomes import ProbeRun
from npmatrix.records import probe_file
from npmatrix.run import probe

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
RESULTS = DATA / "results-default.json"
OPENBLAS_ERROR = "libopenblas.so.0: cannot open shared object file: No such file or directory"


def npmatrix(*args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "npmatrix", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("good") / "good.json"
    return out, npmatrix("probe", "--out", str(out))


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("broken")
    (tmp / "fake" / "numpy").mkdir(parents=True)
    (tmp / "fake" / "numpy" / "__init__.py").write_text(f"raise ImportError({OPENBLAS_ERROR!r})\n")
    out = tmp / "broken.json"
    return out, npmatrix("probe", "--out", str(out), pythonpath=tmp / "fake")


def _load(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    assert isinstance(document, dict)
    return document


# --- the probe file ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["good", "broken"])
def test_probe_file_shape(which: str, request: pytest.FixtureRequest) -> None:
    path, _ = request.getfixturevalue(which)
    document = _load(path)
    assert set(document) == {"schema_version", "kind", "created_at", "probe", "verdict"}
    assert (document["schema_version"], document["kind"]) == (1, "probe")
    assert datetime.fromisoformat(document["created_at"]).tzinfo is not None
    assert document["probe"]["probe_version"] == 1
    assert set(document["verdict"]) == {"status", "reason", "fix", "evidence"}
    assert not list(path.parent.glob(".*.tmp"))  # write_atomic left no temporary file behind


def test_good_host_probe_exits_0_and_summarizes(good: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    path, done = good
    assert done.returncode == 0, done.stderr
    verdict = _load(path)["verdict"]
    assert verdict["status"] == "ok"
    # No --bench: importing is the whole check, not "the benchmark produced no results".
    assert "add --bench" in verdict["reason"]
    rows = dict(line.split(None, 1) for line in done.stdout.splitlines() if line.strip())
    assert rows["machine"] == _load(path)["probe"]["platform"]["machine"]
    assert rows["verdict"].startswith("ok: NumPy ")
    assert "installed as" in rows["NumPy"]
    assert "GFLOP/s" not in done.stdout


def test_broken_numpy_is_a_verdict_not_a_crash(broken: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    # Also guards that npmatrix itself never imports numpy: the fake one would raise in the parent too.
    path, done = broken
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    verdict = _load(path)["verdict"]
    assert verdict["status"] == "missing-shared-library"
    assert "libopenblas.so.0" in verdict["reason"]
    assert "libopenblas0" in verdict["fix"]
    assert any(OPENBLAS_ERROR in line for line in verdict["evidence"])
    assert "libopenblas.so.0" in done.stdout  # the "missing libraries" row
    assert "apt-get install libopenblas0" in done.stdout


def test_bench_and_json_format(tmp_path: Path) -> None:
    done = npmatrix("probe", "--bench", "--sizes", "32,64", "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["kind"] == "probe" and document["verdict"]["status"] == "ok"
    sizes = {r["n"] for run in document["probe"]["bench"]["runs"] for r in run["results"]}
    assert sizes == {32, 64}
    assert "GEMM is numerically right" in document["verdict"]["reason"]


@pytest.mark.parametrize("sizes", ["abc", "0,64", ""])
def test_bad_sizes_exit_2_without_traceback(sizes: str) -> None:
    done = npmatrix("probe", "--sizes", sizes)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--sizes" in done.stderr


# --- explain on probe files -------------------------------------------------------------------------------


def test_explain_probe_file_vs_results_cell(good: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    path, _ = good
    done = npmatrix("explain", str(path), f"{RESULTS}:pi32-pip", "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert (document["a"]["label"], document["b"]["label"]) == ("good", "pi32-pip")
    assert document["differences"][0]["key"] == "architecture"
    assert document["verdict"].startswith("good works and pi32-pip does not (no-wheel)")


def test_explain_broken_vs_good_names_the_missing_library(
    good: tuple[Path, subprocess.CompletedProcess[str]], broken: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    done = npmatrix("explain", str(broken[0]), str(good[0]))
    assert done.returncode == 0, done.stderr
    verdict = done.stdout.strip().splitlines()[-1]
    assert verdict.startswith("good works and broken does not (missing-shared-library)")
    assert "Likely cause: missing libraries differs (broken: libopenblas.so.0; good: none)" in verdict
    assert "Fix: apt-get install libopenblas0." in verdict


# --- the verdict when the probe itself fails (in process, run_on_host replaced) ---------------------------


def _fake_run(monkeypatch: pytest.MonkeyPatch, run: ProbeRun) -> None:
    monkeypatch.setattr(probe, "run_on_host", lambda **kwargs: run)


@pytest.mark.parametrize(
    ("run", "status"),
    [
        (
            probe_file.parse_output(
                exit_code=0, stdout=(DATA / "probe-host-numpy-segv.json").read_text(), stderr="", duration_s=1.0
            ),
            "crashed",
        ),
        (
            probe_file.parse_output(exit_code=1, stdout="", stderr="Traceback ...\nMemoryError", duration_s=1.0),
            "crashed",
        ),
        (
            probe_file.parse_output(
                exit_code=0, stdout=(DATA / "probe-host-amd64-numpy-ok.json").read_text(), stderr="", duration_s=1.0
            ),
            "ok",
        ),
    ],
)
def test_probe_verdicts_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run: ProbeRun, status: str) -> None:
    _fake_run(monkeypatch, run)
    out = tmp_path / "p.json"
    result = CliRunner().invoke(cli, ["probe", "--out", str(out)])
    assert result.exit_code == (0 if status == "ok" else 1), result.output
    assert _load(out)["verdict"]["status"] == status


def test_a_probe_that_hangs_is_a_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def hang(argv: list[str], *, timeout: float) -> process.Captured:
        return process.Captured(exit_code=None, stdout="", stderr="stuck in import numpy", duration_s=timeout)

    monkeypatch.setattr(process, "capture", hang)
    out = tmp_path / "p.json"
    result = CliRunner().invoke(cli, ["probe", "--out", str(out)])
    assert result.exit_code == 1
    assert _load(out)["verdict"]["status"] == "timeout"
    assert _load(out)["probe"] is None
