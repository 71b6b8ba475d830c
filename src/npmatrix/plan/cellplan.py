"""Plan: a pure function from a matrix to the steps that run it. Nothing here touches an engine."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from npmatrix.config import install
from npmatrix.config.matrix import Cell, Matrix
from npmatrix.config.platforms import Platform, presets
from npmatrix.plan import protocol
from npmatrix.plan.base_image import BaseRecipe
from npmatrix.plan.render import cell_dockerfile

# GEMM sizes: emulated CPUs are 10-20x slower, so they get smaller ones to keep a cell under a minute.
NATIVE_SIZES = (256, 512, 1024)
EMULATED_SIZES = (64, 128, 256)
REPEATS = 5
CELL_REPOSITORY = "npmatrix-cell"
PYTHONS: dict[install.PythonKind, str] = {"venv": "/opt/venv/bin/python3", "system": "/usr/bin/python3"}


@dataclass(frozen=True, kw_only=True)
class CellPlan:
    cell: Cell
    platform: Platform
    base: BaseRecipe | None  # None when the cell names a pinned base_image of its own
    dockerfile: str
    emulated: bool
    qemu_cpu: str | None  # the CPU model QEMU emulates; None means QEMU's default ("max") or native

    @property
    def base_image(self) -> str:
        return self.base.tag if self.base else str(self.cell.base_image)

    @property
    def image_tag(self) -> str:
        """Content-addressed: an image that exists under this tag was built from this very Dockerfile."""
        digest = hashlib.sha256(self.dockerfile.encode()).hexdigest()[:12]
        return f"{CELL_REPOSITORY}:{self.cell.name}-{digest}"

    @property
    def build_steps(self) -> str:
        """What the build computes: the Dockerfile without the lines that only name the cell (the header comment,
        the LABEL). Cells with the same steps (pi4-64 and pi5-64: the same pins, another board) build the same
        layers; once one has built, BuildKit's cache makes the other's build nearly free."""
        kept = [
            line
            for line in self.dockerfile.splitlines()
            if not line.startswith("#") and not line.startswith("LABEL org.npmatrix.cell=")
        ]
        return hashlib.sha256("\n".join(kept).encode()).hexdigest()

    @property
    def python(self) -> str:
        return PYTHONS[install.method(self.cell.install).python(self.cell)]

    @property
    def under_qemu(self) -> bool:
        """Emulated, or an amd64 cell run under qemu-x86_64 for a CPU model (runs_x86_emulator)."""
        return self.emulated or self.qemu_cpu is not None

    @property
    def bench_sizes(self) -> tuple[int, ...]:
        return EMULATED_SIZES if self.under_qemu else NATIVE_SIZES

    @property
    def runs_x86_emulator(self) -> bool:
        return self.qemu_cpu is not None and not self.emulated and self.platform.name == "amd64"

    @property
    def environment(self) -> dict[str, str]:
        # QEMU_CPU picks the CPU model qemu-user emulates; OpenBLAS and NumPy then see that CPU's features.
        if not self.qemu_cpu:
            return {}
        if self.runs_x86_emulator:
            # The probe's children (import, benchmark) must run under the same emulator.
            return {"QEMU_CPU": self.qemu_cpu, protocol.EXEC_PREFIX_VAR: protocol.X86_QEMU}
        return {"QEMU_CPU": self.qemu_cpu}

    @property
    def cpu_not_applied(self) -> bool:
        """The cell names a CPU model but runs natively on a non-x86 engine: only QEMU applies a model there
        (an ARM machine runs as the CPU it has), so the model is recorded as not applied, never shown as run."""
        return self.cell.cpu is not None and self.qemu_cpu is None

    @property
    def cpu_label(self) -> str | None:
        """The CPU model the cell ran as; an emulated cell without one ran as QEMU's default, "max"."""
        if self.qemu_cpu:
            return self.qemu_cpu
        return "max (QEMU default)" if self.emulated else None

    def probe_command(self, *, bench_stage: protocol.BenchStage = "inline") -> protocol.ProbeCommand:
        # Per child: the import, then each of the two benchmark runs; the container's own limit is the whole.
        child_timeout = max(20, self.cell.timeout // 3)
        return protocol.ProbeCommand(
            python=self.python,
            bench=True,
            bench_stage=bench_stage,
            sizes=self.bench_sizes,
            repeats=REPEATS,
            child_timeout=child_timeout,
            bench_timeout=child_timeout,
            imports=self.cell.imports,
        )


def plan(matrix: Matrix, *, template_dir: Path | None = None) -> tuple[CellPlan, ...]:
    return tuple(plan_cell(cell, template_dir=template_dir) for cell in matrix.cells)


def plan_cell(cell: Cell, *, template_dir: Path | None = None) -> CellPlan:
    platform = presets().platforms[cell.platform]
    base = None if cell.base_image else BaseRecipe(suite=cell.suite, platform=platform)
    base_image = base.tag if base else str(cell.base_image)
    return CellPlan(
        cell=cell,
        platform=platform,
        base=base,
        dockerfile=cell_dockerfile(cell, platform, base_image, template_dir=template_dir),
        emulated=platform.emulated,
        qemu_cpu=cell.cpu_spec.qemu[cell.platform] if cell.cpu_spec else None,
    )


def place(plan: CellPlan, engine_platform: str | None) -> CellPlan:
    """The plan as it runs on an engine whose machine is `engine_platform` (None: none of ours): emulated unless
    the machines match. A CPU model reaches a native amd64 cell through the x86 emulator the probe brings, but
    nothing applies one to a native ARM cell: its qemu_cpu is dropped (see `cpu_not_applied`)."""
    emulated = engine_platform != plan.platform.name
    keep_cpu = emulated or plan.platform.name == "amd64"
    return replace(plan, emulated=emulated, qemu_cpu=plan.qemu_cpu if keep_cpu else None)


def superseded(plans: tuple[CellPlan, ...], existing_tags: list[str]) -> list[str]:
    """Cell images left from earlier Dockerfiles of these cells: same cell name, another content hash."""
    current = {p.image_tag for p in plans}
    prefixes = tuple(f"{CELL_REPOSITORY}:{p.cell.name}-" for p in plans)
    return [t for t in existing_tags if t.startswith(prefixes) and t not in current and _is_hashed(t, prefixes)]


def _is_hashed(tag: str, prefixes: tuple[str, ...]) -> bool:
    # "pi32-apt-<hash>" must not count as an old "pi32-<hash>": the rest after the prefix is exactly a hash.
    return any(tag.startswith(p) and len(tag) - len(p) == 12 and "-" not in tag[len(p) :] for p in prefixes)


def bases_needed(plans: tuple[CellPlan, ...]) -> list[BaseRecipe]:
    """Each base image once, in the order cells first need it."""
    seen: dict[str, BaseRecipe] = {}
    for p in plans:
        if p.base and p.base.tag not in seen:
            seen[p.base.tag] = p.base
    return list(seen.values())
