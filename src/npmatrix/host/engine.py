"""The one boundary to the container engine: BuildKit detection, and the daemon through the Docker SDK.

`Engine` wraps the SDK client; every SDK or transport error leaves it as our own `EngineError`, so callers
never import docker or requests. External commands (BuildKit builds, mmdebstrap) go through
npmatrix.host.process. Unit tests use the hand-written fake in tests/unit/fakes.py instead of this.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import resource
import shutil
import tarfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import docker
import docker.errors
import docker.types
import requests.exceptions
from docker.models.containers import Container as SdkContainer

from npmatrix.config.engine_choice import PODMAN_SOCKET, EngineTarget
from npmatrix.config.platforms import machine_platform
from npmatrix.errors import EngineError, EngineUnavailable
from npmatrix.host import process
from npmatrix.plan import protocol

LABEL = "org.npmatrix"  # every container we start carries it, so leftovers can be found and removed
RUN_LABEL = "org.npmatrix.run"  # the run a container belongs to
OWNER_LABEL = "org.npmatrix.host.owner"  # the process that runs it (npmatrix.host.owner): `clean` spares live runs


@dataclass(frozen=True, kw_only=True)
class Lockdown:
    """How a probe container is confined. The probe only reads its image, runs Python children and prints:
    it needs no network, no capability, no privilege escalation, no writable root and no more than a few
    hundred MB. What it needs written (its scripts) goes into an anonymous volume at `scripts_dir`, because
    the engine refuses to copy into a read-only root file system ("container rootfs is marked read-only"),
    and a tmpfs is not mounted before the container starts."""

    memory: str = "2g"  # Docker's mem_limit; swap is capped to the same, so the limit is hard
    pids: int = 512
    user: str = "65534:65534"  # nobody: numeric, so it works in an image without /etc/passwd entries
    tmpfs_size: str = "64m"
    scripts_dir: str | None = protocol.PROBE_DIR
    # Resource limits (nofile, nproc) set explicitly; empty: the engine's defaults. Podman's defaults exceed
    # what runc may set on some hosts ("error setting rlimit type 7"): see podman_ulimits.
    ulimits: Mapping[str, int] = field(default_factory=dict)

    def host_config(self) -> dict[str, object]:
        """The keyword arguments for the SDK's containers.create."""
        mounts = [docker.types.Mount(target=self.scripts_dir, source=None, type="volume")] if self.scripts_dir else []
        return {
            "user": self.user,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={self.tmpfs_size},mode=1777"},
            "mounts": mounts,
            "mem_limit": self.memory,
            "memswap_limit": self.memory,
            "pids_limit": self.pids,
            "network_mode": "none",  # probes need no network; our machines have no bridge anyway
            "ulimits": [docker.types.Ulimit(name=n, soft=v, hard=v) for n, v in sorted(self.ulimits.items())],
        }


# ---------------------------------------------------------------------------------------------------------
# BuildKit: `docker buildx build --load` where the plugin exists, else a CLI with BuildKit built in.

BuilderKind = Literal["buildx", "buildkit", "podman"]


@dataclass(frozen=True, kw_only=True)
class Builder:
    kind: BuilderKind
    cli: str  # path of the CLI that builds: docker, or podman
    host: str | None = None  # the engine the image must land in (DOCKER_HOST, or podman's --url); None: local
    builder: str | None = None  # a named buildx builder (`--builder`); None: the engine's own BuildKit

    @property
    def env(self) -> dict[str, str]:
        env = {"DOCKER_BUILDKIT": "1"} if self.kind == "buildkit" else {}
        if self.host and self.kind != "podman":
            env["DOCKER_HOST"] = self.host  # the docker CLI builds on, and loads into, that engine
        return env

    def describe(self) -> str:
        how = {
            "buildx": "docker buildx build" + (f" --builder {self.builder}" if self.builder else "") + " --load",
            "buildkit": "DOCKER_BUILDKIT=1 docker build",
            "podman": "podman build",
        }[self.kind]
        return f"{how} ({self.cli}{f' -> {self.host}' if self.host else ''})"

    def build_argv(
        self,
        *,
        context: Path,
        tag: str,
        oci_platform: str,
        secrets: Mapping[str, Path] | None = None,
        no_cache: bool = False,
    ) -> list[str]:
        if self.kind == "buildx":
            argv = [self.cli, "buildx", "build", *(["--builder", self.builder] if self.builder else []), "--load"]
        elif self.kind == "podman":
            # podman 4.3 has no --progress: it prints "STEP n/m: ..." lines of its own (build._PODMAN_STEP).
            argv = [self.cli, *(["--url", self.host] if self.host else []), "build"]
        else:
            argv = [self.cli, "build"]
        argv += ["--platform", oci_platform, "--network", "host"]
        if self.kind != "podman":
            argv += ["--progress", "plain"]
        argv += ["--tag", tag]
        for name, path in sorted((secrets or {}).items()):
            argv += ["--secret", f"id={name},src={path}"]
        if no_cache:
            argv.append("--no-cache")
        return [*argv, str(context)]


