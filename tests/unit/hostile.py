"""A hostile corpus for the commands that read results files, history directories and freezes (issue 20).

Each `Case` is one input a hostile or careless user (a fork's pull request, another job's artifact, last
night's history) can hand to `report`, `diff`, `merge`, `history`, `freeze-to-matrix`, `explain`, `doctor`
or `clean`. `Case.build(tmp)` makes its files in a fresh directory (also the working directory the command
runs in) and returns a `Setup`: the command line and what the harness (test_hostile_corpus.py) must check.

Layout of `tmp` every case shares, so "outside the run directory" means one thing:
    tmp/run/results.json        the results file under test (its run directory is tmp/run)
    tmp/run/logs/               that run's logs
    tmp/old/results.json        an earlier night, for diff OLD
    tmp/outside/marker.log      a file outside every run directory: its content must never appear in an output

Input classes (`InputClass`) name what is hostile about the input, not how today's code fails; the failure
classes (`Failure`) are what the harness found. `KNOWN_FAILURES` records, per case, the failures on the code
of the rooms-by-stage move (80f7619): those cases are xfail(strict) until the fix of issue 20 lands.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DATA = Path(__file__).resolve().parents[1] / "data"
REAL_RUN = DATA / "results-default.json"
FREEZE = DATA / "colab" / "pip-freeze.txt"

InputClass = Literal[
    "odd-shape",
    "number",
    "date",
    "nesting",
    "escape",
    "secret",
    "log-path",
    "out-path",
    "special-file",
    "gate",
    "engine-address",
]
# "hang": a FIFO given as an input or an output was opened; without the harness feeding it, the command would
# wait for a writer (or a reader) forever.
Failure = Literal["traceback", "exit code", "secret", "escape", "clobber", "outside read", "hang"]
FAILURES: tuple[Failure, ...] = ("traceback", "exit code", "secret", "escape", "clobber", "outside read", "hang")

BAD = frozenset({2})  # bad input: one line, exit 2
VALID = frozenset({0, 1})  # a valid file: the command's own verdict
EITHER = frozenset({0, 1, 2})  # valid by the schema, doubtful by sense (a control character in a name)
NO_ENGINE = frozenset({2, 3})  # an engine command where no engine answers: bad input or engine unavailable

# Planted content that must never reach an output. Each secret carries a marker no real output contains.
OUTSIDE_MARKER = "OUTSIDE-THE-RUN-DIRECTORY-7f3a9c"
PASSWD_MARKER = "root:x:0:0"


@dataclass(frozen=True, kw_only=True)
class Secret:
    kind: str
    text: str  # what is planted
    secret: str  # the part that must never appear


def _secrets() -> tuple[Secret, ...]:
    def marker(kind: str) -> str:
        return f"S3CR3T{kind.upper().replace('_', '')}x9Q2"

    query = [("token", "token"), ("access_token", "access-token"), ("api_key", "api-key")]
    query += [("password", "password"), ("sig", "sig")]
    found = [
        Secret(kind="userinfo", text=f"https://alice:{marker('ui')}@pypi.corp.example/simple", secret=marker("ui")),
        *(
            Secret(kind=kind, text=f"https://pypi.corp.example/simple?{key}={marker(key)}&x=1", secret=marker(key))
            for key, kind in query
        ),
        Secret(kind="bearer", text=f"Authorization: Bearer {marker('bearer')}", secret=marker("bearer")),
        Secret(
            kind="github",
            text="ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
            secret="A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
        ),
    ]
    return tuple(found)


SECRETS = _secrets()

# Escapes: each is (kind, text); every one holds a character the harness refuses in terminal, md and junit output.
ESCAPES: tuple[tuple[str, str], ...] = (
    ("ansi-clear", "\x1b[2J\x1b[Hfake-ok"),
    ("ansi-colour", "\x1b[32mPASS\x1b[0m"),
    ("osc-title", "\x1b]0;owned\x07title"),
    ("osc8-link", "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"),
    ("c1-csi", "\x9b31mred"),
    ("c1-nel", "line\x85forged"),
    ("carriage-return", "innocent\rforged line"),
    ("backspace", "ok\x08\x08no"),
    ("nul", "nul\x00byte"),
)


@dataclass(frozen=True, kw_only=True)
class Setup:
    """What a case hands the harness: the command line, and what to check around it."""

    args: tuple[str, ...]
    allowed: frozenset[int]
    secrets: tuple[str, ...] = ()  # must not appear in stdout, stderr or any file the command wrote
    outside: tuple[str, ...] = ()  # content from outside the run directory: must not appear either
    env: Mapping[str, str | None] = field(default_factory=dict)
    feed: Mapping[Path, bytes] = field(default_factory=dict)  # FIFOs given as inputs, fed if opened
    drain: tuple[Path, ...] = ()  # FIFOs given as outputs, drained if opened
    real_engine_parse: bool = False  # let Engine.connect parse its address (a fake client that never connects)


@dataclass(frozen=True, kw_only=True)
class Case:
    name: str
    klass: InputClass
    build: Callable[[Path], Setup]


# --- building files ----------------------------------------------------------------------------------------


@functools.cache
def _real_text() -> str:
    return REAL_RUN.read_text()


def real() -> dict[str, Any]:
    """A fresh copy of a real run's results document (4 cells, probe facts and a benchmark)."""
    document: dict[str, Any] = json.loads(_real_text())
    return document


def write(path: Path, document: Mapping[str, Any] | str, *, allow_nan: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document, indent=1, allow_nan=allow_nan)
    path.write_text(text)
    return path


def run_dir(tmp: Path, document: Mapping[str, Any] | str, *, allow_nan: bool = False) -> Path:
    """tmp/run/results.json with `document`, tmp/old/results.json the real run, tmp/outside/marker.log."""
    write(tmp / "old" / "results.json", _real_text())
    write(tmp / "outside" / "marker.log", f"{OUTSIDE_MARKER}\n")
    (tmp / "run" / "logs").mkdir(parents=True, exist_ok=True)
    return write(tmp / "run" / "results.json", document, allow_nan=allow_nan)


