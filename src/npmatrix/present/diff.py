"""The regression gate: what changed between two runs of one matrix, and whether it is a regression.

Pure: two `results.Results` in, a `Diff` out, rendered as text, Markdown or JSON. The command line
(`npmatrix diff`, `npmatrix run --history`) loads the files and turns `Diff.exit_code` into the exit code.

Per cell (by name):
- a status flip: ok -> failing is a regression, failing -> ok an improvement. Between two failing statuses,
  a cell that failed as its matrix expected and now fails otherwise is a regression, the reverse an
  improvement, anything else a change;
- the same status with another reason, or the same status with another expectation (the matrix's `expect`
  was edited), is listed and gates nothing;
- cells only in OLD are removed, cells only in NEW are new: listed, never a regression by themselves (a
  matrix gains and loses cells). A new cell that does not end as expected fails the nightly gate through
  `fail_on_unexpected`.

Per GEMM row (cell, dtype, n, threads), for cells ok in both runs: a change counts only when it is beyond
the threshold (percent of OLD's median) **and** beyond the measured spread (the IQRs of both runs added).
Cells that ran under QEMU are left out unless `include_emulated`: their GFLOP/s measure the emulator. So
are cells whose CPU or OpenBLAS kernel differs between the runs: on our build machines OpenBLAS picked
SkylakeX one day and Haswell another for the same image, and GEMM numbers compare only on one CPU.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tabulate import tabulate

from npmatrix.errors import ConfigError, ExitCode
from npmatrix.judge.facts import GemmResult
from npmatrix.present import labels
from npmatrix.records.results import CellResult, Results
from npmatrix.verdict import Status

DEFAULT_PERF_THRESHOLD = 10.0  # percent


class Kind(StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    CHANGED = "changed"  # another failing status, neither better nor worse against the expectation
    REASON = "reason-changed"
    EXPECTATION = "expectation-changed"
    NEW = "new"
    REMOVED = "removed"


@dataclass(frozen=True, kw_only=True)
class CellChange:
    name: str
    kind: Kind
    old_status: Status | None  # None for a new cell
    new_status: Status | None  # None for a removed cell
    old_reason: str | None
    new_reason: str | None
    old_expected: Status | None
    new_expected: Status | None
    old_placement: str | None = None  # labels.placement of the cell in OLD; None for a new cell
    new_placement: str | None = None  # ... in NEW; None for a removed cell

    @property
    def regression(self) -> bool:
        return self.kind is Kind.REGRESSION

    @property
    def placement(self) -> str:
        """Where the cell ran: "arm64 (qemu cortex-a72)", or "arm64 (native) -> arm64 (qemu cortex-a72)" when
        it moved (another engine): a reason for a change that is no regression of NumPy's."""
        old, new = self.old_placement, self.new_placement
        if old and new and old != new:
            return f"{old} -> {new}"
        return new or old or "?"

    def describe(self) -> str:
        """One line, without the cell name."""
        if self.kind is Kind.NEW:
            return f"new cell: {_status(self.new_status, self.new_expected)}: {self.new_reason}"
        if self.kind is Kind.REMOVED:
            return f"removed (was {_status(self.old_status, self.old_expected)})"
        if self.kind is Kind.REASON:
            return f"{self.new_status}, another reason: {self.old_reason!r} -> {self.new_reason!r}"
        if self.kind is Kind.EXPECTATION:
            return f"{self.new_status}; the matrix now expects {self.new_expected} (was {self.old_expected})"
        old, new = _status(self.old_status, self.old_expected), _status(self.new_status, self.new_expected)
        return f"{old} -> {new}: {self.new_reason}"


def _status(status: Status | None, expected: Status | None) -> str:
    return f"{status}" if status is expected else f"{status} (expected {expected})"


