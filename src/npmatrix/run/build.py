"""Build base and cell images with BuildKit; a failed build is a result for its cell, not a crash."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from npmatrix.config import localinputs, project
from npmatrix.errors import ConfigError, EngineUnavailable
from npmatrix.host import process
from npmatrix.host.engine import Builder, Engine
from npmatrix.judge.outcomes import BuildOutcome
from npmatrix.plan.base_image import BaseRecipe
from npmatrix.plan.cellplan import CellPlan
from npmatrix.plan.render import base_dockerfile

# Host pip settings that may reach builds. Only http(s) URLs: a file:// index on the host means nothing
# inside a container. They travel as a BuildKit secret (a pip.conf), never as ENV, ARG or COPY.
_PIP_ENV = {"PIP_INDEX_URL": "index-url", "PIP_EXTRA_INDEX_URL": "extra-index-url", "PIP_TRUSTED_HOST": "trusted-host"}
_CA_CANDIDATES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")

Progress = Callable[[str], None]
ROOTFS_NAME = "rootfs.tar"  # in a base image's build context: what base.Dockerfile.j2 ADDs


def host_ca_bundle(environ: Mapping[str, str] = os.environ) -> Path | None:
    for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if environ.get(name) and Path(environ[name]).is_file():
            return Path(environ[name])
    return next((Path(p) for p in _CA_CANDIDATES if Path(p).is_file()), None)


def pip_config(environ: Mapping[str, str], *, has_cert: bool) -> str:
    """The pip.conf builds see as a secret: the host's index settings and, if any, its CA."""
    lines = ["[global]"]
    if has_cert:
        lines.append("cert = /run/secrets/pipcert")
    for var, key in _PIP_ENV.items():
        urls = [
            v for v in environ.get(var, "").split() if key == "trusted-host" or v.startswith(("http://", "https://"))
        ]
        if urls:
            lines.append(f"{key} = {' '.join(urls)}")
    return "\n".join(lines) + "\n"


def cell_secrets(secrets: Mapping[str, Path], piwheels: str | None) -> Mapping[str, Path]:
    """The secrets for one cell's build. pip reads the secret pip.conf (PIP_CONFIG_FILE) after /etc/pip.conf,
    so a host's own extra index (PIP_EXTRA_INDEX_URL: a CI mirror) would replace the piwheels a Raspberry Pi
    OS cell's pip.conf names, silently: for such a cell the secret's extra-index-url keeps piwheels too."""
    conf = secrets.get("pipconf")
    if piwheels is None or conf is None:
        return secrets
    lines = conf.read_text().splitlines()
    for i, line in enumerate(lines):
        key, _, urls = line.partition(" = ")
        if key == "extra-index-url":
            if piwheels not in urls.split():
                lines[i] = f"{line} {piwheels}"
            mine = conf.with_name(f"{conf.name}-{hashlib.sha256(piwheels.encode()).hexdigest()[:12]}")
            mine.write_text("\n".join(lines) + "\n")
            return {**secrets, "pipconf": mine}
    return secrets  # no extra index of the host's: /etc/pip.conf's stands


@contextmanager
def build_secrets(environ: Mapping[str, str] = os.environ) -> Iterator[dict[str, Path]]:
    """Secret files for one run, in a private temporary directory removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="npmatrix-secrets-") as tmp:
        ca = host_ca_bundle(environ)
        cert = Path(tmp, "pipcert")
        cert.write_bytes(ca.read_bytes() if ca else b"")
        conf = Path(tmp, "pipconf")
        conf.write_text(pip_config(environ, has_cert=ca is not None))
        yield {"pipconf": conf, "pipcert": cert}


def build_cell(
    plan: CellPlan,
    *,
    builder: Builder,
    engine: Engine,
    secrets: Mapping[str, Path],
    log_path: Path,
    rebuild: bool = False,
    progress: Progress | None = None,
    busy: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> BuildOutcome:
    """The cell's image: the one built earlier from the same Dockerfile, else a build, inside `busy()` (the
    run's record of work that can disturb a benchmark: schedule.Activity)."""
    existing = engine.image_id(plan.image_tag)
    if existing and not rebuild:
        note = f"reused {plan.image_tag} ({existing}): built earlier from the same Dockerfile\n"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(note)
        return BuildOutcome.reused(plan.image_tag, existing, log_path=log_path, note=note)
    with busy(), tempfile.TemporaryDirectory(prefix="npmatrix-ctx-") as context:
        Path(context, "Dockerfile").write_text(plan.dockerfile)
        try:
            localinputs.copy_into_context(
                Path(context), requirements=plan.cell.requirements, find_links=plan.cell.find_links
            )
            project.copy_into_context(Path(context), plan.cell.project)
        except ValueError as exc:
            raise ConfigError(str(exc), where=plan.cell.name) from None
        argv = builder.build_argv(
            context=Path(context),
            tag=plan.image_tag,
            oci_platform=plan.platform.oci,
            secrets=cell_secrets(secrets, plan.piwheels),
            no_cache=rebuild,
        )
        done = process.run(
            argv, env=builder.env, timeout=plan.cell.build_timeout, log_path=log_path, on_line=_build_steps(progress)
        )
    if not done.ok:
        engine.ping()  # a build that failed because the engine went away is the engine's failure, not the cell's
    image = engine.image_id(plan.image_tag) if done.ok else None
    return BuildOutcome(
        tag=plan.image_tag,
        ok=done.ok and image is not None,
        image_id=image,
        cached=False,
        exit_code=None if done.timed_out else done.exit_code,
        timed_out=done.timed_out,
        duration_s=done.duration_s,
        log_path=log_path,
        output=done.output,
    )