def detect_builder(target: EngineTarget | None = None, *, builder: str | None = None) -> Builder:
    """The build CLI for `target`; detect, don't hard-code: CLIs differ between our machines and runners.
    Podman builds with `podman build`; Docker with `docker buildx build --load` where the plugin exists (and
    must, for a named `builder`), else a docker CLI with BuildKit built in."""
    target = target or EngineTarget()
    if target.kind == "podman":
        cli = shutil.which("podman")
        if cli is None:
            raise EngineUnavailable("podman is not installed: run scripts/podman-up as root, or apt-get install podman")
        return Builder(kind="podman", cli=cli, host=None if target.host == PODMAN_SOCKET else target.host)
    candidates = _docker_clis()
    for cli in candidates:
        if process.run([cli, "buildx", "version"], timeout=30).ok:
            return Builder(kind="buildx", cli=cli, host=target.host, builder=builder)
    tried = ", ".join(candidates) or "no docker CLI on PATH"
    if builder is not None:
        raise EngineUnavailable(
            f"--builder {builder} needs the docker buildx plugin and no docker CLI has it (tried {tried}): "
            "install docker-buildx, or leave --builder out to build on the engine's own BuildKit"
        )
    for cli in candidates:
        probe = process.run([cli, "build", "--help"], env={"DOCKER_BUILDKIT": "1"}, timeout=30)
        if probe.ok and "--secret" in probe.output:
            return Builder(kind="buildkit", cli=cli, host=target.host)
    raise EngineUnavailable(
        f"no BuildKit found (tried {tried}): install the buildx plugin (apt-get install docker-buildx) "
        "or Debian's docker.io, whose CLI has BuildKit built in"
    )


def _docker_clis() -> list[str]:
    found = [shutil.which("docker"), "/usr/bin/docker", "/usr/local/bin/docker"]
    unique: list[str] = []
    for path in found:
        if path and os.path.exists(path) and os.path.realpath(path) not in map(os.path.realpath, unique):
            unique.append(path)
    return unique


# ---------------------------------------------------------------------------------------------------------
# The daemon, through the Docker SDK.


@contextlib.contextmanager
def _engine_errors(action: str) -> Iterator[None]:
    """SDK and transport failures become EngineError, one line saying what we were doing."""
    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise EngineError(f"{action}: {type(exc).__name__}: {detail}") from exc


