#!/usr/bin/env python3
"""How fast a history of hundreds of nights loads: writes N synthetic nights, times the readers.

Each night is the real run of the default matrix in tests/data (4 cells with full probe facts, ~100 kB),
started a day later than the one before and with its GFLOP/s jittered, written by `results.ResultsFile` and
kept by `history.add`, as `make nightly` keeps them. Writes docs/performance-history.md.

    .venv/bin/python benchmarks/history_load.py              # 300 nights
    .venv/bin/python benchmarks/history_load.py --nights 1000
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from npmatrix.present import diff
from npmatrix.records import history, results

REPO = Path(__file__).resolve().parents[1]
REAL_RUN = REPO / "tests" / "data" / "results-default.json"
REPEATS = 5


def make_history(directory: Path, nights: int) -> int:
    """`nights` kept nights in `directory`; returns the bytes of one."""
    real = results.load(REAL_RUN)
    rng = random.Random(7)
    start = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    scratch = directory.parent / "scratch.json"
    for i in range(nights):
        cells = []
        for cell in real.cells:
            facts = copy.deepcopy(cell.facts)
            for run in (facts or {}).get("bench", {}).get("runs", []):
                for row in run["results"]:
                    row["gflops_median"] *= rng.uniform(0.9, 1.1)
            cells.append(dataclasses.replace(cell, facts=facts))
        started = (start + timedelta(days=i)).isoformat(timespec="seconds")
        results.ResultsFile(scratch, matrix=real.matrix, host=dict(real.host), cells=cells, started_at=started).write(
            complete=True
        )
        history.add(scratch, directory)
    return scratch.stat().st_size


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """Median and spread (min..max) of REPEATS runs, in seconds."""
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times), max(times) - min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=300)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "performance-history.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "history"
        began = time.perf_counter()
        size = make_history(directory, args.nights)
        made = time.perf_counter() - began
        newest = results.load(history.entries(directory)[-1].path)
        rows = [
            ("history.entries(DIR): names only", timed(lambda: history.entries(directory))),
            (f"history.load_recent(DIR): all {args.nights} nights", timed(lambda: history.load_recent(directory))),
            (
                "history.load_recent(DIR, 30): a window of 30 nights (a trend chart)",
                timed(lambda: history.load_recent(directory, 30)),
            ),
            (
                "history.previous(DIR, night): what the gate diffs against",
                timed(lambda: history.previous(directory, newest)),
            ),
            (
                "diff.diff(previous, night)",
                timed(lambda: diff.diff(history.load_recent(directory, 2)[0], newest)),
            ),
            (
                f"`npmatrix history list DIR` (a new process, {args.nights} nights)",
                timed(
                    lambda: subprocess.run(
                        [sys.executable, "-m", "npmatrix", "history", "list", str(directory)],
                        check=True,
                        capture_output=True,
                    )
                ),
            ),
        ]
    lines = [
        "# Loading a history of nights",
        "",
        f"Measured {datetime.now(UTC).isoformat(timespec='minutes')} on {platform.machine()}, "
        f"{platform.platform()}, Python {platform.python_version()}, by `python benchmarks/history_load.py "
        f"--nights {args.nights}`.",
        "",
        f"{args.nights} nights, each the real 4-cell run of tests/data/results-default.json with jittered GFLOP/s "
        f"({size / 1000:.0f} kB a night, {size * args.nights / 1e6:.0f} MB in all); writing and keeping them took "
        f"{made:.1f} s. Each time is the median of {REPEATS} runs; shared 2-core machine, so read the orders of "
        "magnitude.",
        "",
        "| what | median (s) | spread (s) |",
        "|---|---|---|",
        *[f"| {what} | {median:.3f} | {spread:.3f} |" for what, (median, spread) in rows],
        "",
        "Every night is read through `results.load` (JSON, then the shipped JSON Schema, then typed records): no "
        "cache to go stale. `load_recent` reads newest first and stops at `limit`, so the gate and a report of the "
        "last 30 nights cost the same however long the history grows; only loading every night grows with it.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
