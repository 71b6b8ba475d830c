"""Shards: `npmatrix run --shard I/N` runs a deterministic 1/N of the selected cells, balanced by cost.

Pure. Each cell gets an expected cost in seconds: what it took in recent kept nights when there are any
(`recorded_durations`), else a guess from how it runs (under QEMU about ten times a native cell, as measured
in docs/benchmarks.md). `partition` deals the cells out greedily, most expensive first, each to the shard
with the least cost so far (ties: fewer cells, then the lower shard). That makes the shards a partition of
the cells, the same for every shard job given the same inputs (names break ties, never input order), never
empty while there are at least N cells, and balanced: the dearest and the cheapest shard differ by at most
the cost of the dearest cell (the last cell the dearest shard got went to the cheapest one at the time).

Every shard job must see the same cells and the same history for the shards to fit together: `make nightly`
runs them against one history directory before the night is added to it.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from npmatrix.errors import ConfigError
from npmatrix.plan.cellplan import CellPlan
from npmatrix.records.results import Results

NATIVE_COST_S = 10.0  # build (reused or ~6 s) + probe and GEMM (~3 s) of a native cell
EMULATED_COST_S = 60.0  # the same under QEMU: ~10 s probe, 10-40 s builds
MIN_COST_S = 1.0  # a reused image and a failed install can take ~0 s; every cell costs something
RECENT_NIGHTS = 7  # recorded durations: the median over this many recent nights


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as written on the command line
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match:
            raise ConfigError(f"expected I/N such as 1/2, got {text!r}", where="--shard")
        index, count = int(match[1]), int(match[2])
        if count < 1 or not 1 <= index <= count:
            raise ConfigError(f"I must be between 1 and N (N >= 1), got {text!r}", where="--shard")
        return cls(index, count)


def recorded_durations(nights: Sequence[Results]) -> dict[str, float]:
    """Per cell name, the median over `nights` of its total time (build + probe) in seconds."""
    totals: dict[str, list[float]] = {}
    for night in nights:
        for cell in night.cells:
            totals.setdefault(cell.name, []).append(sum(cell.durations.values()))
    return {name: statistics.median(values) for name, values in totals.items()}


def expected_cost(plan: CellPlan, recorded: Mapping[str, float]) -> float:
    if plan.cell.name in recorded:
        return max(recorded[plan.cell.name], MIN_COST_S)
    return EMULATED_COST_S if plan.placement.under_qemu else NATIVE_COST_S


def partition(costs: Mapping[str, float], count: int) -> tuple[tuple[str, ...], ...]:
    """`count` shards of the names in `costs` (each cost > 0); names keep their order within a shard."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if any(not cost > 0 for cost in costs.values()):
        raise ValueError("every cost must be positive")
    loads = [0.0] * count
    members: list[set[str]] = [set() for _ in range(count)]
    for name in sorted(costs, key=lambda n: (-costs[n], n)):
        target = min(range(count), key=lambda i: (loads[i], len(members[i]), i))
        loads[target] += costs[name]
        members[target].add(name)
    return tuple(tuple(n for n in costs if n in m) for m in members)


def select(plans: Sequence[CellPlan], shard: Shard, *, recorded: Mapping[str, float]) -> tuple[CellPlan, ...]:
    """The plans of shard `shard`, in the matrix's order."""
    costs = {p.cell.name: expected_cost(p, recorded) for p in plans}
    mine = set(partition(costs, shard.count)[shard.index - 1])
    return tuple(p for p in plans if p.cell.name in mine)
