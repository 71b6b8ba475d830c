#!/usr/bin/env python3
"""Wall time of `make matrix`, cold and warm, and container vs host GEMM, measured in one run.

Stdlib only, so it can delete the virtualenv it measures. Writes docs/benchmarks.md.

    python3 benchmarks/make_matrix_wall_time.py            # warm only (nothing deleted)
    python3 benchmarks/make_matrix_wall_time.py --cold     # first deletes npmatrix images, the BuildKit
                                                           # cache and .venv: what a fresh machine meets
                                                           # (the engine packages stay installed)

Numbers on shared 2-core machines are noisy: read the ratios, not the absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=check)


def make_cold() -> None:
    images = sh("docker", "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    doomed = [i for i in images if i.startswith(("npmatrix-base:", "npmatrix-cell:"))]
    if doomed:
        sh("docker", "rmi", "-f", *doomed)
    sh("docker", "builder", "prune", "-af", check=False)
    shutil.rmtree(REPO / ".venv", ignore_errors=True)


def timed_make(out: Path) -> tuple[float, dict]:
    started = time.monotonic()
    done = subprocess.run(["make", "matrix", f"OUT={out}"], cwd=REPO, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    (out / "make.log").parent.mkdir(parents=True, exist_ok=True)
    (out / "make.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        sys.exit(f"make matrix failed ({done.returncode}); see {out / 'make.log'}")
    return elapsed, json.loads((out / "results.json").read_text())


def host_gemm() -> dict[tuple[str, int], float]:
    done = sh(
        str(REPO / ".venv/bin/npmatrix"), "probe", "--bench", "--sizes", "256,512,1024", "--format", "json", check=False
    )
    report = json.loads(done.stdout)["probe"]
    return {
        (r["dtype"], r["n"]): r["gflops_median"]
        for run in report["bench"]["runs"]
        if run["threads"] == "all"
        for r in run["results"]
    }


def cell_gemm(document: dict, name: str) -> dict[tuple[str, int], float]:
    cell = next(c for c in document["cells"] if c["name"] == name)
    return {
        (r["dtype"], r["n"]): r["gflops_median"]
        for run in cell["probe"]["bench"]["runs"]
        if run["threads"] == "all"
        for r in run["results"]
    }


def stage_rows(document: dict) -> list[str]:
    rows = []
    for c in document["cells"]:
        d = c["durations_s"]
        rows.append(
            f"| {c['name']} | {c['status']} | {d.get('build', 0):.1f} | {d.get('probe', 0):.1f} | "
            f"{'yes' if c['image']['reused'] else 'no'} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true", help="delete images, build cache and .venv first")
    args = parser.parse_args()
    out = REPO / "results" / "benchmark"
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(UTC).isoformat(timespec='minutes')} on {platform.machine()}, "
        f"{platform.platform()}, by `python3 benchmarks/make_matrix_wall_time.py{' --cold' if args.cold else ''}`.",
        "Shared 2-core machine: compare the ratios measured in this one run, not absolute numbers across runs.",
        "",
        "## `make matrix` wall time",
        "",
        "| run | wall time (s) | what it did |",
        "|---|---|---|",
    ]
    runs = []
    if args.cold:
        make_cold()
        cold_s, cold_doc = timed_make(out / "cold")
        runs.append(("cold", cold_s, cold_doc))
        lines.append(f"| cold | {cold_s:.0f} | venv + 3 base images (mmdebstrap) + 4 cell images + probes |")
    warm_s, warm_doc = timed_make(out / "warm")
    runs.append(("warm", warm_s, warm_doc))
    lines.append(f"| warm | {warm_s:.0f} | images reused; pi32-pip's failing install re-runs; probes |")
    if args.cold:
        lines += ["", f"cold / warm = {runs[0][1] / warm_s:.1f}x"]
    for label, _, document in runs:
        lines += [
            "",
            f"### Per cell ({label})",
            "",
            "| cell | status | build (s) | probe + GEMM (s) | image reused |",
            "|---|---|---|---|---|",
            *stage_rows(document),
        ]
    host, container = host_gemm(), cell_gemm(warm_doc, "colab-like")
    lines += [
        "",
        "## GEMM: colab-like container vs this host (same machine, all threads, GFLOP/s, median)",
        "",
        "| dtype | n | host | container | container / host |",
        "|---|---|---|---|---|",
    ]
    for key in sorted(set(host) & set(container)):
        lines.append(
            f"| {key[0]} | {key[1]} | {host[key]:.1f} | {container[key]:.1f} | {container[key] / host[key]:.2f} |"
        )
    lines += [
        "",
        "The host runs its own NumPy (the dev venv's), the container the cell's pinned wheel: the ratio",
        "shows what containerisation costs plus what the NumPy/OpenBLAS versions differ by.",
        "",
    ]
    (REPO / "docs").mkdir(exist_ok=True)
    (REPO / "docs" / "benchmarks.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
