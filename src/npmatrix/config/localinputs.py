"""The user's own files a cell installs: a requirements file and a directory of wheels (`requirements`,
`find_links`), and the root filesystem its base image is made of (`rootfs`). Read once, when the matrix is
loaded, bounded and checked, and recorded by content hash.

The hash goes into the cell's Dockerfile (so into its content-addressed image tag: another requirements file,
another image); the files themselves reach the build only through the build context, bind-mounted into the
one `RUN` step that runs pip, so nothing of them lands in a layer beyond what pip installs. For the same reason
a requirements file holds requirements only: pip options (`--index-url`, `--trusted-host`, `--cert`, `-r`, ...)
are refused, because index settings and certificates travel as BuildKit secrets, never in a build's files.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from npmatrix import fileio
from npmatrix.config import validators

MAX_REQUIREMENTS_BYTES = 256 * 1024
MAX_WHEEL_FILES = 200
MAX_WHEEL_BYTES = 1024 * 1024 * 1024  # each file, and all of them together
# What pip --find-links reads from a directory: wheels and source archives, by file name; nothing else is copied.
_DIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,200}\.(?:whl|tar\.gz|zip)")
# A root filesystem: Raspberry Pi OS Lite's is about 2 GB unpacked; a bound well above that, so that
# `rootfs = "/dev/sda"` or a disk image ends here, not after hours of hashing.
MAX_ROOTFS_BYTES = 16 * 1024**3
CONTEXT_DIR = "npmatrix-user"  # in the build context; bind-mounted at MOUNT_POINT in the pip step
MOUNT_POINT = "/run/npmatrix-user"
REQUIREMENTS_NAME = "requirements.txt"
FIND_LINKS_NAME = "find-links"


@dataclass(frozen=True, kw_only=True)
class LocalInput:
    """A file or directory named by a matrix, resolved against the matrix file's folder."""

    path: str  # absolute
    sha256: str  # of the file, or of the directory's (name, content hash) list
    files: tuple[str, ...] = ()  # a directory's distribution files, by name

    @property
    def short(self) -> str:
        return self.sha256[:12]


def path_value(value: str) -> str:
    """A path as a matrix gives it: plain text, no control characters (it is shown in messages)."""
    validators.plain_text(value)
    if not value.strip():
        raise ValueError("expected a path, got an empty string")
    return value


def read_requirements(path: Path, *, where: str) -> LocalInput:
    data = fileio.read_limited(
        path,
        MAX_REQUIREMENTS_BYTES,
        where=where,
        cannot_read="cannot read requirements file",
        too_large=f"is larger than {MAX_REQUIREMENTS_BYTES // 1024} KiB; a requirements file is a few KiB",
    )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        _check_requirement_line(raw, number=number, path=path)
    return LocalInput(path=str(path), sha256=hashlib.sha256(data).hexdigest())


def _check_requirement_line(raw: str, *, number: int, path: Path) -> None:
    line = re.sub(r"(^|\s)#.*", "", raw).strip()
    if not line:
        return
    if line.startswith("-"):
        raise ValueError(
            f"{path}: line {number}: pip options are not taken from a requirements file (index settings and "
            "certificates reach pip as secrets, never in a build's files): use the cell's index_url, "
            "extra_index_url or find_links"
        )
    try:
        validators.requirement(line)
    except ValueError as exc:
        raise ValueError(f"{path}: line {number}: {exc}") from None


