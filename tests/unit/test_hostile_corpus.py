"""Issue 20: results files, history directories and freezes are untrusted input. One parametrised test runs
every case of the hostile corpus (tests/unit/hostile.py) through the real entry point and checks the
invariants of tests/unit/hostile_harness.py: no traceback, the right exit code, no secret, no raw escape, no
clobbered file, nothing read from outside the run directory, no FIFO opened.

Cases that fail on today's code are xfail(strict=True) with their failure classes as the reason
("issue 20: secret, escape"): the fix of issue 20 turns them into passes and must remove their entry from
hostile.KNOWN_FAILURES. To see today's failures afresh:
    NPMATRIX_HOSTILE_SURVEY=/tmp/survey.jsonl pytest tests/unit/test_hostile_corpus.py -p no:cacheprovider
writes one JSON line per case (its failures and what was found) and asserts nothing.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from hostile import FAILURES, KNOWN_FAILURES, Case, corpus
from hostile_harness import run_case

CASES = corpus()
SURVEY = os.environ.get("NPMATRIX_HOSTILE_SURVEY")


def _param(case: Case) -> pytest.ParameterSet:
    known = KNOWN_FAILURES.get(case.name)
    marks = []
    if known and not SURVEY:
        marks.append(pytest.mark.xfail(strict=True, reason=f"issue 20: {', '.join(known)}"))
    return pytest.param(case, id=case.name, marks=marks)


def test_the_corpus_covers_every_class() -> None:
    classes = Counter(c.klass for c in CASES)
    assert len(CASES) >= 150, len(CASES)
    assert set(classes) == {
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
    }, classes
    assert min(classes.values()) >= 5, classes


def test_known_failures_name_real_cases_and_classes() -> None:
    names = {c.name for c in CASES}
    assert set(KNOWN_FAILURES) <= names, sorted(set(KNOWN_FAILURES) - names)
    for name, failures in KNOWN_FAILURES.items():
        assert failures and set(failures) <= set(FAILURES), name


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = case.build(tmp_path)
    outcome = run_case(setup, tmp_path, monkeypatch)
    if SURVEY:
        record = {"case": case.name, "class": case.klass, "failures": list(outcome.failures), **outcome.details}
        with open(SURVEY, "a") as out:
            out.write(json.dumps(record) + "\n")
        return
    assert outcome.failures == (), outcome.explain()


def test_two_history_adds_at_once_keep_both_nights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two nights that started in the same second, kept into one directory at once (two CI jobs): both must be
    kept. The write is slowed down so that both checks for a free name happen before either write, which is
    what two processes do when they race; a lock around check-and-write passes whatever the delay."""
    import threading
    import time

    from hostile import real, write

    from npmatrix import fileio
    from npmatrix.records import history

    nights = []
    for i in range(2):
        document = real()
        document["host"]["run_id"] = f"night-{i}"
        nights.append(write(tmp_path / f"n{i}" / "results.json", document))
    slow_write = fileio.write_atomic

    def write_atomic(path: Path, text: str) -> None:
        time.sleep(0.2)
        slow_write(path, text)

    monkeypatch.setattr(fileio, "write_atomic", write_atomic)
    start = threading.Barrier(2)

    def add(path: Path) -> None:
        start.wait()
        history.add(path, tmp_path / "history")

    threads = [threading.Thread(target=add, args=(p,)) for p in nights]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    kept = sorted(p.name for p in (tmp_path / "history").iterdir() if not p.name.startswith("."))
    assert len(kept) == 2, kept
    run_ids = {json.loads(p.read_text())["host"]["run_id"] for p in (tmp_path / "history").glob("*.json")}
    assert run_ids == {"night-0", "night-1"}