def rename_cell(document: dict[str, Any], index: int, name: str) -> None:
    cell = document["cells"][index]
    cell["name"] = name
    cell["inputs"]["name"] = name


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def char_device_like_dev_null(path: Path) -> Path:
    """A character device node with /dev/null's numbers, in tmp: `--out /dev/null` itself must never be tried
    here (a writer that renames over it would replace the machine's /dev/null, as root)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return path


def environ_marker() -> str:
    """A piece of this process's /proc/self/environ: if it shows up in an output, the environment was read."""
    try:
        entries = Path("/proc/self/environ").read_bytes().split(b"\0")
    except OSError:
        return OUTSIDE_MARKER
    long = [e.decode(errors="replace") for e in entries if len(e) >= 16 and b"=" in e]
    return long[0][:40] if long else OUTSIDE_MARKER


def passwd_marker() -> tuple[str, ...]:
    try:
        return (PASSWD_MARKER,) if PASSWD_MARKER in Path("/etc/passwd").read_text() else ()
    except OSError:
        return ()


# --- commands over a results file ---------------------------------------------------------------------------

Command = Literal[
    "report-md", "report-junit", "report-json", "report-html", "diff", "diff-md", "merge", "explain", "history-list"
]
COMMANDS: tuple[Command, ...] = (
    "report-md",
    "report-junit",
    "report-json",
    "report-html",
    "diff",
    "diff-md",
    "merge",
    "explain",
    "history-list",
)
CHEAP_COMMANDS: tuple[Command, ...] = tuple(c for c in COMMANDS if c != "report-html")
STAMPED = "20261125T183858Z.json"  # results-default.json's started_at, as `history add` names it


def command_args(command: Command, tmp: Path, results: Path) -> tuple[str, ...]:
    """The command line that makes `command` read `results` (the run directory's results.json)."""
    if command.startswith("report-"):
        return ("report", str(results), "--format", command.removeprefix("report-"))
    if command in ("diff", "diff-md"):
        fmt = ("--format", "md") if command == "diff-md" else ()
        return ("diff", str(tmp / "old" / "results.json"), str(results), *fmt)
    if command == "merge":
        return ("merge", str(results), "--out", str(tmp / "merged" / "results.json"))
    if command == "explain":
        names = _cell_names(results)
        first, second = (names + names)[:2] if names else ("x", "x")
        return ("explain", f"{results}:{first}", f"{results}:{second}")
    history = tmp / "history"
    history.mkdir(exist_ok=True)
    (history / STAMPED).write_bytes(results.read_bytes())
    return ("history", "list", str(history))


def _cell_names(results: Path) -> list[str]:
    try:
        document = json.loads(results.read_text())
        return [str(c["inputs"]["name"]) for c in document["cells"]][:2]
    except (ValueError, KeyError, TypeError, OSError):
        return []


def over(
    document_of: Callable[[], dict[str, Any] | str],
    command: Command,
    *,
    allowed: frozenset[int],
    secrets: tuple[str, ...] = (),
    allow_nan: bool = False,
) -> Callable[[Path], Setup]:
    def build(tmp: Path) -> Setup:
        results = run_dir(tmp, document_of(), allow_nan=allow_nan)
        return Setup(args=command_args(command, tmp, results), allowed=allowed, secrets=secrets)

    return build


# --- string fields a hostile value can be planted in -------------------------------------------------------

Plant = Callable[[dict[str, Any], str], None]


def _cell_field(*keys: str, as_list: bool = False) -> Plant:
    def plant(document: dict[str, Any], value: str) -> None:
        for cell in document["cells"]:
            target = cell
            for key in keys[:-1]:
                target = target[key]
            target[keys[-1]] = [value] if as_list else value

    return plant


def _name(document: dict[str, Any], value: str) -> None:
    rename_cell(document, 0, f"colab-{value}")


def _engine_host(document: dict[str, Any], value: str) -> None:
    for cell in document["cells"]:
        cell["engine"] = {"kind": "docker", "host": value, "context": value, "architecture": "amd64"}


def _top(key: str) -> Plant:
    def plant(document: dict[str, Any], value: str) -> None:
        document[key] = value

    return plant


def _host_builder(document: dict[str, Any], value: str) -> None:
    document["host"]["builder"] = value


def _stdout(document: dict[str, Any], value: str) -> None:
    numpy = document["cells"][0]["probe"]["numpy"]
    numpy["stderr_tail"] = value
    document["cells"][0]["evidence"] = [value]


def _real_v2() -> dict[str, Any]:
    from npmatrix.records import results

    document: dict[str, Any] = results.from_json(real(), where=str(REAL_RUN)).to_json()
    return document


def _tests_field(key: str, *, as_list: bool = False) -> Plant:
    """A cell's own tests (test_command) that failed, with `value` in one of the strings the reports show."""

    def plant(document: dict[str, Any], value: str) -> None:
        # The real run is version 1, which had no tests: the document becomes the same run as version 2 writes it.
        document.clear()
        document.update(_real_v2())
        for cell in document["cells"]:
            cell["tests"] = {
                "command": "pytest {project}/tests",
                "skipped": None,
                "exit_code": 1,
                "timed_out": False,
                "duration_s": 0.5,
                "output_tail": "collected 2 items\nFAILED tests/test_a.py::test_b\n",
                "failed": ["tests/test_a.py::test_b"],
                "counts": {"tests": 2, "failures": 1, "errors": 0, "skipped": 0},
                "oom_killed": False,
                "note": None,
            }
            cell["tests"][key] = [value] if as_list else value

    return plant


