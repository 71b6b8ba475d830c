"""Reading and writing the JSON files npmatrix owns: atomically, and with one-line errors for bad input."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from npmatrix.errors import ConfigError

# Bounds on the JSON files npmatrix reads (README): a results file holds ~30 KiB of probe facts per cell.
MAX_JSON_BYTES = 64 * 1024 * 1024


def write_atomic(path: Path, text: str) -> None:
    """Write through a rename, so a reader or a crash never sees half a file. A directory that cannot be made
    or written (read-only, full, a file in the way) is a one-line ConfigError naming the path."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; results are for everyone who can read the directory
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _cannot_write(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cannot_write(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(f"cannot write: {exc.strerror or type(exc).__name__}", where=str(path))


def is_file(path: Path) -> bool:
    """Path.is_file that answers False, not OSError, for a name too long or otherwise impossible."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def check_output(path: Path, *, inputs: Sequence[Path], option: str = "--out") -> None:
    """Refuse, before anything is read, an output that would clobber: one of the command's inputs (by any name:
    a symlink, `./`, a hard link), or something that is not a regular file (a FIFO would block the write until
    a reader came, a device swallows it, a directory cannot be replaced). Writes are atomic renames, so a
    refused path is never opened."""
    where = f"{option} {path}"
    try:
        info = path.stat()
    except OSError:  # nothing there yet, or a file in the way of its directory: the write says which
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"is {_kind(info.st_mode)}, not a file; give a file name to write", where=where)
    target = os.path.realpath(path)
    for source in inputs:
        if os.path.realpath(source) == target or (info is not None and _same_file(info, source)):
            raise ConfigError(
                f"is the input {source}: writing it would overwrite what is read; give another file", where=where
            )


def _same_file(info: os.stat_result, other: Path) -> bool:
    try:
        theirs = other.stat()
    except OSError:
        return False
    return (info.st_dev, info.st_ino) == (theirs.st_dev, theirs.st_ino)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def check_writable(path: Path) -> None:
    """Fail now, before minutes of work, if `path` cannot be written later: it is a directory, or its nearest
    existing ancestor is not a directory a file can be made in."""
    if path.is_dir():
        raise ConfigError("is a directory; give a file name", where=str(path))
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"cannot write: {ancestor} is not a directory", where=str(path))
    # Root passes every permission check, and /proc says it is writable: only trying tells.
    try:
        with tempfile.TemporaryFile(dir=ancestor, prefix=".npmatrix-"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write in {ancestor}: {exc.strerror}", where=str(path)) from None


def write_files(directory: Path, files: dict[str, str]) -> list[Path]:
    """Write all of `files` into `directory`, or none: they are staged in a temporary directory beside them and
    renamed into place only once every one is written. What this call created is removed on failure."""
    created = _missing_ancestors(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory, prefix=".npmatrix-") as staging:
            for name, text in files.items():
                Path(staging, name).write_text(text)
            written = []
            for name in files:
                os.replace(Path(staging, name), directory / name)
                written.append(directory / name)
    except OSError as exc:
        for folder in reversed(created):
            shutil.rmtree(folder, ignore_errors=True)
        raise _cannot_write(directory, exc) from None
    return written


def _missing_ancestors(directory: Path) -> list[Path]:
    missing, current = [], directory.absolute()
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    return list(reversed(missing))


def write_json(path: Path, document: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(document, indent=2) + "\n")


def read_limited(path: Path, limit: int, *, where: str, cannot_read: str, too_large: str) -> bytes:
    """At most `limit` bytes of `path`, or a one-line ConfigError: every file a user names is read with a bound,
    so `/dev/zero` or a runaway log ends with an error, not out of memory. The messages are the caller's,
    since each file type says what it expected ("cannot read matrix file: ...", "a matrix file is a few KiB")."""
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"{cannot_read}: {exc.strerror}", where=where) from None
    if len(data) > limit:
        raise ConfigError(too_large, where=where)
    return data


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or a ConfigError naming the file and what is wrong with it."""
    data = read_limited(
        path,
        MAX_JSON_BYTES,
        where=str(path),
        cannot_read="cannot read it",
        too_large=f"is larger than {MAX_JSON_BYTES // 2**20} MiB; not a file npmatrix wrote",
    )
    try:
        document = json.loads(data.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError
        raise ConfigError(f"cannot read it as JSON: {exc}", where=str(path)) from None
    except RecursionError:
        raise ConfigError("cannot read it as JSON: nested too deeply", where=str(path)) from None
    if not isinstance(document, dict):
        raise ConfigError("expected a JSON object", where=str(path))
    return document


LOCK_NAME = ".npmatrix.lock"


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on `directory` (made if missing): two writers that each look for a free name and
    then write it (two CI jobs keeping a night at once) would otherwise both pick the same one. flock, not
    lockf: it also excludes two threads of one process, each with its own open of the lock file."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise _cannot_write(directory, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
