"""The probe's output, bare and kept: the one reader and writer of both.

- The bare output is what container/probe.py prints on stdout: one JSON object, its facts.
- A probe file is what `npmatrix probe --out` writes: those facts with the verdict on them,
  `{"schema_version": 1, "kind": "probe", "created_at", "probe", "verdict"}` (data/probe-file.schema.json).

`read` accepts either, so a Pi without npmatrix can run `python3 probe.py > my-pi.json` and have it judged here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from npmatrix import fileio, text
from npmatrix.errors import ConfigError
from npmatrix.judge.classify import classify_probe
from npmatrix.judge.facts import summarize
from npmatrix.judge.outcomes import ProbeRun
from npmatrix.plan import protocol
from npmatrix.records import schemas
from npmatrix.verdict import Verdict

KIND = "probe"
SCHEMA_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class ProbeFile:
    created_at: str
    facts: dict[str, Any] | None  # None when the probe printed nothing usable (it crashed or hung)
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "created_at": self.created_at,
            "probe": self.facts,
            "verdict": self.verdict.to_json(),
        }


def parse_output(*, exit_code: int | None, stdout: str, stderr: str, duration_s: float) -> ProbeRun:
    """The bare output of one probe run, as a ProbeRun whose facts are None when it printed no JSON object."""
    try:
        facts = json.loads(stdout)
        if not isinstance(facts, dict):
            raise ValueError("the probe printed JSON but not an object")
    except (ValueError, RecursionError) as exc:
        error = f"probe printed no JSON report: {exc}"
    else:
        try:
            check_facts(facts, where="the probe's report")
        except ConfigError as exc:
            error = str(exc)
        else:
            return ProbeRun(exit_code=exit_code, stdout=stdout, stderr=stderr, duration_s=duration_s, facts=facts)
    return ProbeRun(
        exit_code=exit_code, stdout=stdout, stderr=stderr, duration_s=duration_s, facts=None, parse_error=error
    )


def bench_deferred(run: ProbeRun) -> bool:
    """The probe imported NumPy and left the benchmark to a second call (--bench-later)."""
    bench = (run.facts or {}).get("bench") or {}
    return bool(bench.get("skipped_reason") == protocol.BENCH_DEFERRED)


def merge_bench(first: ProbeRun, second: ProbeRun) -> ProbeRun:
    """The probe's run with the bench section of the benchmark-only call (`second`, whose bare output has no
    other section) in place of the deferred one: one ProbeRun, as if one call had done both."""
    assert first.facts is not None
    bench, errors, problem = _bench_section(second)
    facts = {**first.facts, "bench": bench, "probe_errors": [*first.facts.get("probe_errors", []), *errors]}
    try:
        check_facts(facts, where="the benchmark's report")
    except ConfigError as exc:
        facts = {**first.facts, "bench": _bench_failed(str(exc))}
        problem = problem or str(exc)
    stderr = f"{first.stderr}\n--- benchmark call ---\n{second.stderr}" if second.stderr else first.stderr
    return replace(
        first,
        exit_code=first.exit_code if first.exit_code or second.exit_code == 0 else second.exit_code,
        stderr=stderr,
        stdout=first.stdout,
        duration_s=first.duration_s + second.duration_s,
        facts=facts,
        oom_killed=first.oom_killed or second.oom_killed,
        bench_duration_s=second.duration_s,
        parse_error=first.parse_error or (f"benchmark call: {problem}" if problem else None),
    )


def _bench_section(second: ProbeRun) -> tuple[dict[str, Any], list[Any], str | None]:
    if second.timed_out:
        return _bench_failed("the benchmark call timed out"), [], "timed out"
    try:
        document = json.loads(second.stdout)
        bench, errors = document["bench"], document.get("probe_errors", [])
        if not isinstance(bench, dict) or not isinstance(errors, list):
            raise ValueError("no bench object")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        reason = f"the benchmark call printed no report ({type(exc).__name__}: {exc})"
        return _bench_failed(reason), [], reason
    return bench, errors, None


def _bench_failed(reason: str) -> dict[str, Any]:
    return {"ran": False, "skipped_reason": reason, "runs": []}


def check_facts(facts: Any, *, where: str, prefix: str = "") -> None:
    """The probe's facts have the shape summary.py, classify and explain read (data/probe-output.schema.json):
    a bare probe output shared in a bug report can hold anything, and `"numpy": "hello"` must not crash them."""
    schemas.validate("probe-output", facts, where=where, prefix=prefix)


def write(path: Path, probe_file: ProbeFile) -> None:
    document = text.redact_document(probe_file.to_json())
    schemas.validate("probe-file", document, where=str(path))  # never write what we would refuse to read
    fileio.write_json(path, document)


def is_probe_document(document: dict[str, Any]) -> bool:
    return document.get("kind") == KIND or "probe_version" in document


def read(path: Path) -> ProbeFile:
    return from_json(fileio.read_json(path), where=str(path))


def from_json(document: dict[str, Any], *, where: str) -> ProbeFile:
    if document.get("kind") == KIND:
        if document.get("schema_version") != SCHEMA_VERSION:
            raise ConfigError(
                f"probe file schema_version {document.get('schema_version')!r}, expected {SCHEMA_VERSION}", where=where
            )
        schemas.validate("probe-file", document, where=where)
        if document["probe"] is not None:
            check_facts(document["probe"], where=where, prefix="probe.")
        return ProbeFile(
            created_at=document["created_at"],
            facts=document["probe"],
            verdict=Verdict.from_json(document["verdict"]),
        )
    if "probe_version" in document:
        # The bare output of probe.py run by hand: judge it here as `npmatrix probe` would have.
        check_facts(document, where=where)
        return ProbeFile(created_at="", facts=document, verdict=classify_probe(summarize(document)))
    raise ConfigError("not a probe file (from `npmatrix probe --out`) nor the output of probe.py", where=where)
