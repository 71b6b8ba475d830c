"""Works, but slow: advisories on cells that work. Not a failure status; a note with its fix.

"Why is NumPy so slow on my Pi?" is asked more often than "why does it fail": Debian's python3-numpy on armhf
runs on the reference BLAS (netlib's libblas3) unless an optimised one is installed, piwheels' wheels on ATLAS,
and either may run single-threaded. Each advisory here is read from the probe's facts of one cell, or (GEMM far
below OpenBLAS) from all cells of one run: a pure pass, no engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from npmatrix.judge.facts import ProbeSummary

Kind = Literal["reference-blas", "atlas", "single-threaded-blas", "slow-gemm", "page-size"]
# GEMM this many times below the best OpenBLAS cell of the same platform in the same run counts as "far below".
FAR_BELOW = 3.0


@dataclass(frozen=True, kw_only=True)
class Advisory:
    kind: Kind
    message: str
    fix: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "fix": self.fix}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Advisory:
        return cls(kind=record["kind"], message=str(record["message"]), fix=str(record["fix"]))


@dataclass(frozen=True, kw_only=True)
class Ran:
    """What the run-wide pass needs of one cell."""

    name: str
    oci_platform: str
    under_qemu: bool  # Placement.under_qemu
    works: bool
    summary: ProbeSummary | None
    page_alignment: Mapping[str, Any] | None = None  # the probe's page_alignment section (a Pi 5 cell)


def for_run(cells: Sequence[Ran]) -> dict[str, tuple[Advisory, ...]]:
    """Every working cell's advisories, the run-wide GEMM comparison included; cells without any are absent."""
    found: dict[str, tuple[Advisory, ...]] = {}
    for cell in cells:
        if not cell.works or cell.summary is None:
            continue
        notes = for_cell(cell.summary) + _slow_gemm(cell, cells) + page_size(cell.page_alignment)
        if notes:
            found[cell.name] = notes
    return found


def _alternatives(s: ProbeSummary) -> str:
    triplet = s.multiarch or "<triplet>"
    return f"update-alternatives --config libblas.so.3-{triplet} (and liblapack.so.3-{triplet})"


def for_cell(s: ProbeSummary) -> tuple[Advisory, ...]:
    """The advisories one cell's facts carry on their own."""
    notes: list[Advisory] = []
    libraries = " ".join(s.blas_libraries).lower()
    blas = (s.blas or "").lower()
    openblas = bool(s.openblas_core) or "openblas" in libraries or "openblas" in blas
    if "atlas" in libraries or "atlas" in blas or "f77blas" in blas:
        notes.append(
            Advisory(
                kind="atlas",
                message="NumPy runs on ATLAS, which Debian dropped after bullseye and which is several times slower "
                "than OpenBLAS for GEMM",
                fix=f"apt install libopenblas0 and select it with {_alternatives(s)}, or use NumPy's PyPI wheel "
                "(bundles OpenBLAS) where the platform has one",
            )
        )
    elif not openblas and ("/blas/libblas.so" in libraries or blas.startswith("libblas") or blas == "blas"):
        notes.append(
            Advisory(
                kind="reference-blas",
                message="NumPy runs on the reference BLAS (netlib's libblas.so.3, unoptimised and single-threaded): "
                "GEMM is usually several times slower than with OpenBLAS on the same CPU",
                fix=f"apt install libopenblas0 (Debian then points libblas.so.3 at it; check with {_alternatives(s)}), "
                "or use NumPy's PyPI wheel (bundles OpenBLAS) where the platform has one",
            )
        )
    if openblas and s.openblas_threads == 1 and (s.cpu_count or 1) > 1:
        notes.append(
            Advisory(
                kind="single-threaded-blas",
                message=f"OpenBLAS runs on 1 thread of {s.cpu_count} CPUs (a serial build, or OPENBLAS_NUM_THREADS/"
                "OMP_NUM_THREADS set to 1)",
                fix="install libopenblas0-pthread (or libopenblas0-openmp) instead of libopenblas0-serial, "
                "and unset OPENBLAS_NUM_THREADS/OMP_NUM_THREADS",
            )
        )
    return tuple(notes)


def _uses_openblas(s: ProbeSummary) -> bool:
    return bool(s.openblas_core) or "openblas" in (s.blas or "").lower()


def _slow_gemm(cell: Ran, cells: Sequence[Ran]) -> tuple[Advisory, ...]:
    """GEMM far below the best OpenBLAS cell of the same platform in this run. Native cells only: emulated
    GFLOP/s measure QEMU's translation of each kernel, not the CPU (under QEMU, Debian's ARMv6 OpenBLAS kernel
    measured slower than the reference BLAS), so they are never compared."""
    s = cell.summary
    mine = s.best_gflops("float64") if s else None
    if cell.under_qemu or s is None or mine is None or _uses_openblas(s):
        return ()
    peers = [
        (peer.name, peer.summary.best_gflops("float64"))
        for peer in cells
        if peer.works and not peer.under_qemu and peer.oci_platform == cell.oci_platform
        if peer.summary is not None and _uses_openblas(peer.summary) and peer.name != cell.name
    ]
    measured = [(name, value) for name, value in peers if value]
    if not measured:
        return ()
    best_name, best = max(measured, key=lambda p: p[1] or 0.0)
    if best is None or mine * FAR_BELOW > best:
        return ()
    return (
        Advisory(
            kind="slow-gemm",
            message=f"float64 GEMM reaches {mine:.1f} GFLOP/s, {best / max(mine, 1e-9):.0f}x below {best_name} "
            f"({best:.1f} GFLOP/s with OpenBLAS) on the same platform in this run",
            fix="use NumPy's PyPI wheel (bundles OpenBLAS), or apt install libopenblas0 for Debian's python3-numpy",
        ),
    )


def page_size(section: Mapping[str, Any] | None) -> tuple[Advisory, ...]:
    """Works here, will fail on a real Pi 5: shared objects aligned below its kernel's 16K pages (pagesize.py
    read their PT_LOAD headers; qemu-user runs with the host's 4K pages, so the run itself cannot show it)."""
    below = (section or {}).get("below_page_size") or []
    if not below:
        return ()
    size = int((section or {}).get("page_size", 16384)) // 1024
    names = ", ".join(f"{str(b['path']).rsplit('/', 1)[-1]} ({int(b['min_load_align']) // 1024}K)" for b in below[:3])
    more = f" and {len(below) - 3} more" if len(below) > 3 else ""
    return (
        Advisory(
            kind="page-size",
            message=f"works here, will fail on a real Pi 5 with its default {size}K kernel: {names}{more} "
            f"aligned below {size}K pages, which its loader refuses",
            fix="kernel=kernel8.img in config.txt (4K pages), or a build aligned to 64K",
        ),
    )
