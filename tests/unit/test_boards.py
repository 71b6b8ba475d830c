"""config/boards.py: the shipped board profiles are complete and consistent with platforms.toml and peak.py,
and the loader refuses what it does not know, naming the closest key."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tomllib
from dataclasses import fields
from importlib import resources
from typing import Any

import pytest

from npmatrix.config import boards
from npmatrix.config.platforms import presets
from npmatrix.errors import ConfigError
from npmatrix.judge import peak

RAW = tomllib.loads(resources.files("npmatrix").joinpath("data/boards.toml").read_text())
PROFILES = boards.profiles().boards
EXPECTED = {"pi0", "pi1", "pi02w", "pi3", "pi4", "pi5"}


def _raw() -> dict[str, Any]:
    return copy.deepcopy(RAW)


def test_the_boards_the_issue_asks_for() -> None:
    assert set(PROFILES) == EXPECTED
    assert boards.profiles() is boards.profiles()  # loaded once


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_board_cpu_model_and_platform_exists_in_the_platform_presets(name: str) -> None:
    board = PROFILES[name]
    cpu = presets().cpus[board.cpu]
    assert set(board.platforms) <= set(cpu.platforms), "the CPU model has no QEMU model for a Pi OS userland"
    assert set(board.platforms) <= set(presets().platforms)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_field_is_present_typed_and_sourced(name: str) -> None:
    board = PROFILES[name]
    for field in ("description", "cpu", "cpu_part", "memory", "uname_32bit"):
        assert isinstance(getattr(board, field), str) and getattr(board, field), field
    assert isinstance(board.page_size, int) and board.page_size in (4096, 16384)
    assert isinstance(board.memory_range, tuple) and board.memory in board.memory_range
    assert board.tmp_tmpfs is None or board.tmp_tmpfs.endswith("m")
    assert board.peak_gflops is None or isinstance(board.peak_gflops, float)
    assert board.cpu_part.startswith("0x")
    # Every number a person may quote has its source.
    for field in ("memory", "tmp_tmpfs", "page_size"):
        assert board.sources.get(field), f"{name}.{field} has no source"
    if board.peak_gflops is not None:
        assert board.sources.get("peak_gflops")


def test_what_the_issue_says_of_each_board() -> None:
    assert PROFILES["pi0"].armv6 and PROFILES["pi1"].armv6 and PROFILES["pi0"].cpu == "pi1"
    assert presets().cpus["pi1"].qemu["arm/v6"] == "arm1176"
    assert (PROFILES["pi02w"].cpu, PROFILES["pi02w"].memory, PROFILES["pi02w"].tmp_tmpfs) == ("pi3", "512m", "209m")
    assert (PROFILES["pi3"].cpu, PROFILES["pi3"].memory) == ("pi3", "1g")
    assert PROFILES["pi4"].memory_range == ("1g", "2g", "4g", "8g")
    assert PROFILES["pi5"].memory_range == ("2g", "4g", "8g", "16g")
    assert [b.name for b in PROFILES.values() if b.page_size == 16384] == ["pi5"]
    assert [b.name for b in PROFILES.values() if b.uname_32bit == "aarch64"] == ["pi4", "pi5"]


def test_peak_reads_the_published_figures_from_the_boards_alone() -> None:
    pi4, pi5 = PROFILES["pi4"], PROFILES["pi5"]
    expected = {pi4.cpu_part: (pi4.description, 28.8), pi5.cpu_part: (pi5.description, 76.8)}
    assert dict(peak.PI_PRESETS) == expected
    assert (pi4.cpu_part, pi5.cpu_part) == ("0xd08", "0xd0b")
    with_peak = [b for b in PROFILES.values() if b.peak_gflops is not None]
    assert len({b.cpu_part for b in with_peak}) == len(with_peak), "two boards with a peak share a CPU part"


def test_raspios_pip_conf_adds_piwheels_as_an_extra_index() -> None:
    raspios = boards.profiles().raspios
    assert raspios.pip_conf == "[global]\nextra-index-url=https://www.piwheels.org/simple\n"
    assert raspios.piwheels_index in raspios.pip_conf
    assert "bookworm-feedback#242" in raspios.pip_conf_source
    assert "ARMv7" in raspios.armv6_userland


def test_board_lookup_suggests_the_closest_name() -> None:
    assert boards.board("pi4") is PROFILES["pi4"]
    with pytest.raises(ConfigError, match=r"unknown board 'pi02' \(did you mean 'pi02w'\?\)"):
        boards.board("pi02")


DELETE = object()
PI4 = ("board", "pi4")
REFUSED = [
    ((*PI4, "memmory"), "2g", r"\[board.pi4\]: unknown key 'memmory' \(did you mean 'memory'\?\)"),
    ((*PI4, "page_size"), DELETE, r"\[board.pi4\]: missing 'page_size'"),
    ((*PI4, "cpu"), "pi44", r"unknown CPU model 'pi44' \(did you mean 'pi4'\?\)"),
    ((*PI4, "platforms"), ["arm/v8"], r"unknown platform 'arm/v8' \(did you mean 'arm/v7'\?\)"),
    ((*PI4, "page_size"), "16k", r"page_size: expected int, got '16k'"),
    ((*PI4, "page_size"), True, r"page_size: expected int, got True"),
    ((*PI4, "page_size"), 8192, r"page_size 8192 is not 4096, 16384 or 65536"),
    ((*PI4, "memory"), "3g", r"memory '3g' is not one of memory_range"),
    ((*PI4, "tmp_tmpfs"), "lots", r"'lots' is not a memory limit"),
    ((*PI4, "platforms"), [], r"platforms: expected a non-empty list"),
    ((*PI4, "sources", "pagesize"), "x", r"unknown field 'pagesize' \(did you mean 'page_size'\?\)"),
    (("raspios", "pip_cnf"), "x", r"\[raspios\]: unknown key 'pip_cnf' \(did you mean 'pip_conf'\?\)"),
    (("raspios", "piwheels_index"), "https://u:p@piwheels.org/simple", r"not a plain http\(s\) URL"),
    (("bord",), {}, r"unknown key 'bord' \(did you mean 'board'\?\)"),
]


@pytest.mark.parametrize(("path", "value", "message"), REFUSED)
def test_the_loader_refuses_with_a_one_line_reason(path: tuple[str, ...], value: object, message: str) -> None:
    raw = _raw()
    table = raw
    for key in path[:-1]:
        table = table[key]
    if value is DELETE:
        del table[path[-1]]
    else:
        table[path[-1]] = value
    with pytest.raises(ConfigError, match=message) as caught:
        boards.parse(raw)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("data/boards.toml")


def test_every_board_field_is_read() -> None:
    parsed = boards.parse(_raw()).boards["pi5"]
    names = {f.name for f in fields(boards.Board)}
    assert {n for n in names if getattr(parsed, n) is None} == {"tmp_tmpfs"}


def test_the_loader_is_pure() -> None:
    # Kept here rather than in test_import_contract's list, which the import-linter work is replacing.
    code = "import json, sys, npmatrix.config.boards; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    assert not loaded & {"docker", "jinja2", "npmatrix.host.engine", "npmatrix.host.process", "npmatrix.judge.peak"}