class Engine:
    """A container engine (Docker, or Podman's Docker-compatible API) that has answered a ping."""

    def __init__(self, client: docker.DockerClient, target: EngineTarget | None = None) -> None:
        self._client = client
        self._machine_info: dict[str, Any] | None = None
        self.target = target or EngineTarget()

    @classmethod
    def connect(cls, target: EngineTarget | None = None, *, timeout: int = 120) -> Engine:
        """The engine `target` names (None: DOCKER_HOST or the default socket), or EngineUnavailable saying how
        to get one."""
        target = target or EngineTarget()
        try:
            if target.host is None or target.host == os.environ.get("DOCKER_HOST"):
                # As before engines were chosen: from_env also reads DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
                client = docker.from_env(timeout=timeout)
            else:
                # ssh:// through the system's ssh client (its config, agent and known_hosts), not paramiko.
                ssh = target.host.startswith("ssh://")
                client = docker.DockerClient(base_url=target.host, timeout=timeout, use_ssh_client=ssh)
            client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
            raise EngineUnavailable(
                f"no container engine answers at {target.describe()} ({exc.__class__.__name__}): "
                + _how_to_start(target)
            ) from None
        return cls(client, target)

    def architecture(self) -> str | None:
        """The platform the engine's machine runs natively (amd64, arm64, arm/v7), from its Architecture
        (Docker says x86_64/aarch64, Podman amd64/arm64); None if it is none of ours."""
        with _engine_errors("asking the engine its architecture"):
            return machine_platform(str(self._info().get("Architecture") or ""))

    def kernel_version(self) -> str | None:
        """The kernel release of the engine's machine (`docker info` KernelVersion): equal to ours when the
        engine runs on this machine, not in a VM (Docker Desktop, colima) or elsewhere."""
        with _engine_errors("asking the engine its kernel"):
            return str(self._info().get("KernelVersion") or "") or None

    def _info(self) -> dict[str, Any]:
        """`docker info`, asked once per connection: its machine facts (architecture, kernel) do not change."""
        if self._machine_info is None:
            self._machine_info = dict(self._client.info())
        return self._machine_info

    def ping(self) -> None:
        """EngineError if the engine no longer answers: tells a build that failed from an engine that went away."""
        with _engine_errors("asking the engine whether it is still there"):
            self._client.ping()

    def version(self) -> dict[str, str]:
        with _engine_errors("asking the engine its version"):
            info = self._client.version()
        return {"version": str(info.get("Version")), "api_version": str(info.get("ApiVersion"))}

    def image_id(self, tag: str) -> str | None:
        with _engine_errors(f"looking up image {tag}"):
            try:
                return str(self._client.images.get(tag).id)
            except docker.errors.ImageNotFound:
                return None

    def image_tags(self, repository: str) -> list[str]:
        with _engine_errors(f"listing images of {repository}"):
            images = self._client.images.list(name=repository)
        # Podman names local images localhost/NAME:TAG; the short name finds them, so that is what we use.
        tags = (t.removeprefix("localhost/") for image in images for t in image.tags)
        return sorted(t for t in tags if t.startswith(f"{repository}:"))

    def remove_image(self, tag: str) -> None:
        with _engine_errors(f"removing image {tag}"), contextlib.suppress(docker.errors.ImageNotFound):
            self._client.images.remove(tag, force=True)

    def container_names(self, *, label: str = LABEL) -> list[str]:
        with _engine_errors("listing containers"):
            return [str(c.name) for c in self._client.containers.list(all=True, filters={"label": label})]

    def list_containers(self, *, label: str = LABEL) -> dict[str, dict[str, str]]:
        """Our containers, by name, with their labels."""
        with _engine_errors("listing containers"):
            boxes = self._client.containers.list(all=True, filters={"label": label})
            return {str(c.name): dict(c.labels or {}) for c in boxes}

    def remove_container(self, name: str) -> None:
        with _engine_errors(f"removing {name}"), contextlib.suppress(docker.errors.NotFound):
            self._client.containers.get(name).remove(force=True, v=True)

    def container(
        self,
        image: str,
        command: Sequence[str],
        *,
        oci_platform: str | None = None,
        environment: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        keep: bool = False,
        lockdown: Lockdown | None = None,
    ) -> Container:
        lockdown = lockdown or Lockdown()
        if self.target.kind == "podman" and not lockdown.ulimits:
            lockdown = dataclasses.replace(lockdown, ulimits=podman_ulimits())
        return Container(
            self._client,
            image,
            command,
            oci_platform=oci_platform,
            environment=environment or {},
            labels=labels or {},
            keep=keep,
            lockdown=lockdown,
        )


def _how_to_start(target: EngineTarget) -> str:
    if target.kind == "podman":
        return "run scripts/podman-up as root (podman system service on the socket), or set CONTAINER_HOST"
    if target.host is None:
        return "run `make engine` (scripts/engine-up) as root on Debian/Ubuntu, or start Docker"
    return "start the engine there, or check the URL/context (`docker -H URL info` must answer)"