@dataclass(frozen=True, kw_only=True)
class PerfChange:
    cell: str
    dtype: str
    n: int
    threads: str
    old_gflops: float
    new_gflops: float
    old_iqr: float
    new_iqr: float
    kind: Kind  # REGRESSION or IMPROVEMENT

    @property
    def change_pct(self) -> float:
        return 100.0 * (self.new_gflops - self.old_gflops) / self.old_gflops

    @property
    def regression(self) -> bool:
        return self.kind is Kind.REGRESSION

    def describe(self) -> str:
        return (
            f"{self.dtype} n={self.n} {self.threads} thread(s): {self.old_gflops:.3g} -> {self.new_gflops:.3g} "
            f"GFLOP/s ({self.change_pct:+.0f}%; spread {self.old_iqr:.2g} + {self.new_iqr:.2g})"
        )


@dataclass(frozen=True, kw_only=True)
class PerfSkip:
    """A cell ok in both runs whose GEMM numbers were not compared, and why."""

    cell: str
    why: str


@dataclass(frozen=True, kw_only=True)
class Diff:
    old_source: str
    new_source: str
    old_started_at: str
    new_started_at: str
    matrix: str
    perf_threshold: float
    include_emulated: bool
    cells: tuple[CellChange, ...]
    perf: tuple[PerfChange, ...]
    perf_skipped: tuple[PerfSkip, ...]
    perf_rows_compared: int
    unchanged: tuple[str, ...]  # cells with the same status, reason and expectation
    unexpected: tuple[str, ...]  # cells of NEW that did not end as their matrix expected
    incomplete: tuple[str, ...] = ()  # OLD and/or NEW, when that run was interrupted (cells may be missing)
    # Cells whose answer became incomplete, or complete again: what a real Pi asks (piwheels) was not asked in one
    # run and was in the other. No regression: the same verdict may stand on less, and the night should say so.
    asked: tuple[str, ...] = ()

    @property
    def regressions(self) -> tuple[CellChange | PerfChange, ...]:
        return (*(c for c in self.cells if c.regression), *(p for p in self.perf if p.regression))

    def exit_code(self, *, fail_on_unexpected: bool = False) -> ExitCode:
        """1 on a regression; with `fail_on_unexpected` (the nightly gate) also when a cell of NEW did not end
        as its matrix expected."""
        failed = bool(self.regressions) or (fail_on_unexpected and bool(self.unexpected))
        return ExitCode.UNEXPECTED if failed else ExitCode.OK


def check_comparable(old: Results, new: Results) -> None:
    """Refuse, on one line, two runs of different matrices.

    Matrices are compared by the name the run recorded (`results.matrix`): a built-in matrix is
    `builtin:NAME`, a file is the path `--matrix` was given. `builtin:default` and `matrix/default.toml`
    are different matrices here even when the file is a link to the built-in one: what a name holds can
    change, and a night is only comparable with a night of the same name. Schema versions are checked by
    `results.load` (a file of another schema_version never becomes a `Results`).
    """
    if old.matrix != new.matrix:
        raise ConfigError(
            f"OLD ran matrix {old.matrix!r} ({old.source}) and NEW ran {new.matrix!r}: diff compares runs of one "
            "matrix (a built-in matrix and a file are different matrices, even with the same cells)",
            where=new.source,
        )


def nothing_before(new: Results, *, source: str) -> Results:
    """The baseline of a first night: no cells, so every cell of `new` is new and none is a regression."""
    return Results(
        source=f"{source} (no earlier night of this matrix)",
        matrix=new.matrix,
        npmatrix_version="",
        started_at="",
        finished_at=None,
        complete=True,
        host={},
        cells=(),
    )


