"""`npmatrix run --jobs 2` on real cells: builds and probes side by side, benchmarks one at a time, every
cell in results.json in the matrix's order, no container left."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from conftest import containers_of, npmatrix

from npmatrix.engine import Engine

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
    # the emulated cell started first, as the progress says
    first = next(line for line in ran.stderr.splitlines() if "building" in line)
    assert "jobs-armv7-pip" in first, ran.stderr
    # each benchmark was its own timed call, recorded with what else ran meanwhile
    for name in ("jobs-wheel", "jobs-apt"):
        cell = ran.cell(name)
        assert cell["durations_s"]["bench"] > 0 and isinstance(cell["bench_overlap"], list)
        assert cell["probe"]["bench"]["ran"] is True
        assert all(r["gflops_median"] > 0 for run in cell["probe"]["bench"]["runs"] for r in run["results"])
    assert ran.cell("jobs-armv7-pip").get("bench_overlap") is None  # never benchmarked
    assert containers_of(engine, document) == []
    assert datetime.fromisoformat(document["finished_at"]) >= datetime.fromisoformat(document["started_at"])
