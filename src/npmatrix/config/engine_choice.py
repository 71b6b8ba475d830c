"""Which engine runs which cell: `--engine`, `--engine-for`, `--builder`, DOCKER_HOST and docker contexts.

Resolved once, before anything connects, into one immutable `EngineChoice`:

- the default engine: `--engine docker` (the default) follows the Docker CLI's order: DOCKER_HOST, then
  DOCKER_CONTEXT, then the current context in $DOCKER_CONFIG/config.json, then the default socket;
  `--engine podman` is Podman's Docker-compatible API socket (CONTAINER_HOST, else the rootful socket
  scripts/podman-up starts);
- per platform: `--engine-for arm64=ssh://pi@host` (or a docker context name, or a unix:// / tcp:// URL), and
  the same in a matrix file's `[engine_for]` table; the command line wins over the file;
- a buildx builder: `--builder NAME` builds with `docker buildx build --builder NAME --load`.

No Docker SDK here (npmatrix.host.engine connects): this module only reads the docker CLI's context files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from npmatrix.config.platforms import presets
from npmatrix.errors import ConfigError
from npmatrix.text import did_you_mean

EngineKind = Literal["docker", "podman"]
KINDS: tuple[EngineKind, ...] = ("docker", "podman")
PODMAN_SOCKET = "unix:///run/podman/podman.sock"  # rootful `podman system service` (scripts/podman-up)
URL_SCHEMES = ("unix", "tcp", "ssh")
# Docker's own rule for context (and buildx builder) names.
NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.+-]{0,99}")
# A DOCKER_HOST-style URL: a scheme we connect through, then printable ASCII without spaces or quotes.
_URL_PATTERN = re.compile(r"(unix|tcp|ssh)://[\x21-\x7e]{1,300}")
_URL_FORBIDDEN = set("\"'`\\$;&|<>")


@dataclass(frozen=True, kw_only=True)
class EngineTarget:
    """One engine to connect to. `host` None is the Docker SDK's default (the local socket)."""

    kind: EngineKind = "docker"
    host: str | None = None
    context: str | None = None  # the docker context that named it, if one did

    def describe(self) -> str:
        where = self.host or "default socket"
        return f"{self.kind} context {self.context} ({where})" if self.context else f"{self.kind} ({where})"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "host": self.host, "context": self.context}


@dataclass(frozen=True, kw_only=True)
class EngineChoice:
    """The engine of each platform: `per_platform` where named, else `default`; and the buildx builder."""

    default: EngineTarget = field(default_factory=EngineTarget)
    per_platform: Mapping[str, EngineTarget] = field(default_factory=dict)
    builder: str | None = None

    def for_platform(self, name: str) -> EngineTarget:
        return self.per_platform.get(name, self.default)

    def targets(self, platforms: Iterable[str]) -> list[EngineTarget]:
        """The distinct engines cells on `platforms` use, in the order they first appear."""
        return list(dict.fromkeys(self.for_platform(p) for p in platforms))

    def all_targets(self) -> list[EngineTarget]:
        """The default engine and every named one (what `clean` goes through)."""
        return list(dict.fromkeys([self.default, *(self.per_platform[p] for p in sorted(self.per_platform))]))


