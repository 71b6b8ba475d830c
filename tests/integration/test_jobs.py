"""`npmatrix run --jobs 2` on real cells: builds and probes side by side, benchmarks one at a time, every
cell in results.json in the matrix's order, no container left."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from conftest import containers_of, npmatrix

from npmatrix.host.engine import Engine

# Cheap real cells: two native ones (a wheel, Debian's package) and an emulated one whose failing install
# is the expected result, so the run is short but mixes native and QEMU cells.
JOBS_MATRIX = """
[defaults]
suite = "bookworm"

[[cell]]
name = "jobs-wheel"
platform = "amd64"
numpy = "2.3.5"

[[cell]]
name = "jobs-apt"
platform = "amd64"
install = "apt"

[[cell]]
name = "jobs-armv7-pip"
platform = "arm/v7"
numpy = "2.3.5"
only_binary = true
expect = "no-wheel"
"""


def test_two_jobs_run_every_cell_and_benchmarks_do_not_overlap(tmp_path: Path, engine: Engine) -> None:
    matrix = tmp_path / "jobs.toml"
    matrix.write_text(JOBS_MATRIX)
    out = tmp_path / "out"
    ran = npmatrix("run", "--matrix", str(matrix), "--jobs", "2", "--out", str(out), out_dir=out)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    document = ran.results
    assert document["complete"] is True
    assert [c["name"] for c in document["cells"]] == ["jobs-wheel", "jobs-apt", "jobs-armv7-pip"]
    assert [c["status"] for c in document["cells"]] == ["ok", "ok", "no-wheel"]
    # The emulated cell is handed out first: with two workers it is in the first pair to start (which of the two
    # prints first is a race), and the last native cell waits for a free worker.
    started = [line.split("]")[1].split()[0] for line in ran.stderr.splitlines() if ": building npmatrix-cell:" in line]
    assert sorted(started[:2]) == ["jobs-armv7-pip", "jobs-wheel"] and started[2] == "jobs-apt", ran.stderr
    # each benchmark was its own timed call, recorded with what else ran meanwhile
    for name in ("jobs-wheel", "jobs-apt"):
        cell = ran.cell(name)
        assert cell["durations_s"]["bench"] > 0 and isinstance(cell["bench_overlap"], list)
        assert cell["probe"]["bench"]["ran"] is True
        assert all(r["gflops_median"] > 0 for run in cell["probe"]["bench"]["runs"] for r in run["results"])
    assert ran.cell("jobs-armv7-pip").get("bench_overlap") is None  # never benchmarked
    # The table marks GFLOP/s timed beside other cells' work, and only those, and names what ran beside them.
    shared = [name for name in ("jobs-wheel", "jobs-apt") if ran.cell(name)["bench_overlap"]]
    for name in ("jobs-wheel", "jobs-apt"):
        row = next(line for line in ran.stdout.splitlines() if line.startswith(name + " "))
        assert ("*" in row) is (name in shared), (row, ran.cell(name)["bench_overlap"])
    assert ("GFLOP/s timed while other cells' work ran" in ran.stdout) is bool(shared), ran.stdout
    assert containers_of(engine, document) == []
    assert datetime.fromisoformat(document["finished_at"]) >= datetime.fromisoformat(document["started_at"])


def test_a_rerun_with_reuse_results_reuses_the_probe_and_asks_the_index(tmp_path: Path, engine: Engine) -> None:
    """The second run takes the native cells' probes from the first (benchmarks measured again) and answers
    the emulated no-wheel cell from PyPI, through this host's pip and proxy CA, without building it."""
    matrix = tmp_path / "jobs.toml"
    matrix.write_text(JOBS_MATRIX)
    first = npmatrix("run", "--matrix", str(matrix), "--out", str(tmp_path / "first"), out_dir=tmp_path / "first")
    assert first.returncode == 0, first.stdout + first.stderr
    out = tmp_path / "second"
    args = ("run", "--matrix", str(matrix), "--out", str(out), "--reuse-results", str(tmp_path / "first"))
    second = npmatrix(*args, out_dir=out)
    assert second.returncode == 0, second.stdout + second.stderr
    for name in ("jobs-wheel", "jobs-apt"):
        cell = second.cell(name)
        assert cell["reused"] == ["probe"] and cell["reused_from"] == str(tmp_path / "first" / "results.json")
        assert cell["reuse_key"] == first.cell(name)["reuse_key"]
        assert cell["probe"]["bench"]["ran"] is True and cell["durations_s"]["bench"] > 0  # measured again
        assert cell["probe"]["numpy"] == first.cell(name)["probe"]["numpy"]
    pip = second.cell("jobs-armv7-pip")
    assert pip["status"] == "no-wheel" and pip["reused"] == ["no-wheel"]
    assert set(pip["durations_s"]) == {"index_check"}
    assert "no wheel on the index: build skipped" in second.stdout  # the table says so
    assert "probe reused" in second.stdout
    assert containers_of(engine, second.results) == []
