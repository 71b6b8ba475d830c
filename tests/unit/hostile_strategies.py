"""Hypothesis strategies for schema-valid but hostile results files (issue 20).

A generated document starts from a real run (tests/data/results-default.json, so it has the shape
data/results.schema.json gives it: probe facts, a benchmark, logs) keeps some of its cells, and replaces string
leaves with hostile text (planted secrets, ANSI/OSC/C1 escapes, arbitrary Unicode, paths out of the run directory)
and a few numbers with odd ones. Keys whose values the schema closes (status, expected, expect, install) are left
alone, so the document stays schema-valid and readers get past the schema to the code behind it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hostile import ESCAPES, SECRETS, real
from hypothesis import strategies as st

# Keys the schema holds to an enum or a type a string cannot take: mutating them only gives a refusal.
_CLOSED = {"status", "expected", "expect", "install", "schema_version"}
Path_ = tuple[str | int, ...]
# Keys whose strings the reports, diff and explain show: half the planted values go there, or most would land
# in the probe facts' long lists (CPU features, wheel tags) that nothing prints.
_SHOWN = {"name", "matrix", "note", "reason", "fix", "evidence", "index_url", "extra_index_url", "tag", "build"}
_SHOWN |= {"numpy", "pip", "version", "stderr_tail", "qemu_cpu", "platform", "builder", "run_id", "started_at"}


@dataclass(frozen=True, kw_only=True)
class Hostile:
    document: dict[str, Any]
    secrets: tuple[str, ...]  # planted: none may appear in any output
    changes: tuple[tuple[str, Any], ...] = ()  # (path, new value): what a failing example prints

    def __repr__(self) -> str:
        # The document is ~50 kB of a real run; what was planted in it is the example.
        return f"Hostile(changes={list(self.changes)!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints examples with this
        printer.text(repr(self))


def leaves(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every (path, leaf) of a JSON value; dict keys and list indexes make the path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def _set(document: Any, path: Path_, value: Any) -> None:
    for key in path[:-1]:
        document = document[key]
    document[path[-1]] = value


_SECRET_TEXT = st.sampled_from(SECRETS)
_ESCAPE_TEXT = st.sampled_from([text for _, text in ESCAPES])
hostile_text = st.one_of(
    _ESCAPE_TEXT,
    st.text(max_size=40),
    st.builds(lambda a, b, c: f"{a}{b}{c}", st.text(max_size=8), _ESCAPE_TEXT, st.text(max_size=8)),
    st.just("/etc/passwd"),
    st.sampled_from(["../outside/marker.log", "run/logs/../../outside/marker.log", "/proc/self/environ"]),
)
odd_number = st.one_of(
    st.floats(min_value=-1e300, max_value=1e300, allow_nan=False),
    st.sampled_from([0, -1, 0.0, 1e-300, 2**63, math.inf, math.nan]),
)


@st.composite
def hostile_results(draw: st.DrawFn, *, numbers: bool = True) -> Hostile:
    """A results document from a real run, with hostile strings (and with `numbers`, odd numbers) planted."""
    document = real()
    keep = draw(st.lists(st.integers(0, len(document["cells"]) - 1), min_size=1, max_size=3, unique=True))
    document["cells"] = [document["cells"][i] for i in sorted(keep)]
    strings = [
        p for p, v in leaves(document) if isinstance(v, str) and not _CLOSED & {k for k in p if isinstance(k, str)}
    ]
    numeric = [p for p, v in leaves(document) if isinstance(v, float) and "summary" not in p]
    shown = [p for p in strings if {k for k in p[-2:] if isinstance(k, str)} & _SHOWN]
    secrets: list[str] = []
    changes: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 8))):
        path = draw(st.one_of(st.sampled_from(shown), st.sampled_from(strings)))
        if draw(st.booleans()):
            secret = draw(_SECRET_TEXT)
            value: Any = f"{draw(st.text(max_size=6))}{secret.text}"
            secrets.append(secret.secret)
        else:
            value = draw(hostile_text)
        _set(document, path, value)
        changes.append((".".join(map(str, path)), value))
    if numbers and numeric and draw(st.integers(0, 4)) == 0:
        path, number = draw(st.sampled_from(numeric)), draw(odd_number)
        _set(document, path, number)
        changes.append((".".join(map(str, path)), number))
    return Hostile(document=document, secrets=tuple(secrets), changes=tuple(changes))


# Odd shapes the schema lets through, for the reader's own checks (no secrets planted: redaction is tested
# above): partial optional objects, times at the ends of the calendar or not times, deep nesting, numbers JSON
# does not allow, log paths out of the run directory.
_PARTIAL_OBJECTS = {
    "cpu_model": {"name": "pi4", "description": "Raspberry Pi 4", "qemu": {"linux/arm64": "cortex-a72"}, "note": "n"},
    "requirements": {"path": "requirements.txt", "sha256": "0" * 64},
    "find_links": {"path": "wheels", "sha256": "0" * 64, "files": ["numpy-2.0-py3-none-any.whl"]},
}
odd_time = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-12:00", "", "2026-13-45T00:00:00+00:00"]),
    st.datetimes().map(lambda when: when.isoformat()),
    st.text(max_size=30),
)
odd_value = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 10**400, 1e308, -(2**63), 7, "x", None, True, [], {}]),
    st.integers(1, 200).map(lambda depth: _nested(depth)),
)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"k": value}
    return value


@st.composite
def odd_shape(draw: st.DrawFn, key: str) -> Any:
    """`key`'s object with a subset of its keys, some of them replaced by odd values, or an odd value itself."""
    if draw(st.booleans()):
        return draw(odd_value)
    full = _PARTIAL_OBJECTS[key]
    kept = draw(st.lists(st.sampled_from(sorted(full)), unique=True))
    return {k: draw(st.one_of(st.just(full[k]), odd_value)) for k in kept}


@st.composite
def hostile_shapes(draw: st.DrawFn) -> Hostile:
    """A results document from a real run with odd shapes planted where the readers look."""
    document = real()
    cell = document["cells"][0]
    changes: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 4))):
        spot = draw(st.sampled_from(["inputs", "time", "host", "duration", "log"]))
        if spot == "inputs":
            key = draw(st.sampled_from(sorted(_PARTIAL_OBJECTS)))
            cell["inputs"][key] = value = draw(odd_shape(key))
        elif spot == "time":
            key = draw(st.sampled_from(["started_at", "finished_at"]))
            document[key] = value = draw(odd_time)
        elif spot == "host":
            key = draw(st.sampled_from(["run_id", "cpu", "extra"]))
            document["host"][key] = value = draw(odd_value)
        elif spot == "duration":
            key = draw(st.sampled_from(sorted(cell["durations_s"]) or ["build"]))
            cell["durations_s"][key] = value = draw(odd_value)
        else:
            key = draw(st.sampled_from(sorted(cell["logs"]) or ["build"]))
            cell["logs"][key] = value = draw(hostile_text)
        changes.append((f"{spot}.{key}", value))
    return Hostile(document=document, secrets=(), changes=tuple(changes))