def check_name(value: str, *, what: str, where: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise ConfigError(
            f"{what} {value!r} is not a valid name (letters, digits, then also _ . + -; at most 100)", where=where
        )
    return value


def check_target(value: str, *, where: str) -> str:
    """ENGINE of PLATFORM=ENGINE: a unix://, tcp:// or ssh:// URL, or a docker context name."""
    if "://" in value:
        scheme = value.split("://", 1)[0]
        if scheme not in URL_SCHEMES:
            raise ConfigError(
                f"engine URL {value!r} has scheme {scheme!r}; use unix://, tcp:// or ssh:// (as DOCKER_HOST does)",
                where=where,
            )
        if not _URL_PATTERN.fullmatch(value) or _URL_FORBIDDEN & set(value):
            raise ConfigError(
                f"engine URL {value!r} is malformed: a path or host after {scheme}://, no spaces, quotes or "
                "shell characters",
                where=where,
            )
        return _check_address(value, scheme, where=where)
    return check_name(value, what="docker context", where=where)


def _check_address(value: str, scheme: str, *, where: str) -> str:
    """The URL as the Docker SDK parses it (docker.utils.parse_host), checked here so that a bad one is one
    line, exit 2, in every command (run, clean, doctor, base build) instead of a traceback at connect: no
    query, fragment or password; tcp:// needs HOST:PORT, ssh:// takes no path; a port is 1-65535 and an IPv6
    host is bracketed."""
    try:
        parts = urllib.parse.urlsplit(value)
        port = parts.port  # ValueError: not a number, or beyond 65535
    except ValueError as exc:
        raise ConfigError(f"engine URL {value!r} is malformed: {exc}", where=where) from None
    if parts.query or parts.fragment or parts.password is not None or "?" in value or "#" in value:
        raise ConfigError(f"engine URL {value!r} is malformed: no query, fragment or password", where=where)
    if scheme == "unix":
        return value
    if not parts.hostname:
        raise ConfigError(f"engine URL {value!r} names no host after {scheme}://", where=where)
    if port == 0 or (scheme == "tcp" and port is None):
        raise ConfigError(f"engine URL {value!r} needs a port of 1-65535, as in tcp://HOST:2376", where=where)
    if scheme == "ssh" and parts.path:
        raise ConfigError(f"engine URL {value!r} is malformed: ssh:// takes [USER@]HOST[:PORT], no path", where=where)
    return value


def parse_engine_for(value: str, *, where: str = "--engine-for") -> tuple[str, str]:
    """PLATFORM=ENGINE, checked: a known platform and a well-formed engine."""
    platform, sep, target = value.partition("=")
    if not sep or not platform or not target:
        raise ConfigError(
            f"{value!r} is not PLATFORM=ENGINE, e.g. arm64=ssh://pi@raspberrypi or arm64=my-context", where=where
        )
    return check_platform(platform, where=where), check_target(target, where=where)


def check_platform(name: str, *, where: str) -> str:
    known = list(presets().platforms)
    if name not in known:
        hint = did_you_mean(name, known, in_parentheses=False)
        raise ConfigError(f"unknown platform {name!r}{hint} (one of {', '.join(known)})", where=where)
    return name


def parse_engine_for_options(values: Iterable[str]) -> dict[str, str]:
    """Repeated --engine-for PLATFORM=ENGINE; a platform given twice is refused, not silently overridden."""
    chosen: dict[str, str] = {}
    for value in values:
        platform, target = parse_engine_for(value)
        if platform in chosen and chosen[platform] != target:
            raise ConfigError(f"{platform} is sent to both {chosen[platform]!r} and {target!r}", where="--engine-for")
        chosen[platform] = target
    return chosen


def choose(
    kind: EngineKind = "docker",
    *,
    engine_for: Mapping[str, str] | None = None,
    builder: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> EngineChoice:
    """The engines a command uses; `engine_for` values are checked already (`parse_engine_for`)."""
    if builder is not None:
        check_name(builder, what="buildx builder", where="--builder")
        if kind == "podman":
            raise ConfigError("podman builds with `podman build`; --builder is for docker buildx", where="--builder")
    default = podman_default(environ) if kind == "podman" else docker_default(environ)
    per_platform = {
        platform: resolve_target(target, environ=environ, where=f"--engine-for {platform}")
        for platform, target in sorted((engine_for or {}).items())
    }
    return EngineChoice(default=default, per_platform=per_platform, builder=builder)


def podman_default(environ: Mapping[str, str]) -> EngineTarget:
    host = environ.get("CONTAINER_HOST") or PODMAN_SOCKET  # podman's own DOCKER_HOST
    return EngineTarget(kind="podman", host=check_target(host, where="CONTAINER_HOST"))


def docker_default(environ: Mapping[str, str]) -> EngineTarget:
    """As the Docker CLI decides: DOCKER_HOST, DOCKER_CONTEXT, config.json's currentContext, the default."""
    if environ.get("DOCKER_HOST"):
        return EngineTarget(host=check_target(environ["DOCKER_HOST"], where="DOCKER_HOST"))
    if environ.get("DOCKER_CONTEXT"):
        return _context(environ["DOCKER_CONTEXT"], environ=environ, where="DOCKER_CONTEXT")
    current = _config(environ).get("currentContext")
    if isinstance(current, str) and current:
        return _context(current, environ=environ, where=str(_config_dir(environ) / "config.json"))
    return EngineTarget()


def resolve_target(value: str, *, environ: Mapping[str, str], where: str) -> EngineTarget:
    """A URL as it is; a context name through the docker CLI's context store ("default": DOCKER_HOST or the
    default socket, as `docker --context default` means)."""
    if "://" in check_target(value, where=where):
        return EngineTarget(host=value)
    if value == "default":
        host = environ.get("DOCKER_HOST")
        return EngineTarget(host=check_target(host, where="DOCKER_HOST") if host else None, context="default")
    return _context(value, environ=environ, where=where)


def _config_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("DOCKER_CONFIG") or Path(environ.get("HOME") or Path.home()) / ".docker")


def _config(environ: Mapping[str, str]) -> dict[str, Any]:
    path = _config_dir(environ) / "config.json"
    try:
        document = json.loads(_read_small(path))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the docker CLI configuration: {exc}", where=str(path)) from None
    return document if isinstance(document, dict) else {}


# The docker CLI's config.json and a context's meta.json are a few hundred bytes; a MiB is far beyond either.
MAX_DOCKER_CONFIG_BYTES = 1024 * 1024


def _read_small(path: Path) -> str:
    """A docker CLI file, read with a bound and only if it is a regular file: opened without blocking, so a
    FIFO in its place is refused at once instead of waiting for a writer, and /dev/zero is not read forever.
    OSError (FileNotFoundError included) and ValueError are the caller's to word."""
    if not stat.S_ISREG(path.stat().st_mode):  # before opening: opening a FIFO already wakes its writer
        raise ValueError("not a regular file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # and if it became one since, the open does not wait
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("not a regular file")
        data = f.read(MAX_DOCKER_CONFIG_BYTES + 1)
    if len(data) > MAX_DOCKER_CONFIG_BYTES:
        raise ValueError(f"larger than {MAX_DOCKER_CONFIG_BYTES // 1024} KiB; not a docker CLI file")
    return data.decode("utf-8")


def _context(name: str, *, environ: Mapping[str, str], where: str) -> EngineTarget:
    """A docker context, as `docker context create NAME --docker host=URL` stored it: the docker CLI keeps
    each in contexts/meta/<sha256 of the name>/meta.json. TLS material of a context is not used."""
    check_name(name, what="docker context", where=where)
    if name == "default":
        return resolve_target("default", environ=environ, where=where)
    meta_dir = _config_dir(environ) / "contexts" / "meta"
    meta = meta_dir / hashlib.sha256(name.encode()).hexdigest() / "meta.json"
    try:
        document = json.loads(_read_small(meta))
        host = document["Endpoints"]["docker"]["Host"]
    except FileNotFoundError:
        known = sorted(_context_names(meta_dir))
        hint = did_you_mean(name, known, in_parentheses=False)
        listed = f" (contexts: {', '.join(known)})" if known else ""
        raise ConfigError(
            f"no docker context {name!r}{hint}{listed}: create it with "
            f"`docker context create {name} --docker host=ssh://USER@HOST`, or give a URL",
            where=where,
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"docker context {name!r} is unreadable ({type(exc).__name__}: {exc})", where=str(meta)
        ) from None
    if not isinstance(host, str):
        raise ConfigError(f"docker context {name!r} has no docker host", where=str(meta))
    return EngineTarget(host=check_target(host, where=str(meta)), context=name)


def _context_names(meta_dir: Path) -> list[str]:
    names = []
    for meta in meta_dir.glob("*/meta.json"):
        try:
            name = json.loads(_read_small(meta)).get("Name")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(name, str):
            names.append(name)
    return names
