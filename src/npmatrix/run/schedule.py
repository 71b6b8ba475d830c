"""Cells side by side (`npmatrix run --jobs N`): the order they start in, how many run at once, and the
timed sections (GEMM benchmarks) that never run together.

A benchmark that runs while another cell builds or probes measures the contention, not the BLAS. Timed
sections take one lock, so two never overlap; what else ran during one (other cells' builds and probes) is
recorded and lands in results.json, so a number measured under contention says so. `--jobs 1` runs every
cell alone: then nothing overlaps.

The runner hands each cell to `run_all` as a function; the stages inside it enter `Activity.busy` (builds,
probes) and `Activity.timed` (benchmarks). On Ctrl-C the main thread cancels what has not started, kills
this process's commands (builds) and lets the caller remove its containers, then waits for the workers.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from npmatrix.errors import ConfigError
from npmatrix.host import process
from npmatrix.plan.cellplan import CellPlan

T = TypeVar("T")
R = TypeVar("R")


class Cancelled(Exception):
    """The run was interrupted: a stage that had not started yet does not start."""


def default_jobs(cells: int, cpus: int | None = None) -> int:
    """As many cells at once as the host has CPUs, never more than there are cells, at least one."""
    available = cpus if cpus is not None else (os.cpu_count() or 1)
    return max(1, min(available, cells))


def check_jobs(jobs: int) -> int:
    if jobs < 1:
        raise ConfigError(f"must be at least 1, got {jobs}", where="--jobs")
    return jobs


def start_order(plans: Sequence[CellPlan]) -> list[CellPlan]:
    """Emulated cells first (their builds and probes take 10-20x longer), otherwise the matrix's order; but a
    cell whose build steps an earlier cell has (plan.build_steps: pi4-64 after pi5-64) starts after every other
    cell. Started side by side, the two would build the same layers at once (BuildKit runs them once and the
    second worker waits, or both do the work); started later, its build is a cache hit, and the worker it would
    have held builds another cell meanwhile. Measured on the default matrix, 2 cores (docs/performance.md)."""
    seen: set[str] = set()
    firsts: list[CellPlan] = []
    twins: list[CellPlan] = []
    for p in plans:
        steps = p.build_steps
        (twins if steps in seen else firsts).append(p)
        seen.add(steps)
    return sorted(firsts, key=lambda p: not p.placement.under_qemu) + sorted(
        twins, key=lambda p: not p.placement.under_qemu
    )


class Activity:
    """What each cell is doing now, shared by the worker threads of one run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._timed_lock = threading.Lock()
        self._active: Counter[tuple[str, str]] = Counter()
        self._window: set[tuple[str, str]] | None = None  # what ran during the current timed section
        self.cancelled = threading.Event()

    def check(self) -> None:
        """Cancelled if the run was interrupted."""
        if self.cancelled.is_set():
            raise Cancelled

    @contextlib.contextmanager
    def busy(self, cell: str, stage: str) -> Iterator[None]:
        """Untimed work of `cell` (a build, a probe); never starts once the run is cancelled."""
        self.check()
        key = (cell, stage)
        with self._lock:
            self._active[key] += 1
            if self._window is not None:
                self._window.add(key)
        try:
            yield
        finally:
            with self._lock:
                self._active[key] -= 1

    @contextlib.contextmanager
    def timed(self, cell: str) -> Iterator[set[tuple[str, str]]]:
        """A timed section of `cell`: alone among timed sections. The set it gives is filled with the other
        cells' (cell, stage) that ran at any moment of it; read it after the block."""
        with self._timed_lock:
            self.check()
            window: set[tuple[str, str]] = set()
            with self._lock:
                window.update(k for k, n in self._active.items() if n > 0 and k[0] != cell)
                self._window = window
            try:
                yield window
            finally:
                with self._lock:
                    self._window = None
                window.difference_update({k for k in window if k[0] == cell})


def overlap_labels(window: set[tuple[str, str]]) -> tuple[str, ...]:
    """("pi5-64 build", ...), sorted: what a timed section shared the machine with."""
    return tuple(f"{cell} {stage}" for cell, stage in sorted(window))


def run_all(
    items: Sequence[T],
    *,
    jobs: int,
    work: Callable[[T], R],
    done: Callable[[T, R], None],
    activity: Activity,
    on_abort: Callable[[], None] = lambda: None,
) -> None:
    """`work` on each item, at most `jobs` at once, starting in the order given; `done` in the calling thread
    as each finishes (so results are recorded by one thread). An exception (Ctrl-C, a bug) cancels what has
    not started, kills running commands, calls `on_abort` (remove containers), waits for the workers, and
    propagates."""
    pool = ThreadPoolExecutor(max_workers=check_jobs(jobs), thread_name_prefix="npmatrix-cell")
    futures: dict[Future[R], int] = {}
    try:

        def guarded(item: T) -> R:
            activity.check()
            return work(item)

        futures = {pool.submit(guarded, item): index for index, item in enumerate(items)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=futures.__getitem__):
                done(items[futures[future]], future.result())
    except BaseException:
        activity.cancelled.set()
        pool.shutdown(wait=False, cancel_futures=True)
        process.kill_all()
        on_abort()
        pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)
