"""results.json: the one writer and the one typed reader (data/results.schema.json, schema_version 2).

A run rewrites the file atomically after every cell (`ResultsFile.add`), so an interrupted run keeps the
cells it finished. Everything that reads results (explain, reports, diff, capture-fixtures) reads them
through `load`, which checks the shipped schema and gives back the same `CellResult`s the run wrote.

Version 1 files (data/results-v1.schema.json) still load: each cell's "platform" (an OCI string), "emulated" and
"qemu_cpu" (a model, or a label) become the "placement" that version 2 records (`_upgrade_v1`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from npmatrix import __version__, fileio, text
from npmatrix.config import validators
from npmatrix.config.localinputs import LocalInput
from npmatrix.config.matrix import Cell
from npmatrix.config.platforms import CpuModel
from npmatrix.config.project import ProjectInput
from npmatrix.errors import ConfigError
from npmatrix.judge import advice
from npmatrix.judge.advice import Advisory
from npmatrix.judge.facts import ProbeSummary, summarize
from npmatrix.judge.tests import TestReport
from npmatrix.plan.placement import Emulator, Placement
from npmatrix.plan.raspios import NotAsked
from npmatrix.records import probe_file, schemas
from npmatrix.verdict import Status, Verdict

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, SCHEMA_VERSION)


@dataclass(frozen=True, kw_only=True)
class ImageRecord:
    tag: str
    id: str | None  # None when no image was built
    base: str
    reused: bool  # it existed under its content tag and was not rebuilt


@dataclass(frozen=True, kw_only=True)
class EngineRecord:
    """The engine a cell was built and run on (config.engine_choice.EngineTarget) and its machine's platform."""

    kind: str  # docker or podman
    host: str | None  # the DOCKER_HOST-style URL; None: the default local socket
    context: str | None  # the docker context that named it
    architecture: str | None  # the platform the engine's machine runs natively (amd64, arm64); None: unknown

    def describe(self) -> str:
        where = self.context or self.host or "local"
        return f"{self.kind} {where}"

    @property
    def label(self) -> str | None:
        """How reports name it (Placement.engine): None for the local Docker, the engine of most runs."""
        return self.describe() if self.host or self.kind != "docker" else None


@dataclass(frozen=True, kw_only=True)
class CellResult:
    cell: Cell
    placement: Placement  # where it ran, as the plan decided (CellPlan.placement)
    verdict: Verdict
    image: ImageRecord
    durations: Mapping[str, float]
    logs: Mapping[str, str]
    facts: dict[str, Any] | None  # what the probe printed; None when it did not run or printed nothing
    engine: EngineRecord | None = None  # where it ran; None in files written before engines were recorded
    # Other cells' work ("pi5-64 build") that ran while this cell's benchmark was timed; () alone; None: not
    # benchmarked, or a results file from before cells ran concurrently.
    bench_overlap: tuple[str, ...] | None = None
    reuse_key: str | None = None  # reuse.probe_key (built) or reuse.build_key (failed build); None: no key
    reused: tuple[str, ...] = ()  # what came from an earlier run (reuse.Reused): "probe", "bench", "no-wheel"
    reused_from: str | None = None  # that run's results.json
    tests: TestReport | None = None  # the cell's own test_command (judge/tests.py); None: the cell has none
    # What a real Pi asks that this run did not (plan/raspios.py): piwheels unreachable, Pi OS's apt archive.
    # Any: the answer is incomplete, what Debian's archive and PyPI alone give.
    not_asked: tuple[NotAsked, ...] = ()

    @property
    def incomplete(self) -> bool:
        return bool(self.not_asked)

    @property
    def reused_label(self) -> str:
        """ "probe reused", "probe and bench reused", "no wheel: index asked, build skipped"; "" if nothing."""
        if "no-wheel" in self.reused:
            return "no wheel on the index: build skipped"
        return f"{' and '.join(self.reused)} reused" if self.reused else ""

    @property
    def name(self) -> str:
        return self.cell.name

    @property
    def status(self) -> Status:
        return self.verdict.status

    @property
    def as_expected(self) -> bool:
        return self.verdict.status is self.cell.expect

    @functools.cached_property
    def summary(self) -> ProbeSummary | None:
        return summarize(self.facts) if self.facts is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.cell.name,
            "inputs": _inputs(self.cell),
            "placement": self.placement.to_json(),
            **self.verdict.to_json(),
            "expected": self.cell.expect.value,
            "as_expected": self.as_expected,
            "image": dataclasses.asdict(self.image),
            "durations_s": {k: round(v, 3) for k, v in self.durations.items()},
            "logs": dict(self.logs),
            # A digest for readers without npmatrix (jq in CI); `from_json` recomputes it from "probe".
            "summary": _jsonable(dataclasses.asdict(self.summary)) if self.summary else None,
            "probe": self.facts,
            "engine": dataclasses.asdict(self.engine) if self.engine else None,
            **({"bench_overlap": list(self.bench_overlap)} if self.bench_overlap is not None else {}),
            **({"reuse_key": self.reuse_key} if self.reuse_key is not None else {}),
            **({"reused": list(self.reused), "reused_from": self.reused_from} if self.reused else {}),
            **({"tests": self.tests.to_json()} if self.tests is not None else {}),
            **({"not_asked": [n.to_json() for n in self.not_asked]} if self.not_asked else {}),
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> CellResult:
        """From what `to_json` wrote; `load` has checked the record against the schema first."""
        return cls(
            cell=cell_from_json(record["inputs"]),
            placement=Placement.from_json(record["placement"]),
            verdict=Verdict.from_json(record),
            image=ImageRecord(**record["image"]),
            durations=dict(record["durations_s"]),
            logs=dict(record["logs"]),
            facts=record["probe"],
            engine=EngineRecord(**record["engine"]) if record.get("engine") else None,
            bench_overlap=tuple(record["bench_overlap"]) if record.get("bench_overlap") is not None else None,
            reuse_key=record.get("reuse_key"),
            reused=tuple(record.get("reused", ())),
            reused_from=record.get("reused_from"),
            tests=TestReport.from_json(record["tests"]) if record.get("tests") else None,
            not_asked=tuple(NotAsked.from_json(n) for n in record.get("not_asked", ())),
        )


