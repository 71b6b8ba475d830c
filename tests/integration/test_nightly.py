"""`make nightly`, twice, against the real engine: shards, merge, reports, gate, history; then a regression.

Kept small, because the engine is shared: two cells of the built-in bookworm matrix, one native (colab-like)
and one cheap emulated cell whose install fails fast under QEMU (pi32-pip, no-wheel). The first night runs
as two shards and merges them; the second runs unsharded and reuses the images. Their diff must show the
same two cells, unchanged: shards merged equal the unsharded run, on the real engine.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLI_ENV

from npmatrix.records import history, results
from npmatrix.records.results import ResultsFile
from npmatrix.verdict import Status, Verdict

REPO = Path(__file__).resolve().parents[2]

MATRIX = """\
# Two cells of the built-in bookworm matrix (same inputs, so the same images).
[defaults]
suite = "bookworm"

[[cell]]
name = "colab-like"
platform = "amd64"
numpy = "2.3.5"
note = "x86_64 with a manylinux wheel from PyPI, as on Colab"

[[cell]]
name = "pi32-pip"
platform = "arm/v7"
cpu = "pi4"
numpy = "2.3.5"
only_binary = true
expect = "no-wheel"
note = "32-bit Raspberry Pi OS: PyPI has no linux_armv7l NumPy wheels, so pip would build from source"
"""


@dataclasses.dataclass(frozen=True)
class Night:
    returncode: int
    output: str
    dir: Path

    @property
    def results(self) -> results.Results:
        return results.load(self.dir / "results.json")

    @property
    def diff(self) -> str:
        return (self.dir / "diff.txt").read_text()


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Night, Night]:
    base = tmp_path_factory.mktemp("nightly")
    matrix_file = base / "nightly.toml"
    matrix_file.write_text(MATRIX)
    night_dir = base / "night"

    def make_nightly(shards: int) -> Night:
        argv = [
            "make",
            "--no-print-directory",
            "nightly",
            f"NIGHTLY_MATRIX={matrix_file}",
            f"NIGHTLY_DIR={night_dir}",
            f"NIGHTLY_SHARDS={shards}",
            # No GEMM gating here (a drop never exceeds 100%): other engineers' builds share these 2 cores,
            # and two nights 80 s apart measured colab-like's GFLOP/s 51-69% lower, beyond both runs' IQRs,
            # with nothing changed. The GEMM rule is unit-tested; the rows are still compared (checked below).
            "NIGHTLY_PERF_THRESHOLD=100",
        ]
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        return Night(done.returncode, done.stdout + done.stderr, night_dir)

    first = make_nightly(2)
    first_copy = dataclasses.replace(first, dir=base / "first")
    # The second night writes into the same NIGHTLY_DIR: keep what the first one left for the checks below.
    subprocess.run(["cp", "-a", str(night_dir), str(first_copy.dir)], check=True)
    second = make_nightly(1)
    return first_copy, second


def test_the_first_night_runs_two_shards_merges_and_starts_the_history(nights: tuple[Night, Night]) -> None:
    first, _ = nights
    assert first.returncode == 0, first.output[-3000:]
    assert sorted(p.name for p in (first.dir / "shards").iterdir()) == ["shard-1-of-2", "shard-2-of-2"]
    shard_cells = [
        [c.name for c in results.load(first.dir / "shards" / s / "results.json").cells]
        for s in ("shard-1-of-2", "shard-2-of-2")
    ]
    assert sorted(shard_cells) == [["colab-like"], ["pi32-pip"]]  # one each, the emulated one alone
    night = first.results
    assert [c.name for c in night.cells] == ["colab-like", "pi32-pip"]  # the matrix's order
    assert [c.status for c in night.cells] == [Status.OK, Status.NO_WHEEL]
    assert night.complete and len(night.host["merged_from"]) == 2
    assert "cells: 0 unchanged, 2 new" in first.diff and first.diff.splitlines()[-1] == "no regression"
    assert "nightly-gate: exit 0" in first.output


def test_the_second_night_reuses_images_and_diffs_clean_against_the_first(nights: tuple[Night, Night]) -> None:
    first, second = nights
    assert second.returncode == 0, second.output[-3000:]
    assert second.results.cell("colab-like").image.reused  # the first night built it
    kept = history.load_recent(second.dir / "history")
    assert [n.started_at for n in kept] == [first.results.started_at, second.results.started_at]
    # Sharded night 1 and unsharded night 2: the same cells, nothing changed.
    assert "cells: 2 unchanged" in second.diff
    assert "GEMM: 12 rows compared" in second.diff  # colab-like's, same CPU; pi32-pip has none
    assert second.diff.splitlines()[-1] == "no regression"
    assert f"{history.stamp(first.results.started_at)}.json" in second.diff.splitlines()[0]
    assert (second.dir / "diff.md").read_text().startswith("### :white_check_mark: no regression")


def test_each_night_writes_the_reports_and_the_second_shows_the_history(nights: tuple[Night, Night]) -> None:
    first, second = nights
    for night in nights:
        for name in ("report.html", "report.md", "junit.xml"):
            assert (night.dir / name).stat().st_size > 0, (night.dir, name)
        assert "colab-like" in (night.dir / "report.md").read_text()
        assert (night.dir / "junit.xml").read_text().count("<testcase ") == 2
    assert '<section id="history">' not in (first.dir / "report.html").read_text()  # nothing kept yet
    assert "History: 2 nights" in (second.dir / "report.html").read_text()


def test_a_constructed_regression_is_exit_1_naming_the_cell(nights: tuple[Night, Night], tmp_path: Path) -> None:
    _, second = nights
    night = second.results
    broken_cells = [
        dataclasses.replace(c, verdict=Verdict(status=Status.IMPORT_FAILED, reason="constructed: numpy broke"))
        if c.name == "colab-like"
        else c
        for c in night.cells
    ]
    broken = tmp_path / "broken.json"
    ResultsFile(
        broken, matrix=night.matrix, host=dict(night.host), cells=broken_cells, started_at=night.started_at
    ).write(complete=True)
    kept_second = history.entries(second.dir / "history")[-1].path
    done = subprocess.run(
        [sys.executable, "-m", "npmatrix", "diff", str(kept_second), str(broken)],
        capture_output=True,
        text=True,
        check=False,
        env=CLI_ENV,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "colab-like: ok -> import-failed (expected ok): constructed: numpy broke" in done.stdout
    assert done.stdout.splitlines()[-1] == "REGRESSION in colab-like"
    # The same two files the other way round: an improvement, no regression.
    back = subprocess.run(
        [sys.executable, "-m", "npmatrix", "diff", str(broken), str(kept_second)],
        capture_output=True,
        text=True,
        env=CLI_ENV,
    )
    assert back.returncode == 0 and "improvement" in back.stdout
