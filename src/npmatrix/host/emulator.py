"""Which emulator runs an emulated cell: the binfmt_misc handler of its platform on the engine's machine, named
by the interpreter's contents.

It is part of a probe's reuse key (reuse.py): the probe of an emulated cell sees the CPU that QEMU presents
(its features, so the OpenBLAS kernel picked, so sometimes SIGILL or not), and a QEMU upgrade can change that
with the image, the scripts and the CPU model all the same. A probe made under another QEMU is not reused.

`identity` says None, and the runner probes again, whenever the emulator cannot be told from here:

- the engine is not on this machine's kernel: another machine (tcp://, ssh://), or a VM behind a unix socket
  (Docker Desktop, colima, lima), whose handlers are the VM's. Local means a unix socket (or the default one)
  and the engine's KernelVersion equal to our kernel release;
- no enabled handler, or its interpreter is not a regular file we can read;
- the handler has the F flag (the kernel opened the interpreter when it was registered and keeps running that
  copy) and the file at the path changed after the registration (its ctime is later than the handler entry's
  mtime, which binfmt_misc sets at registration): a QEMU upgraded since, whose old copy still runs.

A handler registered from inside another mount namespace (tonistiigi/binfmt) names a path of that namespace;
if this machine has a file there too, its digest is what the key holds.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from npmatrix.config.platforms import Platform
from npmatrix.host import process

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


def is_local(host: str | None, kernel: str | None) -> bool:
    """Does an engine at this DOCKER_HOST-style URL (None: the default socket), whose machine runs `kernel`
    (its KernelVersion), run on this machine's kernel, so that our binfmt handlers are its?"""
    return (host is None or host.startswith("unix://")) and kernel == os.uname().release


def identity(platform: Platform, *, local: bool, binfmt: Path = BINFMT) -> str | None:
    """The emulator that runs `platform` on an engine (`local`: on this kernel, see `is_local`): the handler's
    name and flags and the sha256 of the interpreter it runs (links followed: Debian's handlers are links to
    qemu-*-static). None when it cannot be told (the module's docstring says when)."""
    if not local:
        return None
    entry = binfmt / platform.qemu
    try:
        handler = parse_handler(entry.read_text())
        registered = entry.stat().st_mtime_ns
        if not handler.enabled or not handler.interpreter:
            return None
        real = os.path.realpath(handler.interpreter)
        found = os.stat(real)
        if not stat.S_ISREG(found.st_mode):
            return None
        if "F" in handler.flags and found.st_ctime_ns > registered:
            return None  # the kernel runs the copy it opened at registration, not this newer file
        digest = _file_digest(real, found.st_ino, found.st_size, found.st_ctime_ns)
    except OSError:
        return None
    return f"{platform.qemu} flags={handler.flags} sha256:{digest}"


@functools.cache
def _file_digest(path: str, inode: int, size: int, ctime_ns: int) -> str:
    # inode, size and ctime are in the cache key so a binary replaced during a long-lived process is hashed
    # again (qemu-user-static is 12 MB: about 20 ms to hash, once per platform per process).
    del inode, size, ctime_ns
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# QEMU 7's user-mode emulators segfault under load on arm64/armhf guests (docker/setup-qemu-action#188 and
# #198; NumPy's CI pinned a newer binfmt image for it, numpy/numpy#28411). Debian 12 ships 7.2; 13 ships 10.
QEMU_CRASHY_BELOW = (8, 0)


@dataclass(frozen=True, kw_only=True)
class QemuVersion:
    """The QEMU a handler runs: where it is and what `--version` said."""

    path: str
    version: tuple[int, ...]
    text: str  # the whole first line, e.g. "qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"

    @property
    def crashy(self) -> bool:
        return self.version[:2] < QEMU_CRASHY_BELOW


def parse_qemu_version(text: str) -> tuple[int, ...] | None:
    """`qemu-aarch64 version 7.2.22 (Debian ...)` -> (7, 2, 22); None when the first line has no version."""
    words = text.strip().splitlines()[0].split() if text.strip() else []
    if "version" not in words or words.index("version") + 1 >= len(words):
        return None
    number = words[words.index("version") + 1]
    parts = number.split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def qemu_version(platform: Platform, *, binfmt: Path = BINFMT) -> QemuVersion | None:
    """The version of the QEMU that `platform`'s handler runs; None without an enabled handler or an
    interpreter that answers `--version`. Debian's handler names a qemu-binfmt -P wrapper link that refuses
    to run by hand, so the link is followed to the binary."""
    try:
        handler = parse_handler((binfmt / platform.qemu).read_text())
    except OSError:
        return None
    if not handler.enabled or not handler.interpreter:
        return None
    real = os.path.realpath(handler.interpreter)
    try:
        done = process.capture([real, "--version"], timeout=20)
    except OSError:  # not executable, or not a program for this machine
        return None
    version = parse_qemu_version(done.stdout) if done.exit_code == 0 else None
    if version is None:
        return None
    return QemuVersion(path=real, version=version, text=done.stdout.strip().splitlines()[0])