def advisories(cells: Sequence[CellResult]) -> dict[str, tuple[Advisory, ...]]:
    """Works, but slow: the advisories of every working cell of one run (npmatrix.judge.advice), by cell name."""
    return advice.for_run(
        [
            advice.Ran(
                name=c.name,
                oci_platform=c.placement.oci,
                under_qemu=c.placement.under_qemu,
                works=c.status.works,
                summary=c.summary,
                page_alignment=(c.facts or {}).get("page_alignment"),
            )
            for c in cells
        ]
    )


def cells_json(cells: Sequence[CellResult]) -> list[dict[str, Any]]:
    """Each cell's record, with its advisories where it has any (recomputed from the facts when read)."""
    notes = advisories(cells)
    return [cell_json(c, notes.get(c.name, ())) for c in cells]


def cell_json(cell: CellResult, notes: Sequence[Advisory]) -> dict[str, Any]:
    """One cell's record with its advisories, if any (`advisories` of its run)."""
    record = cell.to_json()
    if notes:
        record["advisories"] = [a.to_json() for a in notes]
    return record


def cell_from_json(inputs: Mapping[str, Any]) -> Cell:
    """A Cell from its `inputs` record: lists back to tuples, the expected status back to a Status.
    Keys this version does not know (a newer npmatrix wrote them) are left out rather than refused."""
    known = {f.name: f for f in dataclasses.fields(Cell)}
    values: dict[str, Any] = {}
    for key, value in inputs.items():
        if key in known:
            values[key] = tuple(value) if isinstance(value, list) else value
    if isinstance(values.get("cpu_model"), dict):
        model = values["cpu_model"]
        values["cpu_model"] = CpuModel(
            name=model["name"], description=model["description"], qemu=dict(model["qemu"]), note=model.get("note", "")
        )
    for key in ("requirements", "find_links", "rootfs"):
        if isinstance(values.get(key), dict):
            record = values[key]
            values[key] = LocalInput(path=record["path"], sha256=record["sha256"], files=tuple(record.get("files", ())))
    if isinstance(values.get("project"), dict):
        record = values["project"]
        values["project"] = ProjectInput(
            path=record["path"], sha256=record["sha256"], files=record["files"], compiled=record["compiled"]
        )
    values["expect"] = Status(inputs["expect"])
    return Cell(**values)


# Cell fields added after schema 2 was released, written only when set, so a file without them (and every
# cell that does not use them) reads back and is written again byte for byte.
_LATER_INPUTS = (
    "project",
    "test_command",
    "test_requires",
    "test_timeout",
    "test_skipped",
    "os",
    "piwheels_index",
    "rootfs",
)
_CELL_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Cell)}


def _inputs(cell: Cell) -> dict[str, Any]:
    record: dict[str, Any] = _jsonable(dataclasses.asdict(cell))
    for key in _LATER_INPUTS:
        if getattr(cell, key) == _CELL_DEFAULTS[key]:
            del record[key]
    return record


def _jsonable(value: Any) -> Any:
    """`value` as JSON allows it: non-finite numbers become null, as the probe writes them (a summary's
    max_rel_error is inf when the probe wrote null). The reader refuses NaN and Infinity, so a results file
    holding them would be unreadable by every other command."""
    return json.loads(json.dumps(value, default=str), parse_constant=lambda _name: None)


