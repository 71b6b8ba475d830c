"""Cell results and results.json, rewritten atomically after every cell so an interrupted run keeps its cells."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from npmatrix import __version__
from npmatrix.classify import Verdict
from npmatrix.matrix import Cell
from npmatrix.probe import Summary
from npmatrix.status import Status

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CellResult:
    cell: Cell
    platform: str  # the Docker platform, e.g. linux/arm/v7
    emulated: bool
    qemu_cpu: str | None
    verdict: Verdict
    image_tag: str
    image_id: str | None
    base_image: str
    build_cached: bool
    durations: dict[str, float]
    logs: dict[str, str]
    probe: dict[str, Any] | None
    summary: Summary | None

    @property
    def status(self) -> Status:
        return self.verdict.status

    @property
    def as_expected(self) -> bool:
        return self.verdict.status is self.cell.expect

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.cell.name,
            "inputs": _jsonable(dataclasses.asdict(self.cell)),
            "platform": self.platform,
            "emulated": self.emulated,
            "qemu_cpu": self.qemu_cpu,
            "status": self.status.value,
            "expected": self.cell.expect.value,
            "as_expected": self.as_expected,
            "reason": self.verdict.reason,
            "fix": self.verdict.fix,
            "evidence": list(self.verdict.evidence),
            "image": {"tag": self.image_tag, "id": self.image_id, "base": self.base_image, "reused": self.build_cached},
            "durations_s": {k: round(v, 3) for k, v in self.durations.items()},
            "logs": self.logs,
            "summary": _jsonable(dataclasses.asdict(self.summary)) if self.summary else None,
            "probe": self.probe,
        }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@dataclass
class ResultsFile:
    """results.json for one run. `add` rewrites the whole file through a rename, so a reader or a crash
    never sees half a file."""

    path: Path
    matrix: str
    host: dict[str, Any]
    cells: list[dict[str, Any]] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def add(self, result: CellResult) -> None:
        self.cells.append(result.to_json())
        self.write(complete=False)

    def write(self, *, complete: bool) -> None:
        document = {
            "schema_version": SCHEMA_VERSION,
            "npmatrix_version": __version__,
            "matrix": self.matrix,
            "started_at": self.started_at,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds") if complete else None,
            "complete": complete,
            "host": self.host,
            "cells": self.cells,
        }
        write_atomic(self.path, json.dumps(document, indent=2, sort_keys=False) + "\n")


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; results are for everyone who can read the directory
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