# BuildKit's plain progress announces each Dockerfile step once: "#7 [3/4] RUN python3 -m pip install ...".
_BUILDKIT_STEP = re.compile(r"^#\d+ \[(?:[\w/.-]+ )?(\d+)/(\d+)\] (.+)$")
# podman build (no --progress) announces them as "STEP 3/4: RUN python3 -m pip install ...".
_PODMAN_STEP = re.compile(r"^STEP (\d+)/(\d+): (.+)$")


def _build_steps(progress: Progress | None) -> Callable[[str], None] | None:
    """Progress for a build: its Dockerfile steps as they start (emulated builds run minutes in silence)."""
    if progress is None:
        return None
    seen: set[str] = set()

    def on_line(line: str) -> None:
        step = _BUILDKIT_STEP.match(line) or _PODMAN_STEP.match(line)
        if step and step.group(0) not in seen:
            seen.add(step.group(0))
            progress(f"step {step.group(1)}/{step.group(2)}: {step.group(3)[:90]}")

    return on_line


def _mmdebstrap_steps(recipe: BaseRecipe, progress: Progress) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        if line.startswith("I: ") and "chosen" not in line:
            progress(f"base {recipe.platform.name}: {line[3:].rstrip('.')}")

    return on_line


def ensure_base(
    recipe: BaseRecipe, *, builder: Builder, engine: Engine, log_path: Path, progress: Progress
) -> BuildOutcome:
    """The base image for `recipe`: reused when its content tag exists, else made with mmdebstrap, or from the
    cell's own rootfs tarball."""
    existing = engine.image_id(recipe.tag)
    if existing:
        return BuildOutcome.reused(recipe.tag, existing)
    with tempfile.TemporaryDirectory(prefix="npmatrix-base-") as context:
        strap = _rootfs_tarball(recipe, Path(context), log_path=log_path, progress=progress)
        if not strap.ok:
            return BuildOutcome(
                tag=recipe.tag,
                ok=False,
                image_id=None,
                cached=False,
                exit_code=strap.exit_code,
                timed_out=strap.timed_out,
                duration_s=strap.duration_s,
                log_path=log_path,
                output=strap.output,
            )
        Path(context, "Dockerfile").write_text(base_dockerfile(recipe))
        argv = builder.build_argv(context=Path(context), tag=recipe.tag, oci_platform=recipe.platform.oci)
        load = process.run(argv, env=builder.env, timeout=1800, log_path=log_path.with_suffix(".build.log"))
    image = engine.image_id(recipe.tag) if load.ok else None
    return BuildOutcome(
        tag=recipe.tag,
        ok=image is not None,
        image_id=image,
        cached=False,
        exit_code=load.exit_code,
        timed_out=load.timed_out,
        duration_s=strap.duration_s + load.duration_s,
        log_path=log_path,
        output=strap.output + load.output,
    )


def _rootfs_tarball(recipe: BaseRecipe, context: Path, *, log_path: Path, progress: Progress) -> process.Completed:
    """context/rootfs.tar: the cell's own tarball (linked, its hash checked), or one mmdebstrap makes."""
    tarball = context / ROOTFS_NAME
    if recipe.rootfs is not None:
        progress(f"base image {recipe.tag}: from {recipe.rootfs.path} (log: {log_path})")
        started = time.monotonic()
        try:
            localinputs.link_rootfs_into(context, recipe.rootfs, name=ROOTFS_NAME)
        except (ValueError, OSError) as exc:
            raise ConfigError(str(exc), where=f"base image {recipe.tag}") from None
        note = f"rootfs {recipe.rootfs.path} (sha256:{recipe.rootfs.sha256}) -> {ROOTFS_NAME}\n"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(note)
        return process.Completed(
            argv=("link", recipe.rootfs.path, str(tarball)),
            exit_code=0,
            output=note,
            duration_s=time.monotonic() - started,
            timed_out=False,
        )
    if shutil.which("mmdebstrap") is None:
        raise EngineUnavailable(
            f"base image {recipe.tag} is missing and mmdebstrap is not installed: "
            "run `make engine` (scripts/engine-up) or apt-get install mmdebstrap arch-test qemu-user-static"
        )
    progress(
        f"base image {recipe.tag}: mmdebstrap {recipe.suite} {recipe.platform.debian_arch} "
        f"(about 1 min native, 3-4 min emulated; log: {log_path})"
    )
    return process.run(
        recipe.mmdebstrap_argv(str(tarball)),
        # Maintainer scripts run under QEMU too: as the platform's build CPU (see data/platforms.toml).
        env={"QEMU_CPU": recipe.platform.build_cpu} if recipe.platform.build_cpu else None,
        timeout=1800,
        log_path=log_path,
        on_line=_mmdebstrap_steps(recipe, progress),
    )