@dataclass(frozen=True, kw_only=True)
class Results:
    """One results.json, read back."""

    source: str  # where it was read from, for messages
    matrix: str
    npmatrix_version: str
    started_at: str
    finished_at: str | None
    complete: bool
    host: Mapping[str, Any]
    cells: tuple[CellResult, ...]

    def cell(self, name: str | None) -> CellResult:
        """The cell called `name`; None means the only cell. A one-line ConfigError otherwise."""
        names = [c.name for c in self.cells]
        if not self.cells:
            raise ConfigError("holds no cells (the run ended before its first cell)", where=self.source)
        if name is None:
            if len(self.cells) == 1:
                return self.cells[0]
            raise ConfigError(
                f"holds {len(self.cells)} cells, name one as FILE:CELL ({', '.join(names)})", where=self.source
            )
        for result in self.cells:
            if result.name == name:
                return result
        hint = text.did_you_mean(name, names, in_parentheses=False)
        raise ConfigError(f"no cell {name!r}{hint} (cells: {', '.join(names)})", where=self.source)

    def to_json(self) -> dict[str, Any]:
        """The document as the run wrote it: `from_json(r.to_json())` gives `r` back (`report --format json`)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "npmatrix_version": self.npmatrix_version,
            "matrix": self.matrix,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "complete": self.complete,
            "host": dict(self.host),
            "cells": cells_json(self.cells),
        }


def is_results_document(document: Mapping[str, Any]) -> bool:
    return isinstance(document.get("cells"), list)


def load(path: Path) -> Results:
    return from_json(fileio.read_json(path), where=str(path))


def from_json(document: Mapping[str, Any], *, where: str) -> Results:
    version = document.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise ConfigError(f"results schema_version {version!r}, expected {SCHEMA_VERSION}", where=where)
    schemas.validate("results" if version == SCHEMA_VERSION else "results-v1", document, where=where)
    if version == 1:
        document = _upgrade_v1(document)
    check_semantics(document, where=where)
    _check_unique_names(document["cells"], where=where)
    return Results(
        source=where,
        matrix=document["matrix"],
        npmatrix_version=document["npmatrix_version"],
        started_at=document["started_at"],
        finished_at=document["finished_at"],
        complete=document["complete"],
        host=document["host"],
        cells=tuple(_cell(i, record, where=where) for i, record in enumerate(document["cells"])),
    )


def _check_unique_names(records: Sequence[Mapping[str, Any]], *, where: str) -> None:
    """A cell named twice is refused, not read as one of its two records: diff, explain and history would each
    pick one silently, and the one dropped may be the regression the nightly gate is there to catch."""
    seen: set[str] = set()
    for i, record in enumerate(records):
        name = record["name"]
        if name in seen:
            raise ConfigError(
                f"cell {name!r} is named twice; a results file holds each cell once", where=f"{where}: cells[{i}].name"
            )
        seen.add(name)


# The times a results file may carry: npmatrix did not exist before 2000, and a time near year 1 or 9999 turns
# into OverflowError when moved to UTC or compared (history add, diff, merge).
_YEARS = range(2000, 9000)


def check_semantics(document: Mapping[str, Any], *, where: str) -> None:
    """What the schema cannot say: times that are real times in range, cell names as a matrix allows them, and
    probe facts as the probe writes them. A results file crosses a trust boundary (another job's artifact, a
    fork's pull request), so each of these is a one-line ConfigError naming the file and the field."""
    check_time(document["started_at"], field="started_at", where=where)
    if document["finished_at"] is not None:
        check_time(document["finished_at"], field="finished_at", where=where)
    # The refusals name the field, never its value: a value from an untrusted file may hold a token.
    for i, record in enumerate(document["cells"]):
        try:
            validators.cell_name(record["inputs"]["name"])
        except ValueError:
            raise ConfigError(
                f"not a valid results file: cells[{i}].inputs.name is not a valid cell name "
                "(lowercase letters, digits, '.', '_', '-'; max 63)",
                where=where,
            ) from None
        if record["probe"] is not None:
            probe_file.check_facts(record["probe"], where=where, prefix=f"cells[{i}].probe.")


def check_time(value: str, *, field: str, where: str) -> datetime:
    """`value` as an aware time in UTC, or a one-line ConfigError naming the field."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"not a valid results file: {field} is not an ISO 8601 time", where=where) from None
    # npmatrix writes every time with its offset; a naive one cannot be compared with the others (merge, diff).
    if parsed.tzinfo is None:
        raise ConfigError(f"not a valid results file: {field} has no UTC offset", where=where)
    try:
        when = parsed.astimezone(UTC)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        when = parsed.replace(year=1 if parsed.year < _YEARS.start else 9999)
    if when.year not in _YEARS:
        raise ConfigError(
            f"not a valid results file: {field} is out of range (years {_YEARS.start}..{_YEARS.stop - 1})",
            where=where,
        )
    return when


def _cell(i: int, record: Mapping[str, Any], *, where: str) -> CellResult:
    # The schema describes every shape CellResult.from_json reads; this net keeps a drift between the two a
    # one-line error naming the cell, not a traceback.
    try:
        return CellResult.from_json(record)
    except KeyError as exc:
        raise ConfigError(f"not a valid results file: cells[{i}] lacks {exc}", where=where) from None
    except (TypeError, ValueError) as exc:  # its message may quote a value, which may hold a token
        raise ConfigError(
            f"not a valid results file: cells[{i}] has a field of the wrong shape ({type(exc).__name__})", where=where
        ) from None


# What version 1 wrote as qemu_cpu for an emulated cell without a model (CellPlan.cpu_label): a label, not a model.
_V1_DEFAULT_MODEL = "max (QEMU default)"


def _upgrade_v1(document: Mapping[str, Any]) -> dict[str, Any]:
    """A version 1 document (already validated) in version 2's shape: only the cells' placement changed."""
    cells = []
    for record in document["cells"]:
        cell = {k: v for k, v in record.items() if k not in ("platform", "emulated", "qemu_cpu")}
        cells.append({**cell, "placement": _placement_v1(record).to_json()})
    return {**document, "schema_version": SCHEMA_VERSION, "cells": cells}


def _placement_v1(record: Mapping[str, Any]) -> Placement:
    """Version 1 said "emulated" only of binfmt (another platform); an amd64 cell run as a CPU model under the
    probe's qemu-x86_64 had emulated false and its model in qemu_cpu: both are under QEMU."""
    model = record["qemu_cpu"] if record["qemu_cpu"] != _V1_DEFAULT_MODEL else None
    emulator: Emulator | None = "binfmt" if record["emulated"] else ("qemu-x86_64" if model else None)
    engine = record.get("engine")
    return Placement(
        platform=record["inputs"]["platform"],
        oci=record["platform"],
        emulator=emulator,
        qemu_cpu=model,
        cpu_not_applied=record["inputs"].get("cpu") is not None and model is None,
        engine=EngineRecord(**engine).label if engine else None,
    )


@dataclass
class ResultsFile:
    """The results.json of a run under way. `add` rewrites the whole file through a rename, so a reader or
    a crash never sees half a file."""

    path: Path
    matrix: str
    host: dict[str, Any]
    cells: list[CellResult] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    finished_at: str | None = None  # written when complete; None means the time of that write (merge sets it)

    # Each cell's part of the file, redacted and dumped once (by id: the same object in self.cells), with the
    # advisories it was dumped with: a later cell of the same platform can change them (a faster OpenBLAS peer).
    # A run rewrites the file after every cell; dumping every cell again each time made a 500-cell run quadratic.
    _cell_texts: dict[int, tuple[tuple[Advisory, ...], str]] = field(default_factory=dict, repr=False, compare=False)

    def add(self, result: CellResult) -> None:
        self.cells.append(result)
        self.write(complete=False)

    def to_json(self, *, complete: bool) -> dict[str, Any]:
        return {**self._header(complete=complete), "cells": cells_json(self.cells)}

    def _header(self, *, complete: bool) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "npmatrix_version": __version__,
            "matrix": self.matrix,
            "started_at": self.started_at,
            "finished_at": (self.finished_at or datetime.now(UTC).isoformat(timespec="seconds")) if complete else None,
            "complete": complete,
            "host": self.host,
        }

    def write(self, *, complete: bool) -> None:
        """The same bytes as `fileio.write_json(path, redact_document(to_json()))`, without dumping the cells
        written before again (tests/unit/test_results_contract.py compares the two)."""
        header = text.redact_document({**self._header(complete=complete), "cells": []})
        head, _, tail = json.dumps(header, indent=2).rpartition('"cells": []')
        known = {id(c) for c in self.cells}
        self._cell_texts = {k: v for k, v in self._cell_texts.items() if k in known}
        notes = advisories(self.cells)
        parts = [self._cell_text(c, notes.get(c.name, ())) for c in self.cells]
        cells = "[\n" + ",\n".join(parts) + "\n  ]" if parts else "[]"
        fileio.write_atomic(self.path, f'{head}"cells": {cells}{tail}\n')

    def _cell_text(self, cell: CellResult, notes: tuple[Advisory, ...]) -> str:
        cached = self._cell_texts.get(id(cell))
        if cached is None or cached[0] != notes:
            dumped = json.dumps(text.redact_document(cell_json(cell, notes)), indent=2)
            cached = (notes, "\n".join(f"    {line}" for line in dumped.splitlines()))
            self._cell_texts[id(cell)] = cached
        return cached[1]
