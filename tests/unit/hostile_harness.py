"""Runs one npmatrix command on hostile input and says which invariants of issue 20 it broke.

Shared by the corpus test (test_hostile_corpus.py) and the property tests over generated results files
(test_hostile_properties.py). The command runs in process through click's CliRunner, but through the real
entry point `npmatrix.cli.main` (wrapped as a click command), so a FatalError ends as it does for a user:
one line on stderr and its exit code; anything else that escapes is a traceback.

The invariants, each a failure class (hostile.FAILURES):
- traceback     the command ended with an exception other than SystemExit
- exit code     the exit code is not one the case allows (2 for bad input, 0/1 for a valid one)
- secret        a planted secret is in stdout, stderr or a file the command wrote
- escape        a raw C0/C1 control character (ESC, CSI, CR, ...) is in stdout, stderr or a written md/xml/json/
                toml/txt file (tab and newline are fine)
- clobber       a file or special file that existed before the command is changed, replaced or gone
- outside read  content from outside the run directory (/etc/passwd, /proc/self/environ, a marker file)
                appears in an output
- hang          a FIFO given as an input or output was opened (without the harness it would block forever)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import stat
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import docker
import pytest
from click.testing import CliRunner, Result
from hostile import Failure, Setup

import npmatrix.cli
from npmatrix.host.engine import Engine

# Engine.connect as the code has it: conftest.no_engine replaces it for every test; cases that check how an
# address is parsed put it back with a client that parses like the SDK and never connects.
_REAL_CONNECT = Engine.__dict__["connect"]
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
TEXT_OUTPUTS = (".md", ".xml", ".json", ".toml", ".txt")
_CLEAN_ENV = {"GITHUB_STEP_SUMMARY": None, "NO_COLOR": "1", "COLUMNS": "160"}


class _Main(click.Command):
    """`npmatrix.cli.main()` as a click command: CliRunner.invoke calls `main(args=...)`, and this runs the
    installed entry point on those arguments (sys.argv is what it reads)."""

    def __init__(self) -> None:
        super().__init__("npmatrix")

    def main(self, args: Sequence[str] | None = None, *unused: Any, **extra: Any) -> Any:  # type: ignore[override]
        argv, sigterm = sys.argv, signal.getsignal(signal.SIGTERM)
        sys.argv = ["npmatrix", *(args or ())]
        try:
            npmatrix.cli.main()
        finally:
            sys.argv = argv
            signal.signal(signal.SIGTERM, sigterm)


ENTRY_POINT = _Main()


@dataclass(frozen=True, kw_only=True)
class Entry:
    """What a path was before the command: its type, and its bytes' hash, link target or device numbers."""

    kind: str
    fingerprint: str


def snapshot(root: Path) -> dict[Path, Entry]:
    """Every path under `root`, without following symlinks and without opening FIFOs or devices."""
    found: dict[Path, Entry] = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            found[path] = _entry(path)
    return found


def _entry(path: Path) -> Entry:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return Entry(kind="symlink", fingerprint=os.readlink(path))
    if stat.S_ISREG(info.st_mode):
        return Entry(kind="file", fingerprint=hashlib.sha256(path.read_bytes()).hexdigest())
    if stat.S_ISDIR(info.st_mode):
        return Entry(kind="dir", fingerprint="")
    return Entry(kind=stat.filemode(info.st_mode)[0], fingerprint=str(info.st_rdev))