def read_wheel_dir(path: Path) -> LocalInput:
    if not path.is_dir():
        raise ValueError(f"{path}: not a directory (find_links names a folder of wheels)")
    # Counted as listed, so a folder of a million files ends with this error, not after sorting them all.
    visible = (p for p in path.iterdir() if not p.name.startswith("."))
    entries = sorted(itertools.islice(visible, MAX_WHEEL_FILES + 1))
    if len(entries) > MAX_WHEEL_FILES:
        raise ValueError(f"{path}: holds more than {MAX_WHEEL_FILES} entries; at most {MAX_WHEEL_FILES}")
    digest = hashlib.sha256()
    names = []
    total = 0
    for entry in entries:
        if not _DIST_NAME.fullmatch(entry.name):
            raise ValueError(
                f"{path}: {entry.name!r} is not a wheel or source archive (*.whl, *.tar.gz, *.zip with a plain name)"
            )
        if entry.is_symlink() or not entry.is_file():
            raise ValueError(f"{path}: {entry.name!r} is not a regular file")
        total += entry.stat().st_size
        if total > MAX_WHEEL_BYTES:
            raise ValueError(f"{path}: its files exceed {MAX_WHEEL_BYTES // 2**20} MiB together")
        digest.update(f"{entry.name}\0{file_sha256(entry)}\n".encode())
        names.append(entry.name)
    if not names:
        raise ValueError(f"{path}: holds no wheel or source archive")
    return LocalInput(path=str(path), sha256=digest.hexdigest(), files=tuple(names))


def read_rootfs(path: Path) -> LocalInput:
    """A root filesystem as a tarball: what the base image's `ADD rootfs.tar /` unpacks (plain, gzip, bzip2
    or xz, as ADD takes them). Only its first member is read to tell a tar; the whole file is hashed."""
    try:
        info = path.stat()  # a missing file is an OSError: "cannot read", with its reason
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(
                f"{path}: not a file (rootfs names a tarball of a root filesystem, e.g. raspios-armhf.tar)"
            )
        if info.st_size > MAX_ROOTFS_BYTES:
            raise ValueError(f"{path}: is larger than {MAX_ROOTFS_BYTES // 1024**3} GiB; a root filesystem is a few")
        with path.open("rb") as stream:
            _first_tar_member(stream, path=path)
        return LocalInput(path=str(path), sha256=file_sha256(path))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read root filesystem tarball: {exc.strerror or type(exc).__name__}") from None


def _first_tar_member(stream: BinaryIO, *, path: Path) -> None:
    try:
        with tarfile.open(fileobj=stream, mode="r:*") as tar:
            first = tar.next()
    except (tarfile.TarError, EOFError):
        # tarfile's own message lists every compression it tried, on several lines: the answer is one line.
        raise ValueError(
            f"{path}: not a tar archive (plain, gzip, bzip2 or xz); make one with "
            "`tar -C MOUNTED_ROOT -cf rootfs.tar .` (docs/boards.md), not a disk image (.img)"
        ) from None
    if first is None:
        raise ValueError(f"{path}: an empty tar archive; rootfs needs a root filesystem with python3 in it")


def file_sha256(path: Path) -> str:
    """A file's sha256, read in 1 MiB blocks (wheels run to hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_into_context(context: Path, *, requirements: LocalInput | None, find_links: LocalInput | None) -> None:
    """Put the cell's own files in the build context, checking they are still what the plan hashed."""
    if requirements is None and find_links is None:
        return
    target = context / CONTEXT_DIR
    target.mkdir()
    if requirements is not None:
        copied = target / REQUIREMENTS_NAME
        shutil.copyfile(requirements.path, copied)
        if file_sha256(copied) != requirements.sha256:
            raise ValueError(f"{requirements.path}: changed since the matrix was read; run again")
    if find_links is not None:
        wheels = target / FIND_LINKS_NAME
        wheels.mkdir()
        digest = hashlib.sha256()
        for name in find_links.files:
            shutil.copyfile(Path(find_links.path, name), wheels / name)
            digest.update(f"{name}\0{file_sha256(wheels / name)}\n".encode())
        if digest.hexdigest() != find_links.sha256:
            raise ValueError(f"{find_links.path}: changed since the matrix was read; run again")


def link_rootfs_into(context: Path, rootfs: LocalInput, *, name: str) -> None:
    """The rootfs tarball into a base image's build context, as `name`, checked against the plan's hash. A hard
    link where the context and the tarball share a file system: a Raspberry Pi OS root is about 2 GB."""
    target = context / name
    try:
        target.hardlink_to(rootfs.path)
    except OSError:
        shutil.copyfile(rootfs.path, target)
    if file_sha256(target) != rootfs.sha256:
        raise ValueError(f"{rootfs.path}: changed since the matrix was read; run again")