def diff(
    old: Results,
    new: Results,
    *,
    perf_threshold: float = DEFAULT_PERF_THRESHOLD,
    include_emulated: bool = False,
) -> Diff:
    check_comparable(old, new)
    # NaN compares false with everything and infinity with nothing: either would turn the GEMM gate off unseen.
    if not math.isfinite(perf_threshold):
        raise ConfigError(f"must be a finite number of percent, got {perf_threshold}", where="--perf-threshold")
    if perf_threshold < 0:
        raise ConfigError(f"must not be negative, got {perf_threshold}", where="--perf-threshold")
    old_cells, new_cells = {c.name: c for c in old.cells}, {c.name: c for c in new.cells}
    changes: list[CellChange] = []
    unchanged: list[str] = []
    perf: list[PerfChange] = []
    skipped: list[PerfSkip] = []
    compared = 0
    for name, now in new_cells.items():
        before = old_cells.get(name)
        if before is None:
            changes.append(_change(name, Kind.NEW, None, now))
            continue
        change = _cell_change(before, now)
        if change is None:
            unchanged.append(name)
        else:
            changes.append(change)
        if before.status.works and now.status.works:
            skip = _perf_skip(before, now, include_emulated=include_emulated)
            if skip is not None:
                skipped.append(skip)
                continue
            rows = list(_gemm_pairs(before, now))
            compared += len(rows)
            perf.extend(p for a, b in rows if (p := _perf_change(name, a, b, perf_threshold)) is not None)
    changes += [_change(name, Kind.REMOVED, c, None) for name, c in old_cells.items() if name not in new_cells]
    return Diff(
        old_source=old.source,
        new_source=new.source,
        old_started_at=old.started_at,
        new_started_at=new.started_at,
        matrix=new.matrix,
        perf_threshold=perf_threshold,
        include_emulated=include_emulated,
        cells=tuple(changes),
        perf=tuple(perf),
        perf_skipped=tuple(skipped),
        perf_rows_compared=compared,
        unchanged=tuple(unchanged),
        unexpected=tuple(c.name for c in new.cells if not c.as_expected),
        incomplete=tuple(side for side, run in (("OLD", old), ("NEW", new)) if not run.complete),
        asked=_asked_changes(old_cells, new_cells),
    )


def _asked_changes(old: dict[str, CellResult], new: dict[str, CellResult]) -> tuple[str, ...]:
    """ "pi32-pip: now incomplete: piwheels not reached", "pi32-pip: no longer incomplete" for each cell in both."""
    lines = []
    for name, now in new.items():
        before = old.get(name)
        if before is None or before.not_asked == now.not_asked:
            continue
        lines.append(f"{name}: now {labels.incomplete(now)}" if now.incomplete else f"{name}: no longer incomplete")
    return tuple(lines)


def _change(name: str, kind: Kind, old: CellResult | None, new: CellResult | None) -> CellChange:
    return CellChange(
        name=name,
        kind=kind,
        old_status=old.status if old else None,
        new_status=new.status if new else None,
        old_reason=old.verdict.reason if old else None,
        new_reason=new.verdict.reason if new else None,
        old_expected=old.cell.expect if old else None,
        new_expected=new.cell.expect if new else None,
        old_placement=labels.placement(old) if old else None,
        new_placement=labels.placement(new) if new else None,
    )


def _cell_change(old: CellResult, new: CellResult) -> CellChange | None:
    if old.status is new.status:
        if old.cell.expect is not new.cell.expect:
            return _change(new.name, Kind.EXPECTATION, old, new)
        if old.verdict.reason != new.verdict.reason:
            return _change(new.name, Kind.REASON, old, new)
        return None
    if old.status.works:
        kind = Kind.REGRESSION
    elif new.status.works:
        kind = Kind.IMPROVEMENT
    elif old.as_expected and not new.as_expected:
        kind = Kind.REGRESSION  # it failed the way we knew; now it fails some other way
    elif new.as_expected and not old.as_expected:
        kind = Kind.IMPROVEMENT
    else:
        kind = Kind.CHANGED
    return _change(new.name, kind, old, new)


