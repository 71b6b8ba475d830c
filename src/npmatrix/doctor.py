"""`npmatrix doctor`: is everything a run needs in place? Each failed check says the command that fixes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from npmatrix import engine as engine_module
from npmatrix.engine import Engine
from npmatrix.errors import EngineError, EngineUnavailable
from npmatrix.plan import CellPlan, bases_needed
from npmatrix.platforms import Platform
from npmatrix.protocol import X86_QEMU_HOST_PATH

BINFMT = Path("/proc/sys/fs/binfmt_misc")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


def run_checks(plans: Sequence[CellPlan]) -> list[Check]:
    checks: list[Check] = []
    try:
        engine = Engine.connect()
        version = engine.version()
        checks.append(Check("engine", True, f"Docker {version['version']} (API {version['api_version']})"))
    except (EngineUnavailable, EngineError) as exc:
        return [Check("engine", False, str(exc), "make engine   # or: sudo scripts/engine-up")]
    checks.append(_builder_check())
    platforms = {p.platform.name: p.platform for p in plans}
    checks += [_qemu_check(p) for p in platforms.values() if p.emulated]
    if any(p.runs_x86_emulator for p in plans):
        present = Path(X86_QEMU_HOST_PATH).is_file()
        checks.append(
            Check(
                "qemu-x86_64 (CPU models)",
                present,
                X86_QEMU_HOST_PATH + ("" if present else " missing"),
                None if present else "make engine   # or: apt-get install qemu-user-static",
            )
        )
    for recipe in bases_needed(tuple(plans)):
        present = engine.image_id(recipe.tag) is not None
        checks.append(
            Check(
                f"base {recipe.suite} {recipe.platform.name}",
                present,
                recipe.tag if present else f"{recipe.tag} missing",
                None if present else f"npmatrix base build --arch {recipe.platform.name}",
            )
        )
    leftovers = engine.container_names()
    checks.append(
        Check(
            "leftover containers",
            not leftovers,
            ", ".join(leftovers) or "none",
            "docker rm -f $(docker ps -aq --filter label=org.npmatrix)" if leftovers else None,
        )
    )
    return checks


def _builder_check() -> Check:
    try:
        return Check("BuildKit", True, engine_module.detect_builder().describe())
    except EngineUnavailable as exc:
        return Check("BuildKit", False, str(exc), "apt-get install docker-buildx   # or Debian's docker.io")


def _qemu_check(platform: Platform) -> Check:
    handler = BINFMT / platform.qemu
    if handler.exists() and "enabled" in handler.read_text():
        flags = next((line for line in handler.read_text().splitlines() if line.startswith("flags")), "")
        return Check(f"QEMU {platform.name}", True, f"{handler} ({flags})")
    return Check(
        f"QEMU {platform.name}",
        False,
        f"no binfmt handler {handler}",
        "make engine   # mounts binfmt_misc and runs update-binfmts --enable",
    )


def render(checks: Sequence[Check]) -> str:
    lines = []
    for c in checks:
        lines.append(f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<26} {c.detail}")
        if c.fix:
            lines.append(f"      {'':<26} fix: {c.fix}")
    return "\n".join(lines)
