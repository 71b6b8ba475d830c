"""Kept nights: timestamped names, byte-for-byte copies, sorted reading that skips broken files with a warning."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import synthetic
from click.testing import CliRunner

from npmatrix.cli import cli
from npmatrix.errors import ConfigError
from npmatrix.records import history


def _night(tmp_path: Path, started_at: str, *, matrix: str | None = None, name: str = "r.json") -> Path:
    folder = tmp_path / started_at.replace(":", "")
    return synthetic.write(synthetic.real_night(started_at, matrix=matrix), folder / name)


@pytest.mark.parametrize(
    ("started_at", "stamp"),
    [
        ("2026-11-25T18:38:58+00:00", "20261125T183858Z"),
        ("2026-11-25T20:38:58+02:00", "20261125T183858Z"),  # kept in UTC
        ("2026-11-25T18:38:58.999+00:00", "20261125T183858Z"),
        ("2026-11-25T18:38:58", "20261125T183858Z"),  # naive: taken as UTC, as npmatrix writes
    ],
)
def test_stamp_is_utc_and_file_name_safe(started_at: str, stamp: str) -> None:
    assert history.stamp(started_at) == stamp


def test_a_started_at_that_is_no_time_is_one_line() -> None:
    with pytest.raises(ConfigError, match="'yesterday' is not an ISO 8601 time"):
        history.stamp("yesterday", where="r.json")


def test_add_keeps_bytes_under_the_start_time_once(tmp_path: Path) -> None:
    night = _night(tmp_path, "2026-11-25T03:00:00+00:00")
    kept, added = history.add(night, tmp_path / "h")
    assert added and kept == tmp_path / "h" / "20261125T030000Z.json"
    assert kept.read_bytes() == night.read_bytes()
    assert history.add(night, tmp_path / "h") == (kept, False)  # a re-run keeps it once
    # Another night that started in the same second gets the next number.
    other = synthetic.write(
        synthetic.with_status(synthetic.real_night("2026-11-25T03:00:00+00:00"), "pi64", synthetic.FAILING[0]),
        tmp_path / "other.json",
    )
    assert history.add(other, tmp_path / "h") == (tmp_path / "h" / "20261125T030000Z-2.json", True)
    assert [e.path.name for e in history.entries(tmp_path / "h")] == [
        "20261125T030000Z.json",
        "20261125T030000Z-2.json",
    ]


def test_add_refuses_what_is_not_a_results_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    with pytest.raises(ConfigError, match=r"bogus\.json"):
        history.add(bogus, tmp_path / "h")
    assert not (tmp_path / "h").exists()


def _history(tmp_path: Path, stamps: list[str], *, matrix: str | None = None) -> Path:
    for started_at in stamps:
        history.add(_night(tmp_path, started_at, matrix=matrix), tmp_path / "h")
    return tmp_path / "h"


NIGHTS = [f"2026-11-{day:02d}T03:00:00+00:00" for day in (3, 1, 12, 2)]  # added out of order


def test_load_recent_is_oldest_first_and_limited(tmp_path: Path) -> None:
    directory = _history(tmp_path, NIGHTS)
    (directory / "README.md").write_text("not a night")  # other files are ignored
    every = history.load_recent(directory)
    assert [n.started_at[:10] for n in every] == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-12"]
    assert [n.started_at[:10] for n in history.load_recent(directory, 2)] == ["2026-11-03", "2026-11-12"]


def test_broken_nights_are_skipped_with_one_line_warnings(tmp_path: Path) -> None:
    directory = _history(tmp_path, NIGHTS)
    (directory / "20261112T030000Z.json").write_text('{"schema_version": 1, "cells": [')  # truncated
    (directory / "20261103T030000Z.json").write_text('{"schema_version": 3}')
    warnings: list[str] = []
    kept = history.load_recent(directory, 2, warn=warnings.append)
    # The two newest are broken: reading goes on until two nights load.
    assert [n.started_at[:10] for n in kept] == ["2026-11-01", "2026-11-02"]
    assert len(warnings) == 2 and all("\n" not in w for w in warnings)
    assert "20261112T030000Z.json: cannot read it as JSON" in warnings[0]
    assert "20261103T030000Z.json: results schema_version 3, expected 2" in warnings[1]


def test_previous_is_the_latest_earlier_night_of_the_same_matrix(tmp_path: Path) -> None:
    directory = _history(tmp_path, NIGHTS)
    history.add(_night(tmp_path, "2026-11-20T03:00:00+00:00", matrix="builtin:gallery"), directory)
    tonight = synthetic.real_night("2026-11-21T03:00:00+00:00")
    previous = history.previous(directory, tonight)
    assert previous is not None and previous.started_at.startswith("2026-11-12")  # not the gallery's night
    # A night is never its own predecessor (a re-run of the gate after it was kept).
    twelfth = synthetic.real_night("2026-11-12T03:00:00+00:00")
    assert history.previous(directory, twelfth).started_at.startswith("2026-11-03")  # type: ignore[union-attr]
    assert history.previous(directory, synthetic.real_night("2026-10-01T00:00:00+00:00")) is None


def test_previous_of_a_night_started_in_the_same_second_is_the_other_one(tmp_path: Path) -> None:
    directory = _history(tmp_path, NIGHTS[:1])
    same_second = dataclasses.replace(synthetic.real_night(NIGHTS[0]), host={"run_id": "another run"})
    found = history.previous(directory, same_second)
    assert found is not None and found.started_at == NIGHTS[0]


def test_load_recent_until_and_matrix_filters(tmp_path: Path) -> None:
    directory = _history(tmp_path, NIGHTS)
    until = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)  # inclusive: two short runs can start in one second
    assert [n.started_at[:10] for n in history.load_recent(directory, until=until)] == [
        "2026-11-01",
        "2026-11-02",
        "2026-11-03",
    ]
    assert history.load_recent(directory, matrix="builtin:gallery") == ()


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_below_one_is_refused(tmp_path: Path, limit: int) -> None:
    with pytest.raises(ConfigError, match="must be at least 1"):
        history.load_recent(_history(tmp_path, NIGHTS[:1]), limit)


def test_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such directory"):
        history.load_recent(tmp_path / "nope")


def test_cli_history_add_and_list(tmp_path: Path) -> None:
    night = _night(tmp_path, "2026-11-25T03:00:00+00:00")
    added = CliRunner().invoke(cli, ["history", "add", str(night), str(tmp_path / "h")])
    assert added.exit_code == 0 and added.stdout.strip() == str(tmp_path / "h" / "20261125T030000Z.json")
    again = CliRunner().invoke(cli, ["history", "add", str(night), str(tmp_path / "h")])
    assert again.exit_code == 0 and "kept already" in again.stderr
    listed = CliRunner().invoke(cli, ["history", "list", str(tmp_path / "h")])
    assert listed.stdout == "20261125T030000Z.json  matrix/default.toml  4 cells: 3 work, 1 fail; all as expected\n"
    argv = [sys.executable, "-m", "npmatrix", "history", "list", str(tmp_path / "nope")]
    missing = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no such directory" in missing.stderr


def test_report_history_adds_the_kept_nights_to_the_html(tmp_path: Path) -> None:
    directory = _history(tmp_path, NIGHTS)  # four nights of the default matrix, the last on 2026-11-12
    tonight = synthetic.write(synthetic.real_night("2026-11-13T03:00:00+00:00"), tmp_path / "tonight.json")
    args = ["report", str(tonight), "--format", "html", "--out", str(tmp_path / "r.html")]
    assert CliRunner().invoke(cli, [*args, "--history", str(directory)]).exit_code == 0
    page = (tmp_path / "r.html").read_text()
    assert '<section id="history">' in page and "History: 5 nights" in page
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert '<section id="history">' not in (tmp_path / "r.html").read_text()
    # A night that was kept already, reported with the history it is in, counts once.
    history.add(tonight, directory)
    assert CliRunner().invoke(cli, [*args, "--history", str(directory)]).exit_code == 0
    assert "History: 5 nights" in (tmp_path / "r.html").read_text()