def _perf_skip(old: CellResult, new: CellResult, *, include_emulated: bool) -> PerfSkip | None:
    if not include_emulated and (old.placement.under_qemu or new.placement.under_qemu):
        return PerfSkip(
            cell=new.name, why="ran under QEMU, so its GFLOP/s measure the emulator; --include-emulated compares them"
        )
    a, b = old.summary, new.summary
    if a is None or b is None:
        return PerfSkip(cell=new.name, why="no probe facts")
    for what, x, y in (("CPU", a.cpu_model, b.cpu_model), ("OpenBLAS kernel", a.openblas_core, b.openblas_core)):
        if x != y:
            return PerfSkip(cell=new.name, why=f"another {what} ({x} -> {y}): GEMM compares only on one CPU")
    return None


def _gemm_pairs(old: CellResult, new: CellResult) -> Iterator[tuple[GemmResult, GemmResult]]:
    """Rows measured in both runs, numerically right in both, matched on (dtype, n, threads)."""
    assert old.summary is not None and new.summary is not None  # _perf_skip said so
    before = {(g.dtype, g.n, g.threads): g for g in old.summary.gemm if g.ok}
    for g in new.summary.gemm:
        match = before.get((g.dtype, g.n, g.threads))
        if match is not None and g.ok:
            yield match, g


def _perf_change(cell: str, old: GemmResult, new: GemmResult, threshold: float) -> PerfChange | None:
    if old.gflops_median <= 0:
        return None
    delta = new.gflops_median - old.gflops_median
    beyond_threshold = abs(delta) > threshold / 100.0 * old.gflops_median
    beyond_spread = abs(delta) > old.gflops_iqr + new.gflops_iqr
    if not (beyond_threshold and beyond_spread):
        return None
    return PerfChange(
        cell=cell,
        dtype=new.dtype,
        n=new.n,
        threads=new.threads,
        old_gflops=old.gflops_median,
        new_gflops=new.gflops_median,
        old_iqr=old.gflops_iqr,
        new_iqr=new.gflops_iqr,
        kind=Kind.REGRESSION if delta < 0 else Kind.IMPROVEMENT,
    )


# ---------------------------------------------------------------------------------------------------------
# Rendering


def verdict_line(d: Diff, *, fail_on_unexpected: bool = False) -> str:
    parts = []
    if d.regressions:
        names = sorted({r.name if isinstance(r, CellChange) else r.cell for r in d.regressions})
        parts.append(f"REGRESSION in {', '.join(names)}")
    if fail_on_unexpected and d.unexpected:
        parts.append(f"NOT as expected: {', '.join(d.unexpected)}")
    return "; ".join(parts) if parts else "no regression"


def render_text(d: Diff, *, fail_on_unexpected: bool = False) -> str:
    lines = [f"diff of {d.matrix}: {_side(d.old_source, d.old_started_at)} -> {_side(d.new_source, d.new_started_at)}"]
    for c in d.cells:
        lines.append(f"  {c.kind.upper() if c.regression else c.kind:<19} {c.name}: {c.describe()} (on {c.placement})")
    for p in d.perf:
        lines.append(f"  {'PERF REGRESSION' if p.regression else 'perf improvement':<19} {p.cell}: {p.describe()}")
    lines.append(_perf_note(d))
    lines.append(_counts(d))
    lines += [f"  {line}" for line in d.asked]
    if d.incomplete:
        lines.append(_incomplete_note(d))
    lines.append(verdict_line(d, fail_on_unexpected=fail_on_unexpected))
    return "\n".join(lines)


def _side(source: str, started_at: str) -> str:
    return f"{source} ({started_at})" if started_at else source


def _perf_note(d: Diff) -> str:
    note = (
        f"GEMM: {d.perf_rows_compared} rows compared (a change counts beyond {d.perf_threshold:g}% and beyond the "
        f"IQRs of both runs): {len(d.perf)} changed"
    )
    if d.perf_skipped:
        grouped: dict[str, list[str]] = {}
        for s in d.perf_skipped:
            grouped.setdefault(s.why, []).append(s.cell)
        note += "; not compared: " + "; ".join(f"{', '.join(cells)} ({why})" for why, cells in grouped.items())
    return note


def _incomplete_note(d: Diff) -> str:
    return f"{' and '.join(d.incomplete)} did not finish (interrupted): its missing cells show as new or removed"


