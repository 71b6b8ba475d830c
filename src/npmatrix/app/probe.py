"""`npmatrix probe`: the in-container probe, run on this machine with this Python; no engine."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from npmatrix import fileio
from npmatrix.app.console import Console
from npmatrix.errors import ExitCode
from npmatrix.judge import classify
from npmatrix.judge.facts import summarize
from npmatrix.judge.outcomes import ProbeRun
from npmatrix.present import explain
from npmatrix.records import probe_file
from npmatrix.run import probe as probe_runner
from npmatrix.verdict import Status, Verdict


def probe(
    console: Console, *, bench: bool = False, sizes: tuple[int, ...] = (), out_file: Path | None = None, fmt: str
) -> ExitCode:
    """0 when NumPy works here, 1 when it does not; `out_file` is the probe file `npmatrix explain` reads."""
    if out_file is not None:
        fileio.check_writable(out_file)  # before the probe runs for minutes, not after
    console.progress(f"probing {sys.executable}{' with the GEMM benchmark' if bench else ''}")
    run, verdict = probe_host(bench=bench, sizes=sizes)
    kept = probe_file.ProbeFile(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), facts=run.facts, verdict=verdict
    )
    if out_file is not None:
        probe_file.write(out_file, kept)
        console.progress(f"probe file: {out_file}")
    if fmt == "json":
        console.say(json.dumps(kept.to_json(), indent=2))
    else:
        subject = explain.subject_from_probe_file(kept, label="this machine", source="host")
        console.say(explain.host_summary(subject))
    return ExitCode.OK if verdict.status.works else ExitCode.UNEXPECTED


def probe_host(*, bench: bool, sizes: tuple[int, ...]) -> tuple[ProbeRun, Verdict]:
    """The probe's run and its verdict: a probe that hung or printed nothing is a verdict too, not an error."""
    run = probe_runner.run_on_host(bench=bench, sizes=sizes)
    if run.timed_out:
        return run, Verdict(status=Status.TIMEOUT, reason=f"the probe did not finish within {run.duration_s:.0f} s")
    if run.facts is None:
        evidence = tuple((run.stderr or run.stdout).strip().splitlines()[-10:])
        return run, Verdict(
            status=Status.CRASHED, reason=run.parse_error or "the probe printed nothing", evidence=evidence
        )
    return run, classify.classify_probe(summarize(run.facts))
