"""Shards partition the selected cells, deterministically and balanced; merged shards are the unsharded run.

The partition is a pure function of names and costs (hypothesis); `run --shard` and `merge` are checked on
the command line with the fake engine, so shard 1/2 + 2/2 merged is compared with the unsharded run itself.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest
import synthetic
from click.testing import CliRunner, Result
from fakes import FakeEngine, fake_builds
from hypothesis import given
from hypothesis import strategies as st

from npmatrix.cli import cli
from npmatrix.config import matrix
from npmatrix.errors import ConfigError
from npmatrix.host.engine import CallResult
from npmatrix.plan import cellplan as plan
from npmatrix.records import merge, results
from npmatrix.run import runner, shard
from npmatrix.run.shard import Shard

REPO = Path(__file__).resolve().parents[2]
GALLERY = plan.plan(matrix.load(REPO / "matrix" / "gallery.toml"))

costs_st = st.dictionaries(
    st.text("abcdefghij-", min_size=1, max_size=6), st.floats(min_value=0.5, max_value=1000), max_size=30
)


@given(costs=costs_st, count=st.integers(1, 8))
def test_shards_partition_the_cells(costs: dict[str, float], count: int) -> None:
    shards = shard.partition(costs, count)
    assert len(shards) == count
    every = [name for s in shards for name in s]
    assert sorted(every) == sorted(costs)  # each cell in exactly one shard
    for s in shards:  # the matrix's order within a shard
        assert list(s) == [n for n in costs if n in s]


@given(costs=costs_st, count=st.integers(1, 8), seed=st.integers(0, 1000))
def test_shards_do_not_depend_on_the_order_cells_come_in(costs: dict[str, float], count: int, seed: int) -> None:
    names = list(costs)
    random.Random(seed).shuffle(names)
    shuffled = {n: costs[n] for n in names}
    assert [set(s) for s in shard.partition(shuffled, count)] == [set(s) for s in shard.partition(costs, count)]


@given(costs=costs_st, count=st.integers(1, 8))
def test_no_shard_is_empty_while_there_are_enough_cells(costs: dict[str, float], count: int) -> None:
    sizes = [len(s) for s in shard.partition(costs, count)]
    if len(costs) >= count:
        assert min(sizes) >= 1
    else:
        assert sorted(sizes, reverse=True) == [1] * len(costs) + [0] * (count - len(costs))


@given(costs=costs_st.filter(bool), count=st.integers(1, 8))
def test_shards_are_balanced_within_the_dearest_cell(costs: dict[str, float], count: int) -> None:
    loads = [sum(costs[n] for n in s) for s in shard.partition(costs, count)]
    assert max(loads) - min(loads) <= max(costs.values()) + 1e-9


@pytest.mark.parametrize(("text", "expected"), [("1/2", Shard(1, 2)), (" 3 / 3 ", Shard(3, 3)), ("1/1", Shard(1, 1))])
def test_shard_parse(text: str, expected: Shard) -> None:
    assert Shard.parse(text) == expected and str(expected) == f"{expected.index}/{expected.count}"


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "-1/2"])
def test_bad_shard_is_one_line(text: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Shard.parse(text)
    assert refused.value.where == "--shard" and "\n" not in str(refused.value)


def test_emulated_cells_cost_more_without_history() -> None:
    costs = {p.cell.name: shard.expected_cost(p, {}) for p in GALLERY}
    assert costs["colab-like"] == shard.NATIVE_COST_S
    assert costs["pi32-pip"] == shard.EMULATED_COST_S
    assert costs["numpy24-old-x86"] == shard.EMULATED_COST_S  # amd64 under qemu-x86_64 for a CPU model


def test_recorded_durations_are_the_median_of_recent_nights() -> None:
    nights = [
        synthetic.run([synthetic.cell_result("a", durations={"build": b, "probe": 1.0})]) for b in (0.0, 10.0, 30.0)
    ]
    assert shard.recorded_durations(nights) == {"a": 11.0}
    gallery = {p.cell.name: p for p in GALLERY}
    assert shard.expected_cost(gallery["colab-like"], {"colab-like": 0.0}) == shard.MIN_COST_S


def test_recorded_durations_rebalance_the_shards() -> None:
    guessed = [set(s) for s in shard.partition({p.cell.name: shard.expected_cost(p, {}) for p in GALLERY}, 2)]
    # A history in which colab-like was by far the slowest cell: it gets a shard nearly to itself.
    recorded = {p.cell.name: 5.0 for p in GALLERY} | {"colab-like": 500.0}
    measured = [set(p.cell.name for p in shard.select(GALLERY, Shard(i, 2), recorded=recorded)) for i in (1, 2)]
    assert measured != guessed
    assert {"colab-like"} in measured  # 500 s on one side, the other nine cells (45 s) on the other


# --- run --shard and merge, with the fake engine ------------------------------------------------------------


@pytest.fixture
def engine(fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """Every cell builds and probes ok, except pi32-pip (no wheel), as on the real bookworm matrix."""
    monkeypatch.setattr(runner, "ensure_bases", lambda *a, **k: {})

    failing = {"pi32-pip": "ERROR: No matching distribution found for numpy==2.3.5\n"}
    fake_builds(monkeypatch, fake_engine, failing=failing, image_id="sha256:cell")
    facts = (REPO / "tests" / "data" / "probe-host-amd64-numpy-ok.json").read_text()
    fake_engine.respond = lambda image, command: CallResult(exit_code=0, stdout=facts, stderr="", duration_s=1.0)
    return fake_engine


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_shard_1_and_2_merged_are_the_unsharded_run(engine: FakeEngine, tmp_path: Path) -> None:
    whole = _invoke("run", "--matrix", "bookworm", "--out", tmp_path / "whole")
    assert whole.exit_code == 0, whole.output
    for i in (1, 2):
        part = _invoke("run", "--matrix", "bookworm", "--shard", f"{i}/2", "--out", tmp_path / f"s{i}")
        assert part.exit_code == 0, part.output
        assert f"shard {i}/2 of 4 cells" in part.stderr
    shards = [results.load(tmp_path / f"s{i}" / "results.json") for i in (1, 2)]
    assert all(s.cells for s in shards) and not {c.name for c in shards[0].cells} & {c.name for c in shards[1].cells}
    merged = _invoke(
        "merge",
        tmp_path / "s2/results.json",
        tmp_path / "s1/results.json",
        "--matrix",
        "bookworm",
        "--out",
        tmp_path / "m.json",
    )
    assert merged.exit_code == 0, merged.output
    unsharded, combined = results.load(tmp_path / "whole" / "results.json"), results.load(tmp_path / "m.json")
    assert [c.name for c in combined.cells] == [c.name for c in unsharded.cells]  # same cells, same order
    assert [c.status for c in combined.cells] == [c.status for c in unsharded.cells]
    assert combined.matrix == unsharded.matrix == "builtin:bookworm" and combined.complete
    assert [h["results"] for h in combined.host["merged_from"]] == [
        str(tmp_path / "s2/results.json"),
        str(tmp_path / "s1/results.json"),
    ]
    assert combined.started_at == min(s.started_at for s in shards)
    # And nothing changed between the unsharded night and the merged one.
    gate = _invoke("diff", tmp_path / "whole" / "results.json", tmp_path / "m.json")
    assert gate.exit_code == 0 and "cells: 4 unchanged" in gate.output


def test_more_shards_than_cells_leaves_an_empty_shard(engine: FakeEngine, tmp_path: Path) -> None:
    args = ("run", "--matrix", "bookworm", "--cell", "colab-like", "--out")
    assert _invoke(*args, tmp_path / "s1", "--shard", "1/2").exit_code == 0
    empty = _invoke(*args, tmp_path / "s2", "--shard", "2/2")
    assert empty.exit_code == 0 and "none (fewer cells than shards)" in empty.stderr
    assert results.load(tmp_path / "s2" / "results.json").cells == ()
    parts = [tmp_path / "s1/results.json", tmp_path / "s2/results.json"]
    assert _invoke("merge", *parts, "--out", tmp_path / "m.json").exit_code == 0
    assert [c.name for c in results.load(tmp_path / "m.json").cells] == ["colab-like"]


def test_run_history_gates_and_keeps_the_night(engine: FakeEngine, tmp_path: Path) -> None:
    args = ("run", "--matrix", "bookworm", "--cell", "colab-like", "--cell", "pi32-pip", "--history", tmp_path / "h")
    first = _invoke(*args, "--out", tmp_path / "n1")
    assert first.exit_code == 0, first.output
    assert "cells: 0 unchanged, 2 new" in first.output and "kept as" in first.stderr
    second = _invoke(*args, "--out", tmp_path / "n2")
    assert second.exit_code == 0 and "cells: 2 unchanged" in second.output
    assert len(list((tmp_path / "h").glob("*.json"))) == 2  # and the lock `history add` takes
    # The third night colab-like's probe says NumPy does not import: a regression, exit 1, and still kept.
    engine.respond = lambda image, command: CallResult(
        exit_code=1, stdout="", stderr="Segmentation fault", duration_s=1
    )
    third = _invoke(*args, "--out", tmp_path / "n3")
    assert third.exit_code == 1
    assert "REGRESSION in colab-like" in third.output and "NOT as expected: colab-like" in third.output
    assert len(list((tmp_path / "h").glob("*.json"))) == 3
    # A shard is not a night: with --shard the history only informs the balance.
    shard_run = _invoke(*args, "--out", tmp_path / "s1", "--shard", "1/2")
    assert "kept" not in shard_run.stderr and len(list((tmp_path / "h").glob("*.json"))) == 3


# --- merge refusals -------------------------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, *cells: str, matrix: str = "builtin:bookworm") -> Path:
    night = synthetic.run([synthetic.real_night("2026-11-25T03:00:00+00:00").cell(c) for c in cells], matrix=matrix)
    return synthetic.write(night, tmp_path / name)


def test_merge_refuses_overlap_other_matrices_and_missing_cells(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.json", "colab-like", "pi64")
    b = _write(tmp_path, "b.json", "pi64", "pi32-pip")
    c = _write(tmp_path, "c.json", "pi32-apt", matrix="builtin:gallery")
    d = _write(tmp_path, "d.json", "pi32-pip")
    out = tmp_path / "m.json"
    cases = [
        ((a, b), f"{b}: cell 'pi64' is also in {a}: shards must not overlap"),
        ((a, c), f"{c}: ran matrix 'builtin:gallery', but {a} ran 'builtin:bookworm'"),
        ((a, d, "--matrix", "bookworm"), "merge: no shard ran pi32-apt: a shard is missing or failed"),
        ((a, d, "--matrix", "gallery"), "the shards ran 'builtin:bookworm', not 'builtin:gallery'"),
    ]
    for args, message in cases:
        refused = _invoke("merge", *args, "--out", out)
        assert isinstance(refused.exception, ConfigError), refused.output
        assert str(refused.exception).startswith(message) or message in str(refused.exception)
        assert "\n" not in str(refused.exception)
    assert not out.exists()


def test_merge_keeps_the_latest_finish_and_incomplete_shards(tmp_path: Path) -> None:
    one = synthetic.run([synthetic.cell_result("a")], started_at="2026-11-25T03:00:00+00:00")
    two = synthetic.run([synthetic.cell_result("b")], started_at="2026-11-25T02:00:00+00:00")
    two = dataclasses.replace(two, finished_at="2026-11-25T04:00:00+00:00", complete=False)
    merged = merge.merge([one, two], tmp_path / "m.json")
    merged.write(complete=merge.complete([one, two]))
    document = json.loads((tmp_path / "m.json").read_text())
    assert document["started_at"] == "2026-11-25T02:00:00+00:00" and document["complete"] is False
    complete = merge.merge([one], tmp_path / "c.json")
    complete.write(complete=True)
    assert json.loads((tmp_path / "c.json").read_text())["finished_at"] == one.finished_at
