"""What every report says about a night and its cells, in words, whatever the format: pure.

A cell's *standing* is its status measured against what its matrix expected; the reports colour and sort by
it. "Not as expected" is the word the terminal table uses too (table.summary_line); it is not the nightly
diff's "regression", which compares two nights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import PurePosixPath

from npmatrix.config import install
from npmatrix.judge.facts import GemmResult
from npmatrix.present import labels, table
from npmatrix.records.results import CellResult, Results

DTYPES = ("float32", "float64")


class Standing(StrEnum):
    WORKS = "works"  # ok, as its matrix expected
    EXPECTED_FAILURE = "expected-failure"  # fails with the status its matrix expected
    UNEXPECTED_FAILURE = "unexpected-failure"  # fails, and not as expected: someone has to look
    UNEXPECTED_OK = "unexpected-ok"  # works although its matrix expected a failure: update `expect`

    @property
    def as_expected(self) -> bool:
        return self in (Standing.WORKS, Standing.EXPECTED_FAILURE)


STANDING_LABELS = {
    Standing.WORKS: "works",
    Standing.EXPECTED_FAILURE: "fails as expected",
    Standing.UNEXPECTED_FAILURE: "NOT as expected, fails",
    Standing.UNEXPECTED_OK: "NOT as expected, works",
}


def standing(r: CellResult) -> Standing:
    if r.as_expected:
        return Standing.WORKS if r.status.works else Standing.EXPECTED_FAILURE
    return Standing.UNEXPECTED_OK if r.status.works else Standing.UNEXPECTED_FAILURE


@dataclass(frozen=True, kw_only=True)
class NightSummary:
    """The line at the top of every report."""

    cells: int
    as_expected: int
    works: int
    unexpected: tuple[CellResult, ...]  # in matrix order

    @property
    def all_as_expected(self) -> bool:
        return not self.unexpected

    @property
    def headline(self) -> str:
        counts = f"{self.cells} cells: {self.works} work, {self.cells - self.works} fail"
        if self.all_as_expected:
            return f"{counts}; all as expected"
        return f"{counts}; {len(self.unexpected)} NOT as expected"


def night_summary(results: Results) -> NightSummary:
    cells = results.cells
    return NightSummary(
        cells=len(cells),
        as_expected=sum(r.as_expected for r in cells),
        works=sum(r.status.works for r in cells),
        unexpected=tuple(r for r in cells if not r.as_expected),
    )


def matrix_name(results: Results) -> str:
    """The matrix's short name, "default" for builtin:default and for matrix/default.toml (JUnit class names)."""
    source = results.matrix.removeprefix("builtin:")
    return PurePosixPath(source).stem or source


def when(results: Results) -> str:
    """When the night ran and how long it took, e.g. "2026-11-25 18:38 UTC, 31 s"."""
    started = _parse_time(results.started_at)
    if started is None:
        return results.started_at
    text = started.strftime("%Y-%m-%d %H:%M UTC") if started.utcoffset() is not None else results.started_at
    finished = _parse_time(results.finished_at)
    if finished is not None:
        text += f", {format_seconds((finished - started).total_seconds())}"
    return text if results.complete else text + " (incomplete: the run did not finish)"


def _parse_time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def format_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def cell_seconds(r: CellResult) -> float:
    return sum(r.durations.values())


def key_facts(r: CellResult) -> tuple[tuple[str, str], ...]:
    """What a maintainer looks at first, as (label, value) rows; facts the probe did not see are left out."""
    s = r.summary
    rows: list[tuple[str, str | None]] = [("platform", labels.placement(r))]
    if s is not None:
        rows += [
            ("Python", " · ".join(v for v in (s.python_version, s.libc) if v) or None),
            ("NumPy", _numpy_fact(r)),
            ("pip", " · best tag ".join(v for v in (s.pip_version, s.pip_top_tag) if v) or None),
            ("BLAS", labels.blas(r) if s.blas else None),
            ("CPU", labels.cpu(r)),
            ("CPU baseline", " ".join(s.cpu_baseline) or None),
            ("missing libraries", ", ".join(s.missing_libraries) or None),
        ]
    else:
        rows += [("NumPy", f"{labels.numpy(r)}, {_requested(r)}"), ("CPU", labels.cpu(r))]
    rows += [
        ("% of peak (f64 GEMM)", _peak_text(r)),
        ("benchmark shared the machine with", ", ".join(r.bench_overlap or ()) or None),
        ("image", _image_text(r)),
        ("durations", ", ".join(f"{k} {format_seconds(v)}" for k, v in r.durations.items()) or None),
        ("note", r.cell.note or None),
        ("source", r.cell.source or None),
        *(("not asked here", line) for line in labels.not_asked_lines(r)),
        *(("not shown here", line) for line in labels.emulation_limits(r.cell)),
    ]
    return tuple((label, value) for label, value in rows if value)


def _peak_text(r: CellResult) -> str | None:
    """ "12%" of the CPU's theoretical rate; under QEMU a share means nothing, and the report says so."""
    if r.placement.under_qemu and r.facts is not None:
        return "not meaningful under QEMU"
    share = table.peak_share(r)
    return f"{share:.0%}" if share is not None else None


def _image_text(r: CellResult) -> str:
    if r.image.id is None:
        return f"{r.image.tag} (not built)"
    return f"{r.image.tag} (reused)" if r.image.reused else r.image.tag


def _numpy_fact(r: CellResult) -> str:
    s = r.summary
    assert s is not None
    version = s.numpy_version or "not found"
    how = {"wheel": f"wheel {s.wheel_tag}" if s.wheel_tag else "wheel", "debian": "Debian package"}
    installed = how.get(s.install_source or "", s.install_source or "installed by an unknown route")
    return f"{version} · {installed} · {_requested(r)}"


def _requested(r: CellResult) -> str:
    return f"matrix asks for {install.method(r.cell.install).asks_for(r.cell)}"


@dataclass(frozen=True, kw_only=True)
class GemmBars:
    """One cell's GEMM numbers for a chart: per (dtype, threads) the row at the largest size measured."""

    cell: str
    label: str  # cell name, and the QEMU CPU model for cells under QEMU
    under_qemu: bool  # Placement.under_qemu
    rows: dict[tuple[str, str], GemmResult]

    def get(self, dtype: str, threads: str) -> GemmResult | None:
        return self.rows.get((dtype, threads))


def gemm_bars(r: CellResult) -> GemmBars | None:
    """None when the cell measured nothing (no image, no NumPy, or the benchmark did not run)."""
    if r.summary is None or not r.summary.gemm:
        return None
    rows: dict[tuple[str, str], GemmResult] = {}
    for g in r.summary.gemm:
        key = (g.dtype, g.threads)
        if key not in rows or g.n > rows[key].n:
            rows[key] = g
    model = r.placement.qemu_cpu
    label = f"{r.name} ({model})" if model else r.name
    return GemmBars(cell=r.name, label=label, under_qemu=r.placement.under_qemu, rows=rows)


def oldest_first(results: Sequence[Results]) -> list[Results]:
    """Nights oldest first (by started_at; ISO 8601 strings in one time zone sort as times)."""
    return sorted(results, key=lambda r: r.started_at)
