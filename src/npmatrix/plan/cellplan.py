"""Plan: a pure function from a matrix to the steps that run it. Nothing here touches an engine."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from npmatrix.config import install, platforms
from npmatrix.config.matrix import Cell, Matrix
from npmatrix.config.platforms import Platform, presets
from npmatrix.plan import protocol, raspios
from npmatrix.plan.base_image import BaseRecipe
from npmatrix.plan.placement import Emulator, Placement
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
    base: BaseRecipe | None  # None when the cell names a pinned base_image of its own; from its rootfs if any
    dockerfile: str
    placement: Placement  # where it runs: decided here, read by every later stage and view
    not_asked: tuple[raspios.NotAsked, ...] = ()  # what a real Pi asks that this run does not (plan/raspios.py)
    piwheels: str | None = None  # the piwheels the image's /etc/pip.conf names: pip asks it (plan/raspios.py)

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
    def bench_sizes(self) -> tuple[int, ...]:
        return EMULATED_SIZES if self.placement.under_qemu else NATIVE_SIZES

    @property
    def environment(self) -> dict[str, str]:
        # QEMU_CPU picks the CPU model qemu-user emulates; OpenBLAS and NumPy then see that CPU's features.
        model = self.placement.qemu_cpu
        if not model:
            return {}
        if self.placement.emulator == "qemu-x86_64":
            # The probe's children (import, benchmark) must run under the same emulator.
            return {"QEMU_CPU": model, protocol.EXEC_PREFIX_VAR: protocol.X86_QEMU}
        return {"QEMU_CPU": model}

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
            page_alignment=self.page_alignment,
        )

    @property
    def page_alignment(self) -> bool:
        """A cell whose Pi boots with pages above 4K (a Pi 5: `board` or `cpu` "pi5") gets the static check QEMU
        cannot replace."""
        profile = self.cell.pi
        return profile is not None and profile.page_size > 4096


NOTHING_UNREACHED: Mapping[str, str] = MappingProxyType({})


def plan(
    matrix: Matrix, *, template_dir: Path | None = None, unreached: Mapping[str, str] = NOTHING_UNREACHED
) -> tuple[CellPlan, ...]:
    """`unreached`: the indexes of raspios.indexes_to_check that did not answer, URL -> why (host/reach.py)."""
    return tuple(plan_cell(cell, template_dir=template_dir, unreached=unreached) for cell in matrix.cells)


def plan_cell(
    cell: Cell, *, template_dir: Path | None = None, unreached: Mapping[str, str] = NOTHING_UNREACHED
) -> CellPlan:
    platform = presets().platforms[cell.platform]
    base = None if cell.base_image else BaseRecipe(suite=cell.suite, platform=platform, rootfs=cell.rootfs)
    base_image = base.tag if base else str(cell.base_image)
    pip_conf = raspios.pip_conf(cell, unreached)
    return CellPlan(
        cell=cell,
        platform=platform,
        base=base,
        dockerfile=cell_dockerfile(cell, platform, base_image, template_dir=template_dir, pip_conf=pip_conf),
        # Until an engine is known (fleet.place), as it would run on this machine's own engine.
        placement=placement(cell, platform, platforms.host_platform_name()),
        not_asked=raspios.not_asked(cell, unreached),
        piwheels=raspios.piwheels_url(cell) if pip_conf else None,
    )


def place(plan: CellPlan, engine_platform: str | None, *, engine: str | None = None) -> CellPlan:
    """The plan as it runs on an engine whose machine is `engine_platform` (None: none of ours), named `engine`
    in labels (None: the local Docker)."""
    return replace(plan, placement=placement(plan.cell, plan.platform, engine_platform, engine=engine))


def placement(cell: Cell, platform: Platform, engine_platform: str | None, *, engine: str | None = None) -> Placement:
    """Emulated through binfmt unless the machines match. A CPU model reaches a native amd64 cell through the
    x86 emulator the probe brings, but nothing applies one to a native ARM cell: the model is recorded as not
    applied, never shown as run."""
    model = cell.cpu_spec.qemu[cell.platform] if cell.cpu_spec else None
    emulator: Emulator | None = None
    if engine_platform != platform.name:
        emulator = "binfmt"
    elif model is not None and platform.name == "amd64":
        emulator = "qemu-x86_64"
    qemu_cpu = model if emulator else None
    return Placement(
        platform=platform.name,
        oci=platform.oci,
        emulator=emulator,
        qemu_cpu=qemu_cpu,
        cpu_not_applied=cell.cpu is not None and qemu_cpu is None,
        engine=engine,
    )


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
