"""Which emulator runs an emulated cell: the binfmt_misc handler of its platform on the engine's machine, named
by the interpreter's contents.

It is part of a probe's reuse key (reuse.py): the probe of an emulated cell sees the CPU that QEMU presents
(its features, so the OpenBLAS kernel picked, so sometimes SIGILL or not), and a QEMU upgrade can change that
with the image, the scripts and the CPU model all the same. A probe made under another QEMU is not reused.

Only an engine on this machine (the default socket, or a unix:// one) shares our kernel's binfmt handlers; for
any other the emulator cannot be told from here, and `identity` says None (the runner then probes again). A
unix socket into a VM (Docker Desktop) is taken as local: its handlers are the VM's, which we cannot see.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from npmatrix.platforms import Platform

BINFMT = Path("/proc/sys/fs/binfmt_misc")


@dataclass(frozen=True, kw_only=True)
class Handler:
    """A binfmt_misc handler file, as the kernel prints it."""

    enabled: bool
    interpreter: str | None
    flags: str


def parse_handler(text: str) -> Handler:
    """`enabled`, `interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P`, `flags: PF`, ... (the kernel's
    Documentation/admin-guide/binfmt-misc.rst)."""
    lines = [line.strip() for line in text.splitlines()]
    interpreter = next((line.split(None, 1)[1] for line in lines if line.startswith("interpreter ")), None)
    flags = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("flags:")), "")
    return Handler(enabled="enabled" in lines, interpreter=interpreter, flags=flags)


def is_local(host: str | None) -> bool:
    """Does an engine at this DOCKER_HOST-style URL run on our kernel? None is the default local socket."""
    return host is None or host.startswith("unix://")


def identity(platform: Platform, host: str | None, *, binfmt: Path = BINFMT) -> str | None:
    """The emulator that runs `platform` on the engine at `host`: the handler's name and flags and the sha256 of
    the interpreter it runs (symlinks followed: Debian's handlers are links to qemu-*-static). None when it
    cannot be told: an engine on another machine, or no enabled, readable handler."""
    if not is_local(host):
        return None
    try:
        handler = parse_handler((binfmt / platform.qemu).read_text())
    except OSError:
        return None
    if not handler.enabled or not handler.interpreter:
        return None
    try:
        real = os.path.realpath(handler.interpreter)
        stat = os.stat(real)
        digest = _file_digest(real, stat.st_size, stat.st_mtime_ns)
    except OSError:
        return None
    return f"{platform.qemu} flags={handler.flags} sha256:{digest}"


@functools.cache
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are in the cache key so a binary replaced during a long-lived process is hashed again
    # (qemu-user-static is 12 MB: about 20 ms to hash, once per platform per run).
    del size, mtime_ns
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