def _not_asked(document: dict[str, Any], value: str) -> None:
    # The real run is version 1, which had no not_asked: the document becomes the same run as version 2 writes it.
    document.clear()
    document.update(_real_v2())
    for cell in document["cells"]:
        cell["not_asked"] = [{"source": f"piwheels {value}", "url": "https://www.piwheels.org/simple", "why": value}]


FIELDS: dict[str, Plant] = {
    "cell-name": _name,
    "note": _cell_field("inputs", "note"),
    "reason": _cell_field("reason"),
    "fix": _cell_field("fix"),
    "evidence": _cell_field("evidence", as_list=True),
    "stdout": _stdout,
    "matrix-source": _top("matrix"),
    "index-url": _cell_field("inputs", "index_url"),
    "extra-index-url": _cell_field("inputs", "extra_index_url", as_list=True),
    "image-tag": _cell_field("image", "tag"),
    "log-path": _cell_field("logs", "build"),
    "engine-host": _engine_host,
    "host-builder": _host_builder,
    "qemu-cpu": _cell_field("qemu_cpu"),
    "tests-output": _tests_field("output_tail"),
    "tests-failed": _tests_field("failed", as_list=True),
    "tests-command": _tests_field("command"),
    "not-asked": _not_asked,
}


def planted(plant: Plant, value: str) -> Callable[[], dict[str, Any]]:
    def document() -> dict[str, Any]:
        doc = real()
        plant(doc, value)
        return doc

    return document


def secret_cases() -> Iterator[Case]:
    """Every secret kind in every string field, each field through every cheap command in turn (the kinds
    rotate so that each kind meets each command), and every field once through the HTML report."""
    for i, (field_name, plant) in enumerate(FIELDS.items()):
        for j, command in enumerate(CHEAP_COMMANDS):
            secret = SECRETS[(i + j) % len(SECRETS)]
            # A secret in a cell name is no valid name (the reader may refuse it); one in the matrix source makes
            # it another matrix than OLD's, which diff refuses (exit 2): both are right, as long as nothing leaks.
            allowed = EITHER if field_name in ("cell-name", "matrix-source") else VALID
            yield Case(
                name=f"secret/{secret.kind}-in-{field_name}/{command}",
                klass="secret",
                build=over(planted(plant, secret.text), command, allowed=allowed, secrets=(secret.secret,)),
            )
        if i % 2 == 0:
            secret = SECRETS[i % len(SECRETS)]
            # A cell name holding a secret is no valid cell name: the reader may refuse the file (exit 2).
            allowed = EITHER if field_name == "cell-name" else VALID
            yield Case(
                name=f"secret/{secret.kind}-in-{field_name}/report-html",
                klass="secret",
                build=over(planted(plant, secret.text), "report-html", allowed=allowed, secrets=(secret.secret,)),
            )


ESCAPE_FIELDS = (
    "cell-name",
    "note",
    "reason",
    "fix",
    "evidence",
    "stdout",
    "matrix-source",
    "tests-output",
    "tests-failed",
    "not-asked",
)


def escape_cases() -> Iterator[Case]:
    """Escapes in the fields that reach a terminal or a text report, through every command that prints one."""
    printing: tuple[Command, ...] = ("report-md", "report-junit", "diff", "diff-md", "merge", "explain", "history-list")
    for i, field_name in enumerate(ESCAPE_FIELDS):
        for j, command in enumerate(printing):
            kind, text = ESCAPES[(i + j) % len(ESCAPES)]
            allowed = EITHER if field_name in ("cell-name", "matrix-source") else VALID
            yield Case(
                name=f"escape/{kind}-in-{field_name}/{command}",
                klass="escape",
                build=over(planted(FIELDS[field_name], text), command, allowed=allowed),
            )


# --- odd shapes, numbers, dates, nesting ------------------------------------------------------------------


def _shape(mutate: Callable[[dict[str, Any]], None]) -> Callable[[], dict[str, Any]]:
    def document() -> dict[str, Any]:
        doc = real()
        mutate(doc)
        return doc

    return document


