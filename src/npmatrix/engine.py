"""The one boundary to the container engine: external commands, BuildKit detection, containers.

Everything that starts a process or talks to the Docker daemon goes through here, so tests can swap
this module's pieces for fakes and the rest of npmatrix stays pure.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from npmatrix.errors import EngineUnavailable

LABEL = "org.npmatrix"  # every container we start carries it, so leftovers can be found and removed


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    output: str  # stdout and stderr, interleaved as the command wrote them
    duration_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    log_path: Path | None = None,
    on_line: Callable[[str], None] | None = None,
) -> Completed:
    """Run a command to completion; each line of its output goes to `log_path` (when given) as it is
    written, and to `on_line`, which long builds use to report progress.

    The command gets its own process group so a timeout or Ctrl-C kills it and everything it started.
    """
    started = time.monotonic()
    with _output_file(log_path) as out:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            return Completed(tuple(argv), 127, f"{argv[0]}: {exc.strerror}", 0.0)
        timed_out = _pump(proc, out, timeout=timeout, on_line=on_line)
        out.seek(0)
        output = out.read().decode(errors="replace")
    return Completed(tuple(argv), proc.returncode, output, time.monotonic() - started, timed_out)


def _pump(
    proc: subprocess.Popen[bytes], out: IO[bytes], *, timeout: float | None, on_line: Callable[[str], None] | None
) -> bool:
    """Copy the output until the command ends; True if the timeout killed it."""
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, expire) if timeout else None
    try:
        if timer:
            timer.start()
        assert proc.stdout is not None
        for raw in proc.stdout:
            out.write(raw)
            out.flush()
            if on_line:
                on_line(raw.decode(errors="replace").rstrip())
        proc.wait()
    except BaseException:  # Ctrl-C: take the whole process group down with us
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        if timer:
            timer.cancel()
    return fired.is_set()


def _output_file(log_path: Path | None) -> IO[bytes]:
    if log_path is None:
        return tempfile.TemporaryFile()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return open(log_path, "w+b")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


# ---------------------------------------------------------------------------------------------------------
# BuildKit: `docker buildx build --load` where the plugin exists, else a CLI with BuildKit built in.

BuilderKind = Literal["buildx", "buildkit"]


@dataclass(frozen=True)
class Builder:
    kind: BuilderKind
    docker: str  # path of the docker CLI that builds

    @property
    def env(self) -> dict[str, str]:
        return {"DOCKER_BUILDKIT": "1"} if self.kind == "buildkit" else {}

    def describe(self) -> str:
        how = "docker buildx build --load" if self.kind == "buildx" else "DOCKER_BUILDKIT=1 docker build"
        return f"{how} ({self.docker})"

    def build_argv(
        self,
        *,
        context: Path,
        tag: str,
        platform: str,
        secrets: Mapping[str, Path] = {},
        no_cache: bool = False,
    ) -> list[str]:
        argv = [self.docker, "buildx", "build", "--load"] if self.kind == "buildx" else [self.docker, "build"]
        argv += ["--platform", platform, "--network", "host", "--progress", "plain", "--tag", tag]
        for name, path in sorted(secrets.items()):
            argv += ["--secret", f"id={name},src={path}"]
        if no_cache:
            argv.append("--no-cache")
        return [*argv, str(context)]


def detect_builder() -> Builder:
    """Find a BuildKit path; detect, don't hard-code: CLIs differ between our machines and runners."""
    candidates = _docker_clis()
    for cli in candidates:
        if run([cli, "buildx", "version"], timeout=30).ok:
            return Builder("buildx", cli)
    for cli in candidates:
        probe = run([cli, "build", "--help"], env={"DOCKER_BUILDKIT": "1"}, timeout=30)
        if probe.ok and "--secret" in probe.output:
            return Builder("buildkit", cli)
    tried = ", ".join(candidates) or "no docker CLI on PATH"
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


