"""The one boundary for starting processes: builds, mmdebstrap, the Docker CLI, the probe on the host.

Every command gets its own process group, so a timeout or Ctrl-C kills it and everything it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from npmatrix.text import redact

# Every process group started here and still running. Its own session keeps a terminal's Ctrl-C from reaching
# it, so when cells run in worker threads the main thread ends them all with `kill_all` (see schedule.py).
_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


def kill_all() -> int:
    """Kill every command this process started and that still runs, with everything they started."""
    with _live_lock:
        running = list(_live)
    for proc in running:
        _kill_group(proc)
    return len(running)


@contextlib.contextmanager
def _tracked(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    with _live_lock:
        _live.add(proc)
    try:
        yield proc
    finally:
        with _live_lock:
            _live.discard(proc)


@dataclass(frozen=True, kw_only=True)
class Completed:
    argv: tuple[str, ...]
    exit_code: int
    output: str  # stdout and stderr, interleaved as the command wrote them
    duration_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


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
            return Completed(argv=tuple(argv), exit_code=127, output=f"{argv[0]}: {exc.strerror}", duration_s=0.0)
        with _tracked(proc):
            timed_out = _pump(proc, out, timeout=timeout, on_line=on_line)
        out.seek(0)
        output = out.read().decode(errors="replace")
    return Completed(
        argv=tuple(argv),
        exit_code=proc.returncode,
        output=output,
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
    )


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
            line = redact(raw.decode(errors="replace"))  # logs end up in CI artifacts: no URL credentials
            out.write(line.encode())
            out.flush()
            if on_line:
                on_line(line.rstrip())
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


@dataclass(frozen=True, kw_only=True)
class Captured:
    exit_code: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    duration_s: float

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


def capture(argv: Sequence[str], *, timeout: float) -> Captured:
    """Run a command with stdout and stderr kept apart (the probe prints JSON on one, diagnostics on the other)."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        return Captured(exit_code=127, stdout="", stderr=f"{argv[0]}: {exc.strerror}", duration_s=0.0)
    try:
        with _tracked(proc):
            stdout, stderr = proc.communicate(timeout=timeout)
        exit_code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        stdout, stderr = proc.communicate()
        exit_code = None
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    return Captured(
        exit_code=exit_code,
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
        duration_s=time.monotonic() - started,
    )