def _set_inputs(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["cells"][0]["inputs"][key] = copy.deepcopy(value)

    return mutate


def _set_cell(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        for cell in doc["cells"]:
            cell[key] = copy.deepcopy(value)

    return mutate


def _many_cells(n: int) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        template = doc["cells"][2]  # pi32-pip: a failed build, no probe facts
        doc["cells"] = []
        for i in range(n):
            cell = copy.deepcopy(template)
            cell["name"] = cell["inputs"]["name"] = f"cell-{i:04d}"
            doc["cells"].append(cell)

    return mutate


def _no_cells(doc: dict[str, Any]) -> None:
    doc["cells"] = []


def _huge_evidence(doc: dict[str, Any]) -> None:
    doc["cells"][2]["evidence"] = [f"line {i}" for i in range(20000)]


def _huge_stdout(doc: dict[str, Any]) -> None:
    doc["cells"][0]["probe"]["numpy"]["stderr_tail"] = "x" * 2_000_000
    doc["cells"][0]["reason"] = "y" * 200_000


def _no_probe(doc: dict[str, Any]) -> None:
    for cell in doc["cells"]:
        cell["probe"] = None
        cell["summary"] = None


def _empty_logs_and_durations(doc: dict[str, Any]) -> None:
    for cell in doc["cells"]:
        cell["logs"] = {}
        cell["durations_s"] = {}


def _partial_engine(doc: dict[str, Any]) -> None:
    doc["cells"][0]["engine"] = {"kind": "docker"}


def _engine_extra_key(doc: dict[str, Any]) -> None:
    doc["cells"][0]["engine"] = {"kind": "docker", "host": None, "context": None, "architecture": None, "x": 1}


def _unknown_input_keys(doc: dict[str, Any]) -> None:
    doc["cells"][0]["inputs"]["from_the_future"] = {"a": [1, 2, 3]}


def _host_empty(doc: dict[str, Any]) -> None:
    doc["host"] = {}


def _host_run_id_object(doc: dict[str, Any]) -> None:
    doc["host"]["run_id"] = {"nested": ["odd"]}


def _reused_without_from(doc: dict[str, Any]) -> None:
    doc["cells"][0]["reused"] = ["probe", "bench"]


def _bench_overlap_empty(doc: dict[str, Any]) -> None:
    doc["cells"][0]["bench_overlap"] = []


SHAPES: dict[str, Callable[[dict[str, Any]], None]] = {
    "cpu-model-name-only": _set_inputs("cpu_model", {"name": "pi4"}),
    "cpu-model-empty-object": _set_inputs("cpu_model", {}),
    "cpu-model-qemu-not-object": _set_inputs("cpu_model", {"name": "pi4", "description": "d", "qemu": "cortex-a72"}),
    "cpu-model-a-list": _set_inputs("cpu_model", ["pi4"]),
    "requirements-path-only": _set_inputs("requirements", {"path": "requirements.txt"}),
    "requirements-empty-object": _set_inputs("requirements", {}),
    "find-links-files-not-list": _set_inputs("find_links", {"path": "wheels", "sha256": "0" * 64, "files": 7}),
    "engine-kind-only": _partial_engine,
    "engine-extra-key": _engine_extra_key,
    "inputs-unknown-key": _unknown_input_keys,
    "inputs-packages-an-object": _set_inputs("packages", {"numpy": "2"}),
    "no-cells": _no_cells,
    "600-cells": _many_cells(600),
    "evidence-20000-lines": _huge_evidence,
    "stdout-2-MB": _huge_stdout,
    "no-probe-anywhere": _no_probe,
    "empty-logs-and-durations": _empty_logs_and_durations,
    "host-empty": _host_empty,
    "host-run-id-an-object": _host_run_id_object,
    "reused-without-reused-from": _reused_without_from,
    "bench-overlap-empty": _bench_overlap_empty,
}
# Shapes the schema lets through but the code cannot build a cell from: refusing them (2) is right.
_BROKEN_SHAPES = {
    "cpu-model-name-only",
    "cpu-model-empty-object",
    "cpu-model-qemu-not-object",
    "cpu-model-a-list",
    "requirements-path-only",
    "requirements-empty-object",
    "find-links-files-not-list",
    "engine-kind-only",
    "engine-extra-key",
    "inputs-packages-an-object",
    "host-run-id-an-object",
}


def shape_cases() -> Iterator[Case]:
    commands: tuple[Command, ...] = ("report-md", "report-json", "diff", "merge", "explain", "history-list")
    for i, (shape, mutate) in enumerate(SHAPES.items()):
        allowed = EITHER if shape in _BROKEN_SHAPES else VALID
        if shape == "no-cells":
            allowed = EITHER  # explain and merge of no cells: a one-line refusal is right too
        chosen = commands if i % 3 == 0 else commands[i % 2 :: 2]
        for command in chosen:
            yield Case(
                name=f"odd-shape/{shape}/{command}",
                klass="odd-shape",
                build=over(_shape(mutate), command, allowed=allowed),
            )


def _nan_in(where: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        value = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}[where.split(":")[1]]
        spot = where.split(":")[0]
        if spot == "durations":
            doc["cells"][0]["durations_s"]["build"] = value
        elif spot == "gflops":
            doc["cells"][0]["probe"]["bench"]["runs"][0]["results"][0]["gflops_median"] = value
        elif spot == "probe-duration":
            doc["cells"][0]["probe"]["probe_duration_s"] = value
        else:
            doc["host"]["load"] = value

    return mutate


def number_cases() -> Iterator[Case]:
    spots = ("durations:nan", "durations:inf", "gflops:nan", "gflops:inf", "gflops:-inf", "probe-duration:nan")
    spots += ("host:inf",)
    commands: tuple[Command, ...] = ("report-json", "diff", "merge", "report-md")
    for i, spot in enumerate(spots):
        for command in (commands[i % 4], commands[(i + 1) % 4]):
            yield Case(
                name=f"number/{spot.replace(':', '-')}/{command}",
                klass="number",
                build=over(_shape(_nan_in(spot)), command, allowed=BAD, allow_nan=True),
            )

    def huge_int(doc: dict[str, Any]) -> None:
        doc["cells"][0]["durations_s"]["build"] = 10**400

    yield Case(
        name="number/int-10e400-duration/report-json",
        klass="number",
        build=over(_shape(huge_int), "report-json", allowed=BAD),
    )
    yield Case(
        name="number/int-10e400-duration/diff", klass="number", build=over(_shape(huge_int), "diff", allowed=BAD)
    )


DATES: dict[str, tuple[str, frozenset[int]]] = {
    "year-1": ("0001-01-01T00:00:00+00:00", EITHER),
    "year-1-east": ("0001-01-01T00:00:00+05:00", EITHER),
    "year-9999-west": ("9999-12-31T23:59:59-12:00", EITHER),
    "unparsable": ("yesterday at noon", BAD),
    "empty": ("", BAD),
    "month-13": ("2026-13-45T00:00:00+00:00", BAD),
}


def _started_at(value: str) -> Callable[[], dict[str, Any]]:
    def document() -> dict[str, Any]:
        doc = real()
        doc["started_at"] = value
        doc["finished_at"] = value
        return doc

    return document


def date_cases() -> Iterator[Case]:
    for label, (value, allowed) in DATES.items():
        for command in ("history-list", "merge", "report-md"):
            yield Case(
                name=f"date/{label}/{command}", klass="date", build=over(_started_at(value), command, allowed=allowed)
            )  # type: ignore[arg-type]

        def history_add(tmp: Path, value: str = value, allowed: frozenset[int] = allowed) -> Setup:
            results = run_dir(tmp, _started_at(value)())
            return Setup(args=("history", "add", str(results), str(tmp / "history")), allowed=allowed)

        def diff_history(tmp: Path, value: str = value, allowed: frozenset[int] = allowed) -> Setup:
            run_dir(tmp, _real_text())
            write(tmp / "history" / STAMPED, _real_text())
            new = write(tmp / "new" / "results.json", _started_at(value)())
            return Setup(args=("diff", str(tmp / "history"), str(new)), allowed=allowed)

        def html_history(tmp: Path, value: str = value) -> Setup:
            results = run_dir(tmp, _real_text())
            write(tmp / "history" / "20261124T000000Z.json", _started_at(value)())
            # A kept night that does not load is skipped with a warning: the report itself is valid.
            return Setup(
                args=("report", str(results), "--format", "html", "--history", str(tmp / "history")), allowed=VALID
            )

        yield Case(name=f"date/{label}/history-add", klass="date", build=history_add)
        yield Case(name=f"date/{label}/diff-history-dir", klass="date", build=diff_history)
        if label in ("year-9999-west", "unparsable"):
            yield Case(name=f"date/{label}-kept-night/report-html-history", klass="date", build=html_history)


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"d": value}
    return value


def nesting_cases() -> Iterator[Case]:
    for depth in (200, 900):

        def host_deep(doc: dict[str, Any], depth: int = depth) -> None:
            doc["host"]["deep"] = _deep(depth)

        def probe_deep(doc: dict[str, Any], depth: int = depth) -> None:
            doc["cells"][0]["probe"]["env"] = {"DEEP": _deep(depth)}

        for command in ("merge", "report-json", "diff"):
            yield Case(
                name=f"nesting/host-{depth}-deep/{command}",
                klass="nesting",
                build=over(_shape(host_deep), command, allowed=EITHER),
            )  # type: ignore[arg-type]
        yield Case(
            name=f"nesting/probe-env-{depth}-deep/explain",
            klass="nesting",
            build=over(_shape(probe_deep), "explain", allowed=EITHER),
        )


# --- paths: logs, outputs, special files ------------------------------------------------------------------


def _log_case(name: str, point: Callable[[Path], tuple[str, tuple[str, ...]]]) -> Case:
    """A run whose first cell's build log is `point(tmp)`'s recorded path; the HTML report must not show it."""

    def build(tmp: Path) -> Setup:
        results = run_dir(tmp, _real_text())
        recorded, outside = point(tmp)
        doc = real()
        doc["cells"][0]["logs"]["build"] = recorded
        write(results, doc)
        return Setup(args=("report", str(results), "--format", "html"), allowed=EITHER, outside=outside)

    return Case(name=f"log-path/{name}/report-html", klass="log-path", build=build)


def _symlink_log(target: Path | None) -> Callable[[Path], tuple[str, tuple[str, ...]]]:
    def point(tmp: Path) -> tuple[str, tuple[str, ...]]:
        link = tmp / "run" / "logs" / "colab-like.build.log"
        goal = target if target is not None else tmp / "outside" / "marker.log"
        link.symlink_to(goal)
        outside = passwd_marker() if target is not None else (OUTSIDE_MARKER,)
        return "results/logs/colab-like.build.log", outside

    return point


def log_cases() -> Iterator[Case]:
    yield _log_case("etc-passwd", lambda tmp: ("/etc/passwd", passwd_marker()))
    yield _log_case("proc-self-environ", lambda tmp: ("/proc/self/environ", (environ_marker(),)))
    yield _log_case("dotdot-outside", lambda tmp: ("run/logs/../../outside/marker.log", (OUTSIDE_MARKER,)))
    yield _log_case("absolute-outside", lambda tmp: (str(tmp / "outside" / "marker.log"), (OUTSIDE_MARKER,)))
    yield _log_case("dotdot-etc-passwd", lambda tmp: ("../" * 12 + "etc/passwd", passwd_marker()))
    yield _log_case("symlink-out-of-run-dir", _symlink_log(None))
    yield _log_case("symlink-to-etc-passwd", _symlink_log(Path("/etc/passwd")))

    def named_like_passwd(tmp: Path) -> tuple[str, tuple[str, ...]]:
        # the basename rule: `logs/passwd` beside results.json is looked for first, and it is a symlink out
        (tmp / "run" / "logs" / "passwd").symlink_to("/etc/passwd")
        return "/nonexistent/passwd", passwd_marker()

    yield _log_case("basename-symlink-to-etc-passwd", named_like_passwd)

    def fifo_log(tmp: Path) -> tuple[str, tuple[str, ...]]:
        fifo(tmp / "run" / "logs" / "colab-like.build.log")
        return "results/logs/colab-like.build.log", ()

    yield _log_case("log-is-a-fifo", fifo_log)
    yield _log_case("log-is-dev-zero", lambda tmp: ("/dev/zero", ()))


def _out_case(name: str, make: Callable[[Path, Path], tuple[str, ...]], *, drain: bool = False) -> Case:
    def build(tmp: Path) -> Setup:
        results = run_dir(tmp, _real_text())
        args = make(tmp, results)
        drained = (Path(args[-1]),) if drain else ()
        return Setup(args=args, allowed=BAD, drain=drained)

    return Case(name=f"out-path/{name}", klass="out-path", build=build)


def _freeze_out(tmp: Path, out: Path | None = None) -> tuple[str, ...]:
    freeze = tmp / "run" / "colab-freeze.txt"
    freeze.write_text("numpy==2.0.2\nscipy==1.14.1\n")
    return ("freeze-to-matrix", str(freeze), "--out", str(out or freeze))


def out_cases() -> Iterator[Case]:
    def link_to(tmp: Path, results: Path) -> str:
        link = tmp / "run" / "link.json"
        link.symlink_to(results)
        return str(link)

    def char_device(tmp: Path) -> str:
        return str(char_device_like_dev_null(tmp / "dev" / "null"))

    yield _out_case("report-out-is-its-input", lambda tmp, r: ("report", str(r), "--format", "json", "--out", str(r)))
    yield _out_case("report-md-out-is-its-input", lambda tmp, r: ("report", str(r), "--format", "md", "--out", str(r)))
    yield _out_case(
        "report-out-symlink-to-input", lambda tmp, r: ("report", str(r), "--format", "md", "--out", link_to(tmp, r))
    )
    yield _out_case(
        "report-out-is-a-directory", lambda tmp, r: ("report", str(r), "--format", "md", "--out", str(tmp / "run"))
    )
    yield _out_case(
        "report-out-is-a-fifo",
        lambda tmp, r: ("report", str(r), "--format", "md", "--out", str(fifo(tmp / "out.fifo"))),
        drain=True,
    )
    yield _out_case(
        "report-out-is-a-char-device", lambda tmp, r: ("report", str(r), "--format", "md", "--out", char_device(tmp))
    )
    yield _out_case("merge-out-is-a-part", lambda tmp, r: ("merge", str(r), "--out", str(r)))
    yield _out_case(
        "merge-out-is-the-second-part",
        lambda tmp, r: ("merge", str(tmp / "old" / "results.json"), str(r), "--out", str(r)),
    )

    def disjoint(tmp: Path, results: Path) -> tuple[str, ...]:
        doc = real()
        for i, cell in enumerate(doc["cells"]):
            rename_cell(doc, i, f"other-{cell['name']}")
        write(results, doc)
        return ("merge", str(tmp / "old" / "results.json"), str(results), "--out", str(results))

    yield _out_case("merge-out-is-the-second-of-two-disjoint-parts", disjoint)
    yield _out_case("merge-out-symlink-to-a-part", lambda tmp, r: ("merge", str(r), "--out", link_to(tmp, r)))
    yield _out_case(
        "merge-out-is-a-fifo", lambda tmp, r: ("merge", str(r), "--out", str(fifo(tmp / "merged.fifo"))), drain=True
    )
    yield _out_case("merge-out-is-a-char-device", lambda tmp, r: ("merge", str(r), "--out", char_device(tmp)))
    yield _out_case("merge-out-is-a-directory", lambda tmp, r: ("merge", str(r), "--out", str(tmp / "old")))
    yield _out_case("freeze-out-is-its-input", lambda tmp, r: _freeze_out(tmp))
    yield _out_case("freeze-out-is-a-fifo", lambda tmp, r: _freeze_out(tmp, fifo(tmp / "m.fifo")), drain=True)
    yield _out_case(
        "freeze-out-is-a-char-device", lambda tmp, r: _freeze_out(tmp, char_device_like_dev_null(tmp / "dev" / "null"))
    )
    yield _out_case(
        "history-add-dir-is-a-file", lambda tmp, r: ("history", "add", str(r), str(tmp / "old" / "results.json"))
    )
    yield _out_case("history-add-dir-is-the-run-dir", lambda tmp, r: ("history", "add", str(r), str(tmp / "run")))


def _special_input(
    name: str, make: Callable[[Path, Path], tuple[tuple[str, ...], Path | None]], *, allowed: frozenset[int] = BAD
) -> Case:
    """An input that is a FIFO (fed with a valid results file if anything opens it) or a device."""

    def build(tmp: Path) -> Setup:
        results = run_dir(tmp, _real_text())
        args, fed = make(tmp, results)
        return Setup(args=args, allowed=allowed, feed={fed: _real_text().encode()} if fed else {})

    return Case(name=f"special-file/{name}", klass="special-file", build=build)


def special_cases() -> Iterator[Case]:
    def f(tmp: Path) -> Path:
        return fifo(tmp / "in.fifo")

    def with_fifo(
        args: Callable[[Path, Path, Path], tuple[str, ...]],
    ) -> Callable[[Path, Path], tuple[tuple[str, ...], Path | None]]:
        def make(tmp: Path, results: Path) -> tuple[tuple[str, ...], Path | None]:
            pipe = f(tmp)
            return args(tmp, results, pipe), pipe

        return make

    yield _special_input("report-fifo", with_fifo(lambda tmp, r, p: ("report", str(p), "--format", "md")))
    yield _special_input("diff-old-fifo", with_fifo(lambda tmp, r, p: ("diff", str(p), str(r))))
    yield _special_input("diff-new-fifo", with_fifo(lambda tmp, r, p: ("diff", str(r), str(p))))
    yield _special_input(
        "merge-part-fifo", with_fifo(lambda tmp, r, p: ("merge", str(p), "--out", str(tmp / "m.json")))
    )
    yield _special_input("explain-fifo", with_fifo(lambda tmp, r, p: ("explain", f"{p}:colab-like", f"{r}:pi64")))
    yield _special_input("history-add-fifo", with_fifo(lambda tmp, r, p: ("history", "add", str(p), str(tmp / "h"))))
    yield _special_input("freeze-fifo", with_fifo(lambda tmp, r, p: ("freeze-to-matrix", str(p))))

    def kept_fifo(tmp: Path, results: Path) -> tuple[tuple[str, ...], Path | None]:
        (tmp / "history").mkdir()
        write(tmp / "history" / "20261124T000000Z.json", _real_text())
        return ("history", "list", str(tmp / "history")), fifo(tmp / "history" / STAMPED)

    # A FIFO among kept nights is no night: skipping it (0) is right, so is refusing the directory (2).
    yield _special_input("history-list-kept-night-is-a-fifo", kept_fifo, allowed=frozenset({0, 2}))
    for device in ("/dev/zero", "/dev/null", "/dev/urandom"):
        label = device.removeprefix("/dev/")
        yield _special_input(f"report-{label}", lambda tmp, r, d=device: (("report", d, "--format", "md"), None))  # type: ignore[misc]
        yield _special_input(
            f"merge-{label}", lambda tmp, r, d=device: (("merge", d, "--out", str(tmp / "m.json")), None)
        )  # type: ignore[misc]
    yield _special_input("history-add-dev-zero", lambda tmp, r: (("history", "add", "/dev/zero", str(tmp / "h")), None))
    yield _special_input("freeze-dev-urandom", lambda tmp, r: (("freeze-to-matrix", "/dev/urandom"), None))
    yield _special_input("diff-new-is-a-directory", lambda tmp, r: (("diff", str(r), str(tmp / "run")), None))


# --- the nightly gate ----------------------------------------------------------------------------------------


def _gate(name: str, make: Callable[[Path], tuple[str, ...]], allowed: frozenset[int] = BAD) -> Case:
    def build(tmp: Path) -> Setup:
        return Setup(args=make(tmp), allowed=allowed)

    return Case(name=f"gate/{name}", klass="gate", build=build)


def _regressed() -> dict[str, Any]:
    """The real run with its first cell (ok before) now failing: diff against the real run must exit 1."""
    doc = real()
    cell = doc["cells"][0]
    cell.update(status="crashed", as_expected=False, reason="NumPy crashed on import", probe=None, summary=None)
    return doc


def _twice(doc: dict[str, Any]) -> dict[str, Any]:
    doc["cells"].append(copy.deepcopy(doc["cells"][0]))
    return doc


def gate_cases() -> Iterator[Case]:
    def run_dir_as_old(tmp: Path) -> tuple[str, ...]:
        run_dir(tmp, _real_text())
        new = write(tmp / "new" / "results.json", _regressed())
        return ("diff", str(tmp / "old"), str(new), "--fail-on-unexpected")

    yield _gate("diff-old-is-a-run-directory", run_dir_as_old)

    def cell_twice_in_old(tmp: Path) -> tuple[str, ...]:
        old = write(tmp / "run" / "results.json", _twice(real()))
        return ("diff", str(old), str(write(tmp / "new" / "results.json", _regressed())))

    yield _gate("diff-cell-named-twice-in-old", cell_twice_in_old)

    def cell_twice_in_new(tmp: Path) -> tuple[str, ...]:
        new = write(tmp / "run" / "results.json", _twice(_regressed()))
        return ("diff", str(write(tmp / "old" / "results.json", _real_text())), str(new))

    yield _gate("diff-cell-named-twice-in-new", cell_twice_in_new)

    def merge_twice(tmp: Path) -> tuple[str, ...]:
        part = write(tmp / "run" / "results.json", _twice(real()))
        return ("merge", str(part), "--out", str(tmp / "merged.json"))

    yield _gate("merge-cell-named-twice-in-one-part", merge_twice)

    def explain_twice(tmp: Path) -> tuple[str, ...]:
        part = write(tmp / "run" / "results.json", _twice(real()))
        return ("explain", f"{part}:colab-like", f"{part}:pi64")

    yield _gate("explain-cell-named-twice", explain_twice)

    def history_add_twice(tmp: Path) -> tuple[str, ...]:
        part = write(tmp / "run" / "results.json", _twice(real()))
        return ("history", "add", str(part), str(tmp / "history"))

    yield _gate("history-add-cell-named-twice", history_add_twice)
    for threshold in ("nan", "inf", "-inf", "-1"):

        def perf(tmp: Path, threshold: str = threshold) -> tuple[str, ...]:
            old = write(tmp / "old" / "results.json", _real_text())
            return (
                "diff",
                str(old),
                str(write(tmp / "run" / "results.json", _real_text())),
                "--perf-threshold",
                threshold,
            )

        yield _gate(f"diff-perf-threshold-{threshold}", perf)

    def stray_history(tmp: Path) -> tuple[str, ...]:
        # a history directory whose only night is not named as `history add` names them: nothing kept, so
        # "every cell new" is the documented answer; the regression in NEW must still fail the gate
        write(tmp / "history" / "results.json", _real_text())
        new = write(tmp / "run" / "results.json", _regressed())
        return ("diff", str(tmp / "history"), str(new), "--fail-on-unexpected")

    yield _gate("diff-history-with-unkept-file-still-gates-new", stray_history, allowed=frozenset({1, 2}))


# --- freezes, matrices and engine addresses -------------------------------------------------------------


def freeze_cases() -> Iterator[Case]:
    for i, secret in enumerate(SECRETS):
        lines = (
            f"mypkg @ {secret.text}/mypkg-1.0-py3-none-any.whl",
            f"--index-url {secret.text}",
            f"-e git+{secret.text}#egg=thing",
        )
        line = lines[i % len(lines)]

        def build(tmp: Path, line: str = line, secret: Secret = secret, out: bool = i % 2 == 0) -> Setup:
            freeze = write(tmp / "run" / "freeze.txt", f"numpy==2.0.2\n{line}\nscipy==1.14.1\n")
            tail = ("--out", str(tmp / "out" / "m.toml")) if out else ()
            return Setup(
                args=("freeze-to-matrix", str(freeze), *tail), allowed=frozenset({0, 2}), secrets=(secret.secret,)
            )

        yield Case(name=f"secret/{secret.kind}-in-freeze-line/freeze-to-matrix", klass="secret", build=build)

    def source(tmp: Path) -> Setup:
        freeze = write(tmp / "run" / "freeze.txt", "numpy==2.0.2\n")
        return Setup(
            args=("freeze-to-matrix", str(freeze), "--source", SECRETS[1].text),
            allowed=frozenset({0, 2}),
            secrets=(SECRETS[1].secret,),
        )

    yield Case(name="secret/token-in-freeze-source-option/freeze-to-matrix", klass="secret", build=source)

    def escape_in_freeze(tmp: Path) -> Setup:
        freeze = write(tmp / "run" / "freeze.txt", "numpy==2.0.2\nevil\x1b]0;owned\x07pkg==1.0\nscipy==1.14.1\n")
        return Setup(args=("freeze-to-matrix", str(freeze)), allowed=frozenset({0, 2}))

    yield Case(name="escape/osc-in-freeze-line/freeze-to-matrix", klass="escape", build=escape_in_freeze)


MATRIX = '[[cell]]\nname = "c"\nplatform = "amd64"\nnumpy = "==2.3.5"\nexpect = "ok"\n'


def matrix_cases() -> Iterator[Case]:
    """A matrix refused for holding credentials must not print them back in its one error line."""
    for secret in SECRETS[:6]:

        def build(tmp: Path, secret: Secret = secret) -> Setup:
            path = write(tmp / "run" / "m.toml", MATRIX + f'index_url = "{secret.text}"\n')
            return Setup(args=("list", "--matrix", str(path)), allowed=VALID | BAD, secrets=(secret.secret,))

        yield Case(name=f"secret/{secret.kind}-in-matrix-index-url/list", klass="secret", build=build)

    def merge_matrix(tmp: Path) -> Setup:
        results = run_dir(tmp, _real_text())
        path = write(tmp / "run" / "m.toml", MATRIX + f'extra_index_url = ["{SECRETS[2].text}"]\n')
        return Setup(
            args=("merge", str(results), "--out", str(tmp / "m.json"), "--matrix", str(path)),
            allowed=BAD,
            secrets=(SECRETS[2].secret,),
        )

    yield Case(name="secret/access-token-in-merge-matrix/merge", klass="secret", build=merge_matrix)


ADDRESSES = {"port-abc": "tcp://127.0.0.1:abc", "port-70000": "tcp://127.0.0.1:70000", "ipv6-unclosed": "tcp://[::1"}


def engine_cases() -> Iterator[Case]:
    for label, address in ADDRESSES.items():
        for command in ("doctor", "clean"):

            def env_case(tmp: Path, address: str = address, command: str = command) -> Setup:
                return Setup(
                    args=(command, "--matrix", "bookworm", "--arch", "amd64"),
                    allowed=NO_ENGINE,
                    env={"DOCKER_HOST": address, "DOCKER_CONTEXT": None},
                    real_engine_parse=True,
                )

            yield Case(name=f"engine-address/DOCKER_HOST-{label}/{command}", klass="engine-address", build=env_case)

        def engine_for(tmp: Path, address: str = address) -> Setup:
            return Setup(
                args=("doctor", "--matrix", "bookworm", "--arch", "arm64", "--engine-for", f"arm64={address}"),
                allowed=NO_ENGINE,
                env={"DOCKER_HOST": None, "DOCKER_CONTEXT": None},
                real_engine_parse=True,
            )

        yield Case(name=f"engine-address/engine-for-{label}/doctor", klass="engine-address", build=engine_for)

        def matrix_engine_for(tmp: Path, address: str = address) -> Setup:
            cell = MATRIX.replace('"amd64"', '"arm64"')
            path = write(tmp / "run" / "m.toml", f'{cell}\n[engine_for]\narm64 = "{address}"\n')
            return Setup(
                args=("doctor", "--matrix", str(path)),
                allowed=NO_ENGINE,
                env={"DOCKER_HOST": None, "DOCKER_CONTEXT": None},
                real_engine_parse=True,
            )

        yield Case(
            name=f"engine-address/matrix-engine-for-{label}/doctor", klass="engine-address", build=matrix_engine_for
        )

        def context(tmp: Path, address: str = address) -> Setup:
            config = tmp / "docker-config"
            meta = config / "contexts" / "meta" / hashlib.sha256(b"evil").hexdigest() / "meta.json"
            write(meta, {"Name": "evil", "Endpoints": {"docker": {"Host": address}}})
            return Setup(
                args=("doctor", "--matrix", "bookworm", "--arch", "amd64"),
                allowed=NO_ENGINE,
                env={"DOCKER_HOST": None, "DOCKER_CONTEXT": "evil", "DOCKER_CONFIG": str(config)},
                real_engine_parse=True,
            )

        yield Case(name=f"engine-address/context-{label}/doctor", klass="engine-address", build=context)

    for what in ("config-json", "context-meta-json"):

        def fifo_config(tmp: Path, what: str = what) -> Setup:
            # docker's configuration as a FIFO: read up front, a reader would wait for a writer forever
            config = tmp / "docker-config"
            if what == "config-json":
                path = fifo(config / "config.json")
                env = {"DOCKER_HOST": None, "DOCKER_CONTEXT": None, "DOCKER_CONFIG": str(config)}
            else:
                path = fifo(config / "contexts" / "meta" / hashlib.sha256(b"evil").hexdigest() / "meta.json")
                env = {"DOCKER_HOST": None, "DOCKER_CONTEXT": "evil", "DOCKER_CONFIG": str(config)}
            return Setup(
                args=("doctor", "--matrix", "bookworm", "--arch", "amd64"),
                allowed=NO_ENGINE,
                env=env,
                feed={path: b"{}"},
                real_engine_parse=True,
            )

        yield Case(name=f"engine-address/{what}-is-a-fifo/doctor", klass="engine-address", build=fifo_config)


def corpus() -> tuple[Case, ...]:
    cases = (
        *secret_cases(),
        *escape_cases(),
        *shape_cases(),
        *number_cases(),
        *date_cases(),
        *nesting_cases(),
        *log_cases(),
        *out_cases(),
        *special_cases(),
        *gate_cases(),
        *freeze_cases(),
        *matrix_cases(),
        *engine_cases(),
    )
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names are unique"
    return cases


# Filled in from a survey of today's code (NPMATRIX_HOSTILE_SURVEY=FILE, see test_hostile_corpus.py): per case,
# the failures it shows. Each is xfail(strict) until issue 20's fix; a fix that makes one pass removes its entry.
KNOWN_FAILURES: dict[str, tuple[Failure, ...]] = {}