def podman_ulimits() -> dict[str, int]:
    """Podman sets open files and processes to high defaults that runc may not set here ("error setting
    rlimit type 7", then "type 6", measured with podman 4.3: shared/ENGINE.md), so we set them: open files at
    this host's hard limit (at most 20000), processes at 4096 (the container's pids limit is lower anyway)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 20000 if hard == resource.RLIM_INFINITY else min(hard, 20000)
    return {"nofile": nofile, "nproc": 4096}


@dataclass(frozen=True, kw_only=True)
class CallResult:
    exit_code: int | None  # None when the call timed out
    stdout: str
    stderr: str
    duration_s: float
    oom_killed: bool = False  # the engine's State.OOMKilled: the kernel killed a process for memory

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


class Container:
    """One container for one command, created on entering and removed on leaving, whatever happens.

        with engine.container(image, ["python3", "/npmatrix/probe.py"], oci_platform="linux/arm/v7") as box:
            box.copy_into({"probe.py": data}, "/npmatrix")
            result = box.run(timeout=300)

    Each Container creates exactly one engine container, under a unique name: entering it twice is an error,
    so no second container can be made (and leaked) under the same name. `keep` leaves it for debugging.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        image: str,
        command: Sequence[str],
        *,
        oci_platform: str | None,
        environment: Mapping[str, str],
        labels: Mapping[str, str],
        keep: bool,
        lockdown: Lockdown,
    ) -> None:
        self._client = client
        self.lockdown = lockdown
        self.image = image
        self.command = list(command)
        self.oci_platform = oci_platform
        self.environment = dict(environment)
        self.labels = {LABEL: "1", **labels}
        self.keep = keep
        self.name = f"npmatrix-{uuid.uuid4().hex[:12]}"
        self._box: SdkContainer | None = None
        self._entered = False

    def __enter__(self) -> Container:
        if self._entered:
            raise EngineError(f"container {self.name} was already created; make a new Container for a new command")
        self._entered = True
        with _engine_errors(f"creating a container of {self.image}"):
            self._box = self._client.containers.create(
                self.image,
                command=self.command,
                name=self.name,
                platform=self.oci_platform,
                environment={"HOME": "/tmp", **self.environment},  # nobody's home does not exist
                labels=self.labels,
                detach=True,
                **self.lockdown.host_config(),
            )
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.remove()

    def _created(self) -> SdkContainer:
        if self._box is None:
            raise EngineError(f"container {self.name} is not created: use it in a `with` block")
        return self._box

    def copy_into(self, files: Mapping[str, bytes], directory: str) -> None:
        """Into the lockdown's scripts volume: the engine extracts an archive only inside a volume when the root
        file system is read-only, so the archive goes to the volume's own path, not to '/'."""
        if directory != self.lockdown.scripts_dir:
            raise EngineError(f"container {self.name} can take files only in {self.lockdown.scripts_dir}")
        with _engine_errors(f"copying files into {self.name}"):
            self._created().put_archive(directory, _tar_of(files))

    def run(self, *, timeout: float) -> CallResult:
        """Start the command and collect its output. A timeout on the client does not stop the container,
        so on timeout we kill it ourselves (shared/ENGINE.md)."""
        box = self._created()
        with _engine_errors(f"running {self.name}"):
            started = time.monotonic()
            box.start()
            exit_code = self._wait(box, timeout)
            duration = time.monotonic() - started
            stdout = box.logs(stdout=True, stderr=False).decode(errors="replace")
            stderr = box.logs(stdout=False, stderr=True).decode(errors="replace")
            box.reload()
            oom_killed = bool((box.attrs.get("State") or {}).get("OOMKilled"))
        return CallResult(exit_code=exit_code, stdout=stdout, stderr=stderr, duration_s=duration, oom_killed=oom_killed)

    @staticmethod
    def _wait(box: SdkContainer, timeout: float) -> int | None:
        try:
            return int(box.wait(timeout=timeout)["StatusCode"])
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            # over a unix socket a read timeout arrives as ConnectionError
            box.kill()
            return None

    def remove(self) -> None:
        if self._box is None or self.keep:
            return
        with _engine_errors(f"removing {self.name}"), contextlib.suppress(docker.errors.NotFound):
            self._box.remove(force=True, v=True)  # v: its anonymous scripts volume too
        self._box = None


def _tar_of(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
