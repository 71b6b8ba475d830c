"""Which process owns a run, and whether it is still alive: so `npmatrix clean` in one terminal never removes
the probe containers of a run going on in another.

A run labels each container it starts with `org.npmatrix.host.owner = HOST/PID/START`: the host name, the process
id and the process's start time in clock ticks since boot (/proc/PID/stat, field 22), which tells a live run
from a later process that got the same pid. Only this module reads /proc.
"""

from __future__ import annotations

import os
import socket
from enum import StrEnum
from pathlib import Path

PROC = Path("/proc")


class Liveness(StrEnum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"  # another host, or a label this version cannot read: never removed


def _start_time(pid: int, *, proc: Path = PROC) -> str | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or ')': split after the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def current(*, pid: int | None = None, proc: Path = PROC) -> str:
    """This process's owner label."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{pid}/{_start_time(pid, proc=proc) or '?'}"


def liveness(label: str, *, proc: Path = PROC, host: str | None = None) -> Liveness:
    """Whether the process an owner label names still runs. Only a process on this host can be checked."""
    parts = label.split("/")
    if len(parts) != 3 or not parts[1].isdigit():
        return Liveness.UNKNOWN
    owner_host, pid, started = parts
    if owner_host != (host or socket.gethostname()):
        return Liveness.UNKNOWN
    now = _start_time(int(pid), proc=proc)
    if now is None:
        return Liveness.DEAD
    return Liveness.ALIVE if started in (now, "?") else Liveness.DEAD
