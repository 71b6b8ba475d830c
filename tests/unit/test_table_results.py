"""The terminal table, writing results.json, and the pip config builds see as a secret."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from npmatrix.config import matrix
from npmatrix.errors import ConfigError
from npmatrix.fileio import write_atomic
from npmatrix.judge.facts import summarize
from npmatrix.plan.cellplan import place, plan_cell
from npmatrix.present import table
from npmatrix.records.results import CellResult, ImageRecord, ResultsFile
from npmatrix.run.build import pip_config
from npmatrix.verdict import Status, Verdict

DATA = Path(__file__).resolve().parents[1] / "data"
OK_FACTS = json.loads((DATA / "probe-host-amd64-numpy-ok.json").read_text())


def _result(
    name: str,
    status: Status,
    *,
    expect: str = "ok",
    platform: str = "amd64",
    reason: str = "because",
    facts: dict[str, Any] | None = None,
    **extra: Any,
) -> CellResult:
    raw = {"name": name, "platform": platform, "numpy": "2.3.5", "expect": expect, **extra}
    (cell,) = matrix.parse({"cell": [raw]}).cells
    p = place(plan_cell(cell), "amd64")  # emulated as on an x86_64 engine, whatever this host is
    return CellResult(
        cell=cell,
        placement=p.placement,
        verdict=Verdict(status=status, reason=reason, fix="a fix", evidence=("evidence line",)),
        image=ImageRecord(tag=p.image_tag, id="sha256:abc" if facts else None, base=p.base_image, reused=False),
        durations={"build": 12.3456, "probe": 1.0},
        logs={"build": f"results/logs/{name}.build.log"},
        facts=facts,
    )


RESULTS = [
    _result("colab-like", Status.OK, reason="NumPy 2.4.6 imports", facts=OK_FACTS),
    _result(
        "pi32-pip",
        Status.NO_WHEEL,
        expect="no-wheel",
        platform="arm/v7",
        reason="PyPI has no NumPy==2.3.5 wheel for linux_armv7l",
    ),
    _result("pi64", Status.CRASHED, platform="arm64", reason="`import numpy` died with SIGSEGV"),
    _result("pi32-fixed", Status.OK, expect="no-wheel", platform="arm/v7", reason="works now"),
]


# --- table ------------------------------------------------------------------------------------------------


def _line(table: str, name: str) -> str:
    (line,) = [row for row in table.splitlines() if row.startswith(name + " ")]
    return line


@pytest.mark.parametrize(
    ("name", "present", "absent"),
    [
        ("colab-like", ["ok", "3.11.7", "2.4.6", "wheel manylinux_2_27_x86_64", "scipy-openblas"], ["expected"]),
        # One status label in every view (present/labels.py): the reports always said "(expected)" here.
        ("pi32-pip", ["no-wheel (expected): PyPI has no NumPy==2.3.5 wheel for linux_armv7l", "arm/v7", "2.3.5"], []),
        ("pi64", ["crashed (expected ok): `import numpy` died with SIGSEGV", "arm64"], []),
        ("pi32-fixed", ["ok (expected no-wheel)"], ["works now"]),
    ],
)
def test_table_row(name: str, present: list[str], absent: list[str]) -> None:
    line = _line(table.table(RESULTS, wide=True), name)
    for fragment in present:
        assert fragment in line, (fragment, line)
    for fragment in absent:
        assert fragment not in line, (fragment, line)


def test_table_has_every_cell_once_under_the_headers() -> None:
    lines = table.table(RESULTS).splitlines()
    assert lines[0].split()[:2] == ["cell", "platform"]
    for r in RESULTS:
        assert sum(line.startswith(r.cell.name + " ") for line in lines) == 1


def test_table_shows_gflops_of_the_largest_size() -> None:
    s = summarize(OK_FACTS)
    line = _line(table.table(RESULTS, wide=True), "colab-like")
    assert f"{s.best_gflops('float64'):.1f}" in line
    assert f"{s.best_gflops('float32'):.1f}" in line


@pytest.mark.parametrize(
    ("overlap", "platform", "marked"),
    [
        (("pi5-64 build", "pi4-64 probe"), "amd64", True),
        ((), "amd64", False),  # timed alone
        (None, "amd64", False),  # no timed call, or a results file from before bench_overlap
        (("colab build",), "arm64", False),  # under QEMU the numbers measure the emulator anyway
    ],
)
def test_gflops_timed_alongside_other_work_are_marked_and_named(
    overlap: tuple[str, ...] | None, platform: str, marked: bool
) -> None:
    r = dataclasses.replace(_result("c", Status.OK, platform=platform, facts=OK_FACTS), bench_overlap=overlap)
    f64 = f"{summarize(OK_FACTS).best_gflops('float64'):.1f}"
    line = _line(table.table([r]), "c")
    assert (f"{f64}*" in line) is marked and f64 in line
    unmeasured = dataclasses.replace(r, facts=None)  # no numbers: a dash, never a marked dash
    assert "-*" not in _line(table.table([unmeasured]), "c") and table.bench_notes([unmeasured]) == ""
    note = table.bench_notes([r])
    if marked:
        assert note.startswith("* GFLOP/s timed while other cells' work ran: c (with pi5-64 build, pi4-64 probe)")
        assert "--jobs 1" in note
    else:
        assert note == ""


def test_long_reasons_are_shortened() -> None:
    r = _result("long", Status.CRASHED, reason="x" * 200)
    line = _line(table.table([r], wide=True, reason_width=40), "long")
    assert "x" * 39 + "…" in line
    assert "x" * 40 not in line


@pytest.mark.parametrize(
    ("results_", "expected"),
    [
        (RESULTS[:2], "2 cells: 1 work, 1 fail; all as expected"),
        (RESULTS, "4 cells: 2 work, 2 fail; NOT as expected: pi64, pi32-fixed"),
        ([], "0 cells: 0 work, 0 fail; all as expected"),
    ],
)
def test_summary_line(results_: list[CellResult], expected: str) -> None:
    assert table.summary_line(results_) == expected


# --- results.json -----------------------------------------------------------------------------------------


def _read(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def test_results_file_grows_and_completes(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.json"
    rf = ResultsFile(path, matrix="matrix/default.toml", host={"machine": "x86_64"})
    rf.write(complete=False)
    doc = _read(path)
    assert (doc["schema_version"], doc["complete"], doc["cells"], doc["finished_at"]) == (2, False, [], None)

    rf.add(RESULTS[0])
    rf.add(RESULTS[2])
    doc = _read(path)
    assert doc["complete"] is False
    assert [c["name"] for c in doc["cells"]] == ["colab-like", "pi64"]
    assert doc["matrix"] == "matrix/default.toml"
    assert doc["host"] == {"machine": "x86_64"}

    rf.write(complete=True)
    doc = _read(path)
    assert doc["complete"] is True
    assert doc["finished_at"]
    assert len(doc["cells"]) == 2


def test_cell_json(tmp_path: Path) -> None:
    cell = RESULTS[2].to_json()
    assert cell["status"] == "crashed"
    assert cell["expected"] == "ok"
    assert cell["as_expected"] is False
    assert cell["placement"]["oci"] == "linux/arm64" and cell["placement"]["platform"] == "arm64"
    assert cell["inputs"]["numpy"] == "==2.3.5"
    assert cell["inputs"]["expect"] == "ok"
    assert cell["evidence"] == ["evidence line"]
    assert cell["durations_s"]["build"] == 12.346
    assert cell["summary"] is None
    ok = RESULTS[0].to_json()
    assert ok["summary"]["numpy_version"] == "2.4.6"
    assert ok["probe"] == OK_FACTS
    json.dumps([cell, ok])  # strictly JSON: no tuples or enums left behind


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "results.json")


def test_write_atomic_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    for i in range(3):
        write_atomic(path, f'{{"n": {i}}}\n')
    assert _read(path) == {"n": 2}
    assert _leftovers(tmp_path) == []


def test_write_atomic_failure_mid_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "results.json"
    write_atomic(path, '{"old": true}\n')

    def fail_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail_fsync)
    # A full disk is a one-line error naming the file (exit 2), not a traceback.
    with pytest.raises(ConfigError, match=r"results\.json: cannot write: No space left"):
        write_atomic(path, '{"new": true}\n' + "x" * 100_000)
    assert _read(path) == {"old": True}
    assert _leftovers(tmp_path) == []


def test_write_atomic_encoding_failure_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_atomic(path, '{"old": true}\n')
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "x" * 10_000 + "\ud800")  # a lone surrogate cannot be encoded, after 10 kB
    assert _read(path) == {"old": True}
    assert _leftovers(tmp_path) == []


def test_results_file_unserialisable_document_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    rf = ResultsFile(path, matrix="m.toml", host={})
    rf.add(RESULTS[0])
    rf.host = {"builder": object()}  # json.dumps fails on it
    with pytest.raises(TypeError):
        rf.add(RESULTS[1])
    doc = _read(path)
    assert [c["name"] for c in doc["cells"]] == ["colab-like"]
    assert _leftovers(tmp_path) == []


# --- pip config for builds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "has_cert", "expected"),
    [
        pytest.param({}, False, "[global]\n", id="empty"),
        pytest.param({}, True, "[global]\ncert = /run/secrets/pipcert\n", id="cert-only"),
        pytest.param({"PIP_INDEX_URL": "file:///opt/pypi/simple"}, False, "[global]\n", id="file-index-dropped"),
        pytest.param(
            {"PIP_INDEX_URL": "https://pypi.example.org/simple"},
            True,
            "[global]\ncert = /run/secrets/pipcert\nindex-url = https://pypi.example.org/simple\n",
            id="https-index",
        ),
        pytest.param(
            {
                "PIP_INDEX_URL": "http://10.0.0.5:3141/root/pypi/+simple/",
                "PIP_EXTRA_INDEX_URL": "file:///opt/pypi/simple https://www.piwheels.org/simple /srv/wheels",
                "PIP_TRUSTED_HOST": "10.0.0.5 www.piwheels.org",
            },
            False,
            "[global]\nindex-url = http://10.0.0.5:3141/root/pypi/+simple/\n"
            "extra-index-url = https://www.piwheels.org/simple\ntrusted-host = 10.0.0.5 www.piwheels.org\n",
            id="mixed-extra-indexes",
        ),
        pytest.param(
            {"PIP_FIND_LINKS": "/srv/wheels", "PIP_NO_INDEX": "1", "HOME": "/root"},
            False,
            "[global]\n",
            id="other-variables-ignored",
        ),
    ],
)
def test_pip_config(environ: dict[str, str], has_cert: bool, expected: str) -> None:
    text = pip_config(environ, has_cert=has_cert)
    assert text == expected
    assert "file://" not in text
    assert ("cert = /run/secrets/pipcert" in text) is has_cert