def _counts(d: Diff) -> str:
    counts = {k: sum(c.kind is k for c in d.cells) for k in Kind}
    shown = [f"{n} {k.value}" for k, n in counts.items() if n]
    return f"cells: {len(d.unchanged)} unchanged" + "".join(f", {s}" for s in shown)


def render_markdown(d: Diff, *, fail_on_unexpected: bool = False) -> str:
    verdict = verdict_line(d, fail_on_unexpected=fail_on_unexpected)
    mark = ":x:" if d.exit_code(fail_on_unexpected=fail_on_unexpected) else ":white_check_mark:"
    lines = [
        f"### {mark} {_md(verdict)}",
        "",
        f"`{_md(d.matrix)}`: {_md(d.old_started_at or 'no earlier night')} → {_md(d.new_started_at)}",
        "",
    ]
    rows = [
        (f"**{c.kind}**" if c.regression else c.kind, f"`{c.name}`", _md(f"{c.describe()} (on {c.placement})"))
        for c in d.cells
    ]
    rows += [
        ("**perf regression**" if p.regression else "perf improvement", f"`{p.cell}`", _md(p.describe()))
        for p in d.perf
    ]
    if rows:
        lines += [tabulate(rows, headers=("change", "cell", "what"), tablefmt="github"), ""]
    lines += [_md(_perf_note(d)), "", _md(_counts(d))]
    if d.asked:
        lines += ["", *(f"- {_md(line)}" for line in d.asked)]
    if d.incomplete:
        lines += ["", _md(_incomplete_note(d))]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    # Reasons come from build logs and probes: keep them from breaking the table or starting markup.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def to_json(d: Diff, *, fail_on_unexpected: bool = False) -> dict[str, Any]:
    return {
        "old": {"source": d.old_source, "started_at": d.old_started_at},
        "new": {"source": d.new_source, "started_at": d.new_started_at},
        "matrix": d.matrix,
        "perf_threshold_pct": d.perf_threshold,
        "include_emulated": d.include_emulated,
        "regression": bool(d.regressions),
        "exit_code": int(d.exit_code(fail_on_unexpected=fail_on_unexpected)),
        "verdict": verdict_line(d, fail_on_unexpected=fail_on_unexpected),
        "cells": [
            {
                "name": c.name,
                "kind": c.kind.value,
                "old_status": c.old_status.value if c.old_status else None,
                "new_status": c.new_status.value if c.new_status else None,
                "old_reason": c.old_reason,
                "new_reason": c.new_reason,
                "old_expected": c.old_expected.value if c.old_expected else None,
                "new_expected": c.new_expected.value if c.new_expected else None,
                "old_placement": c.old_placement,
                "new_placement": c.new_placement,
            }
            for c in d.cells
        ],
        "perf": [
            {
                "cell": p.cell,
                "kind": p.kind.value,
                "dtype": p.dtype,
                "n": p.n,
                "threads": p.threads,
                "old_gflops": p.old_gflops,
                "new_gflops": p.new_gflops,
                "old_iqr": p.old_iqr,
                "new_iqr": p.new_iqr,
                "change_pct": round(p.change_pct, 2),
            }
            for p in d.perf
        ],
        "perf_skipped": [{"cell": s.cell, "why": s.why} for s in d.perf_skipped],
        "perf_rows_compared": d.perf_rows_compared,
        "unchanged": list(d.unchanged),
        "unexpected": list(d.unexpected),
        "incomplete": list(d.incomplete),
        "asked": list(d.asked),
    }


def render(d: Diff, fmt: str, *, fail_on_unexpected: bool = False) -> str:
    if fmt == "json":
        return json.dumps(to_json(d, fail_on_unexpected=fail_on_unexpected), indent=2)
    if fmt == "md":
        return render_markdown(d, fail_on_unexpected=fail_on_unexpected)
    return render_text(d, fail_on_unexpected=fail_on_unexpected)
