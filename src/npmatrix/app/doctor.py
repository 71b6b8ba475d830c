"""`npmatrix doctor`: is everything a run needs in place? Each failed check says the command that fixes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from npmatrix.app import planning, preflight
from npmatrix.app.console import Console
from npmatrix.app.inputs import EngineOptions, Selection
from npmatrix.config.engine_choice import PODMAN_SOCKET, EngineChoice, EngineTarget
from npmatrix.config.matrix import Matrix
from npmatrix.config.platforms import Platform
from npmatrix.errors import EngineError, EngineUnavailable, ExitCode
from npmatrix.host import emulator
from npmatrix.host import engine as engine_module
from npmatrix.host.engine import Engine
from npmatrix.plan import cellplan, raspios
from npmatrix.plan.cellplan import CellPlan, bases_needed, place
from npmatrix.plan.protocol import X86_QEMU_HOST_PATH

BINFMT = emulator.BINFMT


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


def run_checks(plans: Sequence[CellPlan], choice: EngineChoice | None = None) -> list[Check]:
    """Per engine the selected cells use: does it answer, which builder, and for each platform on it, native
    or QEMU (the engine's architecture; the binfmt handler for an emulated one), its base images, leftovers."""
    choice = choice or EngineChoice()
    checks: list[Check] = []
    targets = choice.targets(list(dict.fromkeys(p.platform.name for p in plans)))
    for target in targets:
        mine = [p for p in plans if choice.for_platform(p.platform.name) == target]
        suffix = f" [{target.describe()}]" if len(targets) > 1 else ""
        checks += _engine_checks(target, mine, builder=choice.builder, suffix=suffix)
    return checks


def _engine_checks(target: EngineTarget, plans: list[CellPlan], *, builder: str | None, suffix: str) -> list[Check]:
    try:
        engine = Engine.connect(target)
        version = engine.version()
        native = engine.architecture()
        local = emulator.is_local(target.host, engine.kernel_version())
    except (EngineUnavailable, EngineError) as exc:
        fix = (
            "scripts/podman-up   # as root" if target.kind == "podman" else "make engine   # or: sudo scripts/engine-up"
        )
        return [Check("engine" + suffix, False, str(exc), fix if target.host in (None, PODMAN_SOCKET) else None)]
    name = "Podman" if target.kind == "podman" else "Docker"
    where = f", {target.describe()}" if target.host or target.context else ""
    detail = f"{name} {version['version']} (API {version['api_version']}{where}), native {native or 'unknown'}"
    checks = [Check("engine" + suffix, True, detail), _builder_check(target, builder)]
    platforms = {p.platform.name: p.platform for p in plans}
    checks += [_platform_check(p, native, target, local=local) for p in platforms.values()]
    emulated = [p for p in platforms.values() if p.name != native]
    if local and emulated:
        checks.append(_qemu_version_check(emulated))
    if any(place(p, native).placement.emulator == "qemu-x86_64" for p in plans):
        present = Path(X86_QEMU_HOST_PATH).is_file()
        checks.append(
            Check(
                "qemu-x86_64 (CPU models)",
                present,
                X86_QEMU_HOST_PATH + ("" if present else " missing"),
                None if present else "make engine   # or: apt-get install qemu-user-static",
            )
        )
    checks += [_cpu_not_applied(p) for p in plans if place(p, native).placement.cpu_not_applied]
    for recipe in bases_needed(tuple(plans)):
        present = engine.image_id(recipe.tag) is not None
        checks.append(
            Check(
                f"base {recipe.label}",
                present,
                recipe.tag if present else f"{recipe.tag} missing",
                None if present else f"npmatrix base build --arch {recipe.platform.name}" + _engine_flags(target),
            )
        )
    leftovers = engine.container_names()
    checks.append(
        Check(
            "leftover containers",
            not leftovers,
            ", ".join(leftovers) or "none",
            f"npmatrix clean{_engine_flags(target)}   # or: docker rm -f $(docker ps -aq --filter label=org.npmatrix)"
            if leftovers
            else None,
        )
    )
    return checks


def _engine_flags(target: EngineTarget) -> str:
    if target.kind == "podman":
        return " --engine podman"
    return "" if target.host is None and target.context is None else " (with the same --engine-for)"


def _platform_check(platform: Platform, native: str | None, target: EngineTarget, *, local: bool) -> Check:
    """Native when the engine's machine is the platform; else QEMU, whose binfmt handler we can read only for
    an engine on this machine's kernel (emulator.is_local)."""
    if native == platform.name:
        return Check(f"{platform.name}", True, f"native on {target.describe()}")
    if not local:
        return Check(
            f"{platform.name}",
            True,
            f"emulated (QEMU) on {target.describe()}, whose machine is {native or 'unknown'}: its binfmt handlers "
            "are not readable from here, so --reuse-results probes its cells again",
        )
    return _qemu_check(platform)


def _cpu_not_applied(plan: CellPlan) -> Check:
    return Check(
        f"cpu {plan.cell.name}",
        True,
        f"cpu = {plan.cell.cpu!r} not applied: {plan.platform.name} runs natively, as the engine's own CPU (only "
        "QEMU applies a CPU model)",
    )


def _builder_check(target: EngineTarget, builder: str | None) -> Check:
    try:
        return Check("builder", True, engine_module.detect_builder(target, builder=builder).describe())
    except EngineUnavailable as exc:
        fix = (
            "apt-get install podman"
            if target.kind == "podman"
            else "apt-get install docker-buildx   # or Debian's docker.io"
        )
        return Check("builder", False, str(exc), fix)


def _qemu_check(platform: Platform) -> Check:
    handler = BINFMT / platform.qemu
    parsed = emulator.parse_handler(handler.read_text()) if handler.exists() else None
    if parsed is not None and parsed.enabled:
        flags = parsed.flags
        if emulator.identity(platform, local=True, binfmt=BINFMT) is None:
            # It runs, but --reuse-results cannot name the QEMU it runs, so it never reuses these probes.
            return Check(
                f"QEMU {platform.name}",
                True,
                f"emulated: {handler} (flags: {flags}); its interpreter changed since the handler was registered "
                "(or is unreadable): the old copy still runs, and --reuse-results probes its cells again",
                f"update-binfmts --disable {platform.qemu} && update-binfmts --enable {platform.qemu}",
            )
        return Check(f"QEMU {platform.name}", True, f"emulated: {handler} (flags: {flags})")
    return Check(
        f"QEMU {platform.name}",
        False,
        f"no binfmt handler {handler}",
        "make engine   # mounts binfmt_misc and runs update-binfmts --enable",
    )


def _qemu_version_check(emulated: list[Platform]) -> Check:
    """The QEMU the first registered handler runs, by its own `--version`; QEMU 7 is still ok (it runs most
    cells) but named with its known crashes, so a segfault under emulation is not read as NumPy's fault."""
    found = next((v for v in (emulator.qemu_version(p, binfmt=BINFMT) for p in emulated) if v is not None), None)
    if found is None:
        return Check("QEMU version", True, "unknown: no registered handler answers --version")
    detail = f"{found.text} ({found.path})"
    if not found.crashy:
        return Check("QEMU version", True, detail)
    return Check(
        "QEMU version",
        True,
        f"warning: {detail}: QEMU < 8 segfaults under load (docker/setup-qemu-action#188, #198; numpy/numpy#28411)",
        "a QEMU >= 8: Debian 13's qemu-user-static (10.0) on a Debian 13 machine, or register a newer one",
    )


def index_checks(selected: Matrix) -> list[Check]:
    """Each piwheels the Raspberry Pi OS cells' pip would ask: reached or not. Not reached is no failure of the
    set-up (piwheels has no DNS from our machines): those cells run on PyPI alone, their answers marked incomplete."""
    urls = raspios.indexes_to_check(selected.cells)
    unreached = planning.find_unreached(urls) if urls else {}
    checks = []
    for url in urls:
        cells = ", ".join(c.name for c in selected.cells if raspios.piwheels_url(c) == url)
        if url in unreached:
            why = unreached[url]
            detail = f"{url}: not reached ({why}); the cells that ask it ({cells}) run on PyPI alone, marked incomplete"
        else:
            detail = f"{url}: answers; the cells that ask it as Raspberry Pi OS's pip does: {cells}"
        checks.append(Check("piwheels", True, detail))
    return checks


def render(checks: Sequence[Check]) -> str:
    lines = []
    for c in checks:
        lines.append(f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<26} {c.detail}")
        if c.fix:
            lines.append(f"      {'':<26} fix: {c.fix}")
    return "\n".join(lines)


def doctor(selection: Selection, engines: EngineOptions, console: Console) -> ExitCode:
    """The checks for the selected cells, one line each with its fix; 3 when one failed. A CPU model QEMU does
    not know is bad input, as in `run`: exit 2 before any engine is asked."""
    selected = selection.load()
    preflight.check_cpu_models(selected)
    checks = run_checks(cellplan.plan(selected), engines.choose(selected)) + index_checks(selected)
    console.say(render(checks))
    return ExitCode.OK if all(c.ok for c in checks) else ExitCode.ENGINE_UNAVAILABLE
