"""Reading and writing the JSON files npmatrix owns: atomically, and with one-line errors for bad input."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
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
# npmatrix writes no JSON nested deeper than ~8 levels; a bound well above that stops a hostile file before
# every reader after the parse (json.dumps, the schema, the reports) has to survive 900 levels of recursion.
MAX_JSON_DEPTH = 64
# No count or duration npmatrix records has more than 18 digits; a 400-digit integer would pass through to
# JSON output and to float arithmetic (OverflowError) in every reader.
MAX_JSON_INT_DIGITS = 18


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
        raise ConfigError(f"{_kind(info.st_mode)}, not a file; give a file name to write", where=where)
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
        data = _read_regular(path, limit)
    except OSError as exc:
        raise ConfigError(f"{cannot_read}: {exc.strerror}", where=where) from None
    except _NotRegular as exc:
        raise ConfigError(f"{cannot_read}: {exc} (a regular file was expected)", where=where) from None
    if len(data) > limit:
        raise ConfigError(too_large, where=where)
    return data


class _NotRegular(Exception):
    pass


def _read_regular(path: Path, limit: int) -> bytes:
    # stat first and open with O_NONBLOCK: a FIFO given as an input would otherwise block the reader forever,
    # and a device (/dev/zero, a tty) is never a file npmatrix wrote. fstat again after the open, so a file
    # swapped for a FIFO in between is still refused.
    kind = _kind(path.stat().st_mode)
    if kind is not None:
        raise _NotRegular(kind)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        kind = _kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise _NotRegular(kind)
        return f.read(limit + 1)


def _kind(mode: int) -> str | None:
    """None for a regular file, else what it is instead."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISFIFO(mode):
        return "is a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device"
    if stat.S_ISSOCK(mode):
        return "is a socket"
    return "is not a regular file"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise ValueError(f"integer of {len(text)} digits is out of range")
    return int(text)


def _depth(value: Any, limit: int) -> int:
    """How deep `value` nests, counting at most to limit + 1 (iterative: a deep value cannot recurse us)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(data: bytes, *, where: str) -> Any:
    """Strict JSON: NaN, Infinity, numbers out of range and nesting beyond MAX_JSON_DEPTH are refused with one
    line, since Python's json accepts them all and every reader after it would pass them on or crash."""
    try:
        document = json.loads(
            data.decode("utf-8"),
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError, and ours
        raise ConfigError(f"cannot read it as JSON: {exc}", where=where) from None
    except RecursionError:
        raise ConfigError("cannot read it as JSON: nested too deeply", where=where) from None
    if _depth(document, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ConfigError(f"cannot read it as JSON: nested deeper than {MAX_JSON_DEPTH} levels", where=where)
    return document


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or a ConfigError naming the file and what is wrong with it."""
    data = read_limited(
        path,
        MAX_JSON_BYTES,
        where=str(path),
        cannot_read="cannot read it",
        too_large=f"is larger than {MAX_JSON_BYTES // 2**20} MiB; not a file npmatrix wrote",
    )
    document = parse_json(data, where=str(path))
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
