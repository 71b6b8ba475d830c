"""results.json and probe files: one writer and one reader each, held to the JSON Schemas shipped in the package.

A file the writer produces validates and reads back as the same records; a hand-broken one is refused with
one line naming the file and the first thing wrong, for each way of breaking it on its own.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npmatrix.errors import ConfigError, ExitCode
from npmatrix.records import probe_file, results, schemas
from npmatrix.verdict import Status, Verdict

DATA = Path(__file__).resolve().parents[1] / "data"
RUN = DATA / "results-default.json"  # a real run of the default matrix
FACTS = json.loads((DATA / "probe-host-amd64-numpy-ok.json").read_text())


@pytest.mark.parametrize("name", ["results", "results-v1", "probe-file"])
def test_the_shipped_schemas_are_valid_json_schema(name: schemas.SchemaName) -> None:
    jsonschema.Draft7Validator.check_schema(schemas.schema(name))


def test_the_schemas_know_every_status() -> None:
    statuses = schemas.schema("results")["definitions"]["cell"]["properties"]["status"]["enum"]
    assert statuses == [s.value for s in Status]


def test_a_real_run_reads_back_as_typed_results_and_writes_the_same_bytes(tmp_path: Path) -> None:
    run = results.load(RUN)
    assert [c.name for c in run.cells] == ["colab-like", "pi64", "pi32-pip", "pi32-apt"]
    pi32_apt = run.cell("pi32-apt")
    assert pi32_apt.status is Status.OK and pi32_apt.cell.install == "apt"
    assert pi32_apt.summary is not None and pi32_apt.summary.numpy_version == "1.24.2"
    assert run.cell("pi32-pip").facts is None and run.cell("pi32-pip").cell.expect is Status.NO_WHEEL
    original = json.loads(RUN.read_text())
    for cell in original["cells"]:
        cell["inputs"].setdefault("source", "")  # matrix keys added after this run was captured
        cell["inputs"].setdefault("memory", "2g")
        cell["inputs"].setdefault("pids", 512)
    written = {c.name: c.to_json() for c in run.cells}
    for cell in original["cells"]:
        if cell["summary"] is not None:  # digest fields added since: recomputed from the same probe facts
            for key in set(written[cell["name"]]["summary"]) - set(cell["summary"]):
                cell["summary"][key] = written[cell["name"]]["summary"][key]
        cell["inputs"].setdefault("venv", True)
        cell["inputs"].setdefault("requirements", None)
        cell["inputs"].setdefault("find_links", None)
        cell["inputs"].setdefault("cpu_model", None)
        cell["inputs"].setdefault("tmp_size", "64m")  # issue 17: the /tmp a board sets, and the board
        cell["inputs"].setdefault("board", None)
        cell.setdefault("engine", None)  # recorded since issue 11; null: where it ran is not known
        # Version 1 said where a cell ran in three keys; version 2 in one placement (this run: no x86 emulator).
        oci, emulated, model = cell.pop("platform"), cell.pop("emulated"), cell.pop("qemu_cpu")
        cell["placement"] = {
            "platform": cell["inputs"]["platform"],
            "oci": oci,
            "emulator": "binfmt" if emulated else None,
            "qemu_cpu": model,
            "cpu_not_applied": False,
            "engine": None,
        }
        for bench_run in (cell["summary"] or {}).get("bench_runs", []):  # version 2: one name, exit_code
            bench_run["exit_code"] = bench_run.pop("returncode")
    assert [c.to_json() for c in run.cells] == original["cells"]


def test_what_the_writer_writes_validates_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    written = results.ResultsFile(path, matrix="builtin:default", host={"machine": "x86_64"})
    for cell in results.load(RUN).cells:
        written.add(cell)
    written.write(complete=True)
    document = json.loads(path.read_text())
    jsonschema.validate(document, schemas.schema("results"))  # the reference validator agrees
    read = results.load(path)
    assert read.complete and read.matrix == "builtin:default"
    assert [c.to_json() for c in read.cells] == [c.to_json() for c in written.cells]


def _cell0(document: dict[str, Any]) -> dict[str, Any]:
    cell: dict[str, Any] = document["cells"][0]
    return cell


BREAKAGES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "status not a status": (lambda d: _cell0(d).update(status="fine"), "cells[0].status must be one of"),
    "cell without a name": (lambda d: _cell0(d).pop("name"), "cells[0] must contain ['name'] properties"),
    "reason not a string": (lambda d: _cell0(d).update(reason=3), "cells[0].reason must be string"),
    "evidence not a list": (lambda d: _cell0(d).update(evidence="line"), "cells[0].evidence must be array"),
    "image id a number": (lambda d: _cell0(d)["image"].update(id=7), "cells[0].image.id must be string or null"),
    "probe a string": (lambda d: _cell0(d).update(probe="hello"), "cells[0].probe must be object or null"),
    "probe without a version": (lambda d: _cell0(d)["probe"].pop("probe_version"), "probe_version"),
    "unknown expected": (lambda d: _cell0(d).update(expected="works"), "cells[0].expected must be one of"),
    "cells not a list": (lambda d: d.update(cells={}), "neither a probe file"),
    "complete missing": (lambda d: d.pop("complete"), "must contain"),
    "extra top-level key": (lambda d: d.update(surprise=1), "must not contain {'surprise'}"),
    "durations not numbers": (lambda d: _cell0(d).update(durations_s={"build": "1s"}), "must be number"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_hand_broken_results_file_is_one_line_and_exit_2(tmp_path: Path, breakage: str) -> None:
    document = json.loads(RUN.read_text())
    breaker, fragment = BREAKAGES[breakage]
    breaker(document)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    done = subprocess.run(
        [sys.executable, "-m", "npmatrix", "explain", f"{path}:pi32-apt", f"{path}:colab-like"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"npmatrix: error: {path}: ") and done.stdout == ""
    # The reader itself says what is wrong, in one line that names the file.
    if breakage != "cells not a list":
        with pytest.raises(ConfigError) as refused:
            results.load(path)
        message = str(refused.value)
        assert "\n" not in message and message.startswith(f"{path}: ")
        assert fragment in message


# --- version 1 files ---------------------------------------------------------------------------------------


def test_a_version_1_file_still_loads_with_its_placement() -> None:
    document = json.loads(RUN.read_text())
    assert document["schema_version"] == 1 and "platform" in document["cells"][0]  # really the old format
    run = results.load(RUN)
    got = {
        c.name: (c.placement.platform, c.placement.oci, c.placement.emulator, c.placement.qemu_cpu) for c in run.cells
    }
    assert got == {
        "colab-like": ("amd64", "linux/amd64", None, None),
        "pi64": ("arm64", "linux/arm64", "binfmt", "cortex-a72"),
        "pi32-pip": ("arm/v7", "linux/arm/v7", "binfmt", "cortex-a15"),
        "pi32-apt": ("arm/v7", "linux/arm/v7", "binfmt", "cortex-a15"),
    }
    again = results.from_json(run.to_json(), where="rewritten")  # written as version 2, read back the same
    assert run.to_json()["schema_version"] == 2 and again.cells == run.cells


@pytest.mark.parametrize(
    ("platform", "emulated", "qemu_cpu", "cpu", "emulator", "model", "not_applied"),
    [
        # Version 1's bug: an amd64 cell run as Nehalem under qemu-x86_64 said emulated false.
        ("amd64", False, "Nehalem,-sse4.2,-popcnt", "x86-64-v1", "qemu-x86_64", "Nehalem,-sse4.2,-popcnt", False),
        ("arm64", True, "max (QEMU default)", None, "binfmt", None, False),  # a label where a model belongs
        ("arm64", False, None, "pi5", None, None, True),  # on a native arm64 engine: the model not applied
    ],
)
def test_version_1_placements_read_as_what_ran(
    platform: str,
    emulated: bool,
    qemu_cpu: str | None,
    cpu: str | None,
    emulator: str | None,
    model: str | None,
    not_applied: bool,
) -> None:
    document = json.loads(RUN.read_text())
    record = document["cells"][0]
    record["inputs"].update(platform=platform, cpu=cpu)
    record.update(platform=f"linux/{platform}", emulated=emulated, qemu_cpu=qemu_cpu)
    (cell, *_) = results.from_json(document, where="v1").cells
    assert (cell.placement.emulator, cell.placement.qemu_cpu, cell.placement.cpu_not_applied) == (
        emulator,
        model,
        not_applied,
    )


def test_a_version_2_cell_in_version_1_shape_is_refused() -> None:
    document = json.loads(RUN.read_text())
    document["schema_version"] = 2
    with pytest.raises(ConfigError, match="placement"):
        results.from_json(document, where="mixed")


def test_a_newer_schema_version_is_refused_before_anything_else(tmp_path: Path) -> None:
    document = json.loads(RUN.read_text())
    document["schema_version"] = 3
    path = tmp_path / "r.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match="results schema_version 3, expected 2"):
        results.load(path)


@given(
    status=st.sampled_from(list(Status)),
    reason=st.text(),
    fix=st.one_of(st.none(), st.text()),
    evidence=st.lists(st.text(), max_size=4).map(tuple),
    with_facts=st.booleans(),
)
def test_probe_files_round_trip(
    status: Status, reason: str, fix: str | None, evidence: tuple[str, ...], with_facts: bool
) -> None:
    kept = probe_file.ProbeFile(
        created_at="2026-11-25T22:00:00+00:00",
        facts=copy.deepcopy(FACTS) if with_facts else None,
        verdict=Verdict(status=status, reason=reason, fix=fix, evidence=evidence),
    )
    document = json.loads(json.dumps(kept.to_json()))
    jsonschema.validate(document, schemas.schema("probe-file"))
    assert probe_file.from_json(document, where="p.json") == kept


def test_the_probe_file_writer_refuses_what_the_reader_would(tmp_path: Path) -> None:
    broken = probe_file.ProbeFile(
        created_at="now", facts={"no": "version"}, verdict=Verdict(status=Status.OK, reason="r")
    )
    with pytest.raises(ConfigError, match=r"probe.* must contain \['probe_version'\]"):
        probe_file.write(tmp_path / "p.json", broken)
    assert not (tmp_path / "p.json").exists()


def test_bare_probe_output_is_read_and_judged() -> None:
    kept = probe_file.from_json(copy.deepcopy(FACTS), where="bare.json")
    assert kept.facts == FACTS and kept.created_at == ""
    assert kept.verdict.status is Status.OK


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"kind": "probe", "schema_version": 2}, "probe file schema_version 2, expected 1"),
        ({"hello": 1}, "not a probe file"),
    ],
)
def test_what_is_not_a_probe_file_is_refused(document: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        probe_file.from_json(document, where="x.json")


def test_incremental_writes_are_the_bytes_of_one_whole_dump(tmp_path: Path) -> None:
    """ResultsFile dumps each cell once and reuses it in later writes: the file must still be exactly what one
    json.dumps of the whole (redacted) document gives, after adds, a reorder, and with a credential to redact."""
    from npmatrix import fileio, text

    read = results.load(DATA / "results-default.json")
    secret = dataclasses.replace(read.cells[0], logs={"build": "https://user:hunter2@example.org/log"})
    run = results.ResultsFile(tmp_path / "results.json", matrix='m "cells": []', host={"k": "v"})
    for cell in (*read.cells[1:], secret):
        run.add(cell)
        expected = tmp_path / "expected.json"
        fileio.write_json(expected, text.redact_document(run.to_json(complete=False)))
        assert (tmp_path / "results.json").read_bytes() == expected.read_bytes()
    run.cells = list(reversed(run.cells))
    run.finished_at = "2026-11-26T00:00:00+00:00"
    run.write(complete=True)
    fileio.write_json(tmp_path / "expected.json", text.redact_document(run.to_json(complete=True)))
    assert (tmp_path / "results.json").read_bytes() == (tmp_path / "expected.json").read_bytes()
    assert b"hunter2" not in (tmp_path / "results.json").read_bytes()
    empty = results.ResultsFile(tmp_path / "empty.json", matrix="m", host={})
    empty.write(complete=False)
    fileio.write_json(tmp_path / "expected.json", text.redact_document(empty.to_json(complete=False)))
    assert (tmp_path / "empty.json").read_bytes() == (tmp_path / "expected.json").read_bytes()


def test_a_non_finite_error_is_written_as_null_and_reads_back(tmp_path: Path) -> None:
    # The gallery's pi64-qemu-max: the probe writes null for a float32 GEMM error that is inf, the summary reads
    # it as inf, and the file once held `Infinity`, which the reader (rightly) refuses: explain and report then
    # failed on the gallery's own results.
    capture = json.loads((DATA / "gallery" / "pi64-qemu-max.json").read_text())
    cell = dataclasses.replace(results.load(RUN).cells[0], facts=capture["probe"])
    assert cell.summary is not None and any(g.max_rel_error == float("inf") for g in cell.summary.gemm)
    path = tmp_path / "results.json"
    written = results.ResultsFile(path, matrix="builtin:default", host={"machine": "x86_64"})
    written.add(cell)
    written.write(complete=True)
    text = path.read_text()
    assert "Infinity" not in text and "NaN" not in text
    read = results.load(path)  # the strict reader takes it
    assert any(g.max_rel_error == float("inf") for g in read.cells[0].summary.gemm)  # recomputed from the probe
