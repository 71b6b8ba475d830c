"""`board = "pi4"` in a cell (issue 17): the profile sets the CPU model, memory limit and /tmp size, the cell's
own keys win, results.json keeps the board, every view names it, and a mistyped board is one line."""

from __future__ import annotations

import dataclasses
import json

import pytest
from synthetic import cell_result, run

from npmatrix.config import boards, matrix
from npmatrix.errors import ConfigError
from npmatrix.plan import cellplan
from npmatrix.present import labels
from npmatrix.records import results
from npmatrix.run import probe, reuse


def _cell(body: str) -> matrix.Cell:
    return matrix.loads(f'[[cell]]\nname = "c"\nnumpy = "==2.3.5"\n{body}\n', source="m.toml").cells[0]


def test_a_board_sets_cpu_memory_and_tmp_from_its_profile() -> None:
    cell = _cell('platform = "arm64"\nboard = "pi02w"')
    assert (cell.cpu, cell.memory, cell.tmp_size) == ("pi3", "512m", "209m")
    profile = cell.board_profile
    assert profile is not None and profile.page_size == 4096
    assert probe.lockdown_for(cellplan.plan_cell(cell)).tmpfs_size == "209m"


def test_explicit_keys_override_the_board() -> None:
    cell = _cell('platform = "arm64"\nboard = "pi5"\nmemory = "8g"\ncpu = "pi4"\ntmp_size = "1g"')
    assert (cell.cpu, cell.memory, cell.tmp_size) == ("pi4", "8g", "1g")
    profile = cell.board_profile
    assert profile is not None and profile.page_size == 16384 and profile.peak_gflops == 76.8


def test_a_cell_without_a_board_keeps_the_defaults() -> None:
    cell = _cell('platform = "arm64"')
    assert (cell.board, cell.cpu, cell.memory, cell.tmp_size) == (None, None, "2g", "64m")


def test_a_mistyped_board_is_one_line_with_did_you_mean() -> None:
    with pytest.raises(ConfigError) as caught:
        _cell('platform = "arm64"\nboard = "pi44"')
    message = str(caught.value)
    assert "\n" not in message and "m.toml" in message and ".board" in message
    assert "unknown board 'pi44'" in message and "did you mean 'pi4'" in message
    assert caught.value.exit_code == 2


def test_a_board_on_a_platform_its_os_does_not_publish_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"board 'pi4' runs arm64, arm/v7, not amd64"):
        _cell('platform = "amd64"\nboard = "pi4"')


def test_an_armv6_board_on_debian_armhf_reaches_the_plan() -> None:
    # Refusing it here would hide the answer the plan gives (cpu-unsupported, with the fix).
    cell = _cell('platform = "arm/v7"\nboard = "pi0"')
    assert cell.cpu == "pi1" and cell.board_profile is not None and cell.board_profile.armv6


def test_results_json_keeps_the_board_and_reads_it_back() -> None:
    cell = _cell('platform = "arm/v7"\nboard = "pi4"')
    r = dataclasses.replace(cell_result("c", emulated=True), cell=cell)
    record = json.loads(json.dumps(r.to_json()))
    assert record["inputs"]["board"] == "pi4" and record["inputs"]["tmp_size"] == "64m"
    back = results.from_json(json.loads(json.dumps(run([r]).to_json())), where="results.json")
    assert back.cells[0].cell == cell


def test_the_placement_label_names_the_board() -> None:
    cell = _cell('platform = "arm/v7"\nboard = "pi4"')
    r = dataclasses.replace(cell_result("c", emulated=True), cell=cell)
    assert labels.placement(r) == "arm/v7 (qemu max) as board pi4"
    assert "board" not in labels.placement(cell_result("d", emulated=True))


def test_the_reuse_key_covers_the_tmp_size() -> None:
    small = cellplan.plan_cell(_cell('platform = "arm64"\nboard = "pi02w"'))
    large = cellplan.plan_cell(_cell('platform = "arm64"\nboard = "pi02w"\ntmp_size = "1g"'))
    keys = {reuse.probe_key(p, image_id="sha256:1", files={}) for p in (small, large)}
    assert len(keys) == 2


@pytest.mark.parametrize("name", sorted(boards.profiles().boards))
def test_every_board_parses_on_its_default_platform(name: str) -> None:
    profile = boards.board(name)
    cell = _cell(f'platform = "{profile.platforms[0]}"\nboard = "{name}"')
    assert cell.cpu == profile.cpu and cell.memory == profile.memory


def test_a_pi5_cell_asks_the_probe_for_the_page_alignment_check() -> None:
    pi5 = cellplan.plan_cell(_cell('platform = "arm64"\nboard = "pi5"'))
    pi4 = cellplan.plan_cell(_cell('platform = "arm64"\nboard = "pi4"'))
    assert "--page-alignment" in pi5.probe_command().argv()
    assert "--page-alignment" not in pi4.probe_command().argv()


@pytest.mark.parametrize(
    ("body", "checked"),
    [
        ('platform = "arm64"\ncpu = "pi5"', True),  # the default matrix's pi5-64: a Pi 5 by its CPU alone
        ('platform = "arm64"\ncpu = "pi4"', False),
        ('platform = "arm64"', False),
        ('platform = "arm64"\nboard = "pi5"\ncpu = "pi4"', True),  # a Pi 5 board is a Pi 5 whatever CPU it runs as
    ],
)
def test_a_pi5_by_its_cpu_alone_gets_the_check_too(body: str, checked: bool) -> None:
    assert ("--page-alignment" in cellplan.plan_cell(_cell(body)).probe_command().argv()) is checked