def client() -> Any:
    """A Docker SDK client that has answered a ping, or EngineUnavailable saying how to get one."""
    import docker
    from docker.errors import DockerException

    try:
        engine = docker.from_env(timeout=120)
        engine.ping()
    except DockerException as exc:
        raise EngineUnavailable(
            f"no container engine answers ({exc.__class__.__name__}): run `make engine` (scripts/engine-up) "
            "as root on Debian/Ubuntu, or start Docker"
        ) from None
    return engine


def image_id(engine: Any, tag: str) -> str | None:
    from docker.errors import ImageNotFound

    try:
        return str(engine.images.get(tag).id)
    except ImageNotFound:
        return None


@dataclass(frozen=True)
class CallResult:
    exit_code: int | None  # None when the call timed out
    stdout: str
    stderr: str
    duration_s: float

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


@dataclass
class Container:
    """A container for one command, removed on exit whatever happens (set `keep` to debug).

    with Container(engine, image, platform="linux/arm/v7", labels=...) as box:
        box.copy_into({"probe.py": data}, "/npmatrix")
        result = box.call(["python3", "/npmatrix/probe.py"], timeout=300)
    """

    engine: Any
    image: str
    platform: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    keep: bool = False
    name: str = field(default_factory=lambda: f"npmatrix-{uuid.uuid4().hex[:12]}")
    _box: Any = None

    def __enter__(self) -> Container:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.remove()

    def call(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        files: Mapping[str, bytes] = {},
        files_dir: str = "/npmatrix",
    ) -> CallResult:
        """Create the container, copy `files` into `files_dir`, run `argv` and collect its output.

        A timeout on the client does not stop the container, so on timeout we kill it ourselves.
        """
        self._create(argv)
        if files:
            self._box.put_archive("/", _tar_of(files, files_dir))
        started = time.monotonic()
        self._box.start()
        exit_code = self._wait(timeout)
        duration = time.monotonic() - started
        stdout = self._box.logs(stdout=True, stderr=False).decode(errors="replace")
        stderr = self._box.logs(stdout=False, stderr=True).decode(errors="replace")
        return CallResult(exit_code, stdout, stderr, duration)

    def _create(self, argv: Sequence[str]) -> None:
        self._box = self.engine.containers.create(
            self.image,
            command=list(argv),
            name=self.name,
            platform=self.platform,
            environment=dict(self.environment),
            labels={LABEL: "1", **self.labels},
            network_mode="none",  # probes need no network; our machines have no bridge anyway
            detach=True,
        )

    def _wait(self, timeout: float) -> int | None:
        from requests.exceptions import ConnectionError, ReadTimeout

        try:
            return int(self._box.wait(timeout=timeout)["StatusCode"])
        except (ReadTimeout, ConnectionError):  # over a unix socket a read timeout arrives as ConnectionError
            self._box.kill()
            return None

    def remove(self) -> None:
        if self._box is None or self.keep:
            return
        from docker.errors import NotFound

        with contextlib.suppress(NotFound):
            self._box.remove(force=True)
        self._box = None


def _tar_of(files: Mapping[str, bytes], directory: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(f"{directory.strip('/')}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def image_tags(engine: Any, repository: str) -> list[str]:
    return sorted(
        t for image in engine.images.list(name=repository) for t in image.tags if t.startswith(f"{repository}:")
    )


def remove_image(engine: Any, tag: str) -> None:
    from docker.errors import ImageNotFound

    with contextlib.suppress(ImageNotFound):
        engine.images.remove(tag, force=True)


def remove_leftover_containers(engine: Any) -> list[str]:
    from docker.errors import NotFound

    removed = []
    for box in engine.containers.list(all=True, filters={"label": LABEL}):
        with contextlib.suppress(NotFound):
            box.remove(force=True)
            removed.append(str(box.name))
    return removed


def leftover_containers(engine: Any) -> list[str]:
    return [str(c.name) for c in engine.containers.list(all=True, filters={"label": LABEL})]