class _Fifos:
    """Feeds the FIFOs a case gives as inputs and drains those it gives as outputs, each time one is opened,
    so a command that opens one does not hang the suite; `opened` says which were."""

    def __init__(self, feed: Mapping[Path, bytes], drain: Sequence[Path]) -> None:
        self.opened: set[Path] = set()
        self._stop = threading.Event()
        self._jobs = [(p, data) for p, data in feed.items()] + [(p, None) for p in drain]
        self._threads = [threading.Thread(target=self._serve, args=job, daemon=True) for job in self._jobs]

    def _serve(self, path: Path, data: bytes | None) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY if data is not None else os.O_RDONLY)  # blocks until the other end
            except OSError:
                return
            try:
                if self._stop.is_set():
                    return
                self.opened.add(path)
                with contextlib.suppress(OSError):
                    if data is not None:
                        view = memoryview(data)
                        while view:  # a pipe takes a large write in parts
                            view = view[os.write(fd, view) :]
                    else:
                        while os.read(fd, 65536):
                            pass
            finally:
                os.close(fd)
            if data is not None:
                self._until_reader_closes(path)

    def _until_reader_closes(self, path: Path) -> None:
        # A writer opened now would feed the same reader twice; a non-blocking open fails (ENXIO) once no reader
        # holds the FIFO, and the next open is the command's next read of it.
        while not self._stop.is_set():
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                return
            time.sleep(0.01)

    def __enter__(self) -> _Fifos:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for path, data in self._jobs:  # open the other end once, so a thread blocked in open() wakes up
            with contextlib.suppress(OSError):
                os.close(os.open(path, (os.O_RDONLY if data is not None else os.O_WRONLY) | os.O_NONBLOCK))
        for thread in self._threads:
            thread.join(timeout=5)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    result: Result
    failures: tuple[Failure, ...]
    details: dict[str, str] = field(default_factory=dict)

    def explain(self) -> str:
        lines = [f"{k}: {v}" for k, v in self.details.items()]
        return "\n".join([*lines, f"exit code {self.result.exit_code}", f"stderr: {self.result.stderr[-2000:]!r}"])


@contextlib.contextmanager
def engine_that_parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The real Engine.connect, with a Docker client that parses its address as docker-py does (utils.parse_host)
    and then finds no engine: no network, and a bad address fails exactly where it would for a user."""

    def client(base_url: str | None = None, **kwargs: Any) -> Any:
        docker.utils.parse_host(base_url, False)
        raise docker.errors.DockerException("no engine in the unit tests")

    def from_env(**kwargs: Any) -> Any:
        return client(os.environ.get("DOCKER_HOST"))

    with monkeypatch.context() as patch:
        patch.setattr(Engine, "connect", _REAL_CONNECT)
        patch.setattr(docker, "DockerClient", client)
        patch.setattr(docker, "from_env", from_env)
        yield


def run_case(setup: Setup, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """Run `setup`'s command with `tmp` as working directory, and check every invariant."""
    before = snapshot(tmp)
    monkeypatch.chdir(tmp)
    with contextlib.ExitStack() as stack:
        if setup.real_engine_parse:
            stack.enter_context(engine_that_parses(monkeypatch))
        fifos = stack.enter_context(_Fifos(setup.feed, setup.drain))
        result = CliRunner().invoke(
            ENTRY_POINT, list(setup.args), env={**_CLEAN_ENV, **setup.env}, catch_exceptions=True
        )
    return judge(setup, result, before, snapshot(tmp), opened=fifos.opened)


def judge(
    setup: Setup, result: Result, before: Mapping[Path, Entry], after: Mapping[Path, Entry], *, opened: set[Path]
) -> Outcome:
    failures: list[Failure] = []
    details: dict[str, str] = {}

    def fail(failure: Failure, detail: str) -> None:
        if failure not in failures:
            failures.append(failure)
            details[failure] = detail

    if result.exception is not None and not isinstance(result.exception, SystemExit):
        fail("traceback", f"{type(result.exception).__name__}: {str(result.exception)[:300]}")
    elif "Traceback (most recent call last)" in result.stderr:
        fail("traceback", "a traceback on stderr")
    if result.exit_code not in setup.allowed:
        fail("exit code", f"{result.exit_code} not in {sorted(setup.allowed)}")
    written = {p: _read(p) for p, e in after.items() if e.kind == "file" and before.get(p) != e}
    outputs = {"stdout": result.stdout, "stderr": result.stderr, **{str(p): t for p, t in written.items()}}
    for secret in setup.secrets:
        for where, content in outputs.items():
            if secret in content:
                fail("secret", f"{secret!r} in {where}")
    for where, content in outputs.items():
        if (where in ("stdout", "stderr") or where.endswith(TEXT_OUTPUTS)) and (m := RAW_CONTROL.search(content)):
            fail("escape", f"raw {m.group(0)!r} in {where}")
    for path, entry in before.items():
        now = after.get(path)
        if now != entry:
            fail("clobber", f"{path} was {entry.kind}, now {now.kind if now else 'gone'}")
    for marker in setup.outside:
        for where, content in outputs.items():
            if marker in content:
                fail("outside read", f"{marker!r} in {where}")
    if opened:
        fail("hang", f"opened {', '.join(sorted(p.name for p in opened))}")
    return Outcome(result=result, failures=tuple(failures), details=details)


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")
