"""Raspberry Pi board profiles and Raspberry Pi OS's pip configuration, loaded once from data/boards.toml.

A board is what a cell's `board = "pi4"` will stand for (issue 17): a CPU model of platforms.toml, a default
memory limit, Pi OS's tmpfs on /tmp, the kernel's page size and the published DP peak. Every number carries
its source in the file. The loader refuses unknown and missing keys, and CPU models or platforms that
platforms.toml does not know, so a typo in the data fails the unit tests instead of a run. Pure: no I/O but
reading the packaged file.
"""

from __future__ import annotations

import difflib
import functools
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from importlib import resources
from types import MappingProxyType
from typing import Any

from npmatrix.config import validators
from npmatrix.config.platforms import presets
from npmatrix.errors import ConfigError

WHERE = "data/boards.toml"


@dataclass(frozen=True, kw_only=True)
class Board:
    name: str
    description: str
    cpu: str  # a CPU model of platforms.toml ([cpu.*])
    cpu_part: str  # /proc/cpuinfo's "CPU part" on the real board, e.g. 0xd08
    memory: str  # the default memory limit, '512m'
    memory_range: tuple[str, ...]  # every RAM size sold
    page_size: int  # of Raspberry Pi OS's default 64-bit kernel for the board
    platforms: tuple[str, ...]  # the userlands Pi OS publishes for it, default first
    uname_32bit: str  # `uname -m` under 32-bit Pi OS: aarch64 where a 64-bit kernel boots
    sources: Mapping[str, str]  # field -> where its value comes from
    tmp_tmpfs: str | None = None  # Pi OS's tmpfs on /tmp; None: none measured
    peak_gflops: float | None = None  # the published DP peak; None: none published

    @property
    def armv6(self) -> bool:
        return self.platforms == ("arm/v6",)


@dataclass(frozen=True, kw_only=True)
class RaspiOs:
    pip_conf: str  # /etc/pip.conf as Pi OS ships it
    piwheels_index: str
    pip_conf_source: str
    armv6_userland: str
    armv6_source: str
    apt_archive: str  # Raspberry Pi's own apt archive, which Pi OS asks beside Debian's (64-bit)
    apt_archive_32bit: str  # the Raspbian rebuild 32-bit Pi OS asks instead of Debian's archive
    apt_source: str

    def pip_conf_for(self, index: str) -> str:
        """Pi OS's /etc/pip.conf, its piwheels URL replaced by `index` (a mirror, or a stand-in in the tests)."""
        return self.pip_conf.replace(self.piwheels_index, index)


@dataclass(frozen=True, kw_only=True)
class Boards:
    boards: Mapping[str, Board]
    raspios: RaspiOs


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_keys(table: Mapping[str, Any], *, required: set[str], optional: set[str], where: str) -> None:
    known = required | optional
    for key in table:
        if key not in known:
            raise ConfigError(f"unknown key {key!r}{_did_you_mean(key, sorted(known))}", where=where)
    missing = sorted(required - set(table))
    if missing:
        raise ConfigError(f"missing {', '.join(repr(k) for k in missing)}", where=where)


def _typed(value: Any, kind: type | tuple[type, ...], *, where: str) -> Any:
    # bool is an int to Python; no field here wants it.
    if isinstance(value, bool) or not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ConfigError(f"expected {names}, got {value!r}", where=where)
    return value


def _checked(check: Callable[[str], str], value: str, *, where: str) -> str:
    try:
        return check(value)
    except ValueError as error:
        raise ConfigError(str(error), where=where) from None


def _strings(value: Any, *, where: str) -> tuple[str, ...]:
    items = _typed(value, list, where=where)
    if not items:
        raise ConfigError("expected a non-empty list", where=where)
    return tuple(_typed(item, str, where=where) for item in items)


_SCALARS: dict[str, type | tuple[type, ...]] = {
    "description": str,
    "cpu": str,
    "cpu_part": str,
    "memory": str,
    "page_size": int,
    "uname_32bit": str,
    "tmp_tmpfs": str,
    "peak_gflops": (int, float),
}
_LISTS = ("memory_range", "platforms")
_OPTIONAL = {f.name for f in fields(Board) if f.name in ("tmp_tmpfs", "peak_gflops")}
_REQUIRED = {f.name for f in fields(Board)} - _OPTIONAL - {"name"}
# Every field has a reader: a new field without one fails at import, not in a run.
assert set(_SCALARS) | set(_LISTS) | {"sources"} == _REQUIRED | _OPTIONAL


def parse_board(name: str, raw: Any) -> Board:
    where = f"{WHERE} [board.{name}]"
    table = _typed(raw, dict, where=where)
    _check_keys(table, required=_REQUIRED, optional=_OPTIONAL, where=where)
    values: dict[str, Any] = {
        k: _typed(table[k], kind, where=f"{where} {k}") for k, kind in _SCALARS.items() if k in table
    }
    values.update({k: _strings(table[k], where=f"{where} {k}") for k in _LISTS})
    values["sources"] = MappingProxyType(_sources(table["sources"], where=f"{where} sources"))
    if "peak_gflops" in values:
        values["peak_gflops"] = float(values["peak_gflops"])
    board = Board(name=name, **values)
    _check_board(board, where=where)
    return board


def _sources(raw: Any, *, where: str) -> dict[str, str]:
    table = _typed(raw, dict, where=where)
    cited = {f.name for f in fields(Board)} - {"name", "sources"}
    for key, text in table.items():
        if key not in cited:
            raise ConfigError(f"a source for unknown field {key!r}{_did_you_mean(key, sorted(cited))}", where=where)
        _typed(text, str, where=f"{where} {key}")
    return dict(table)


def _check_board(board: Board, *, where: str) -> None:
    known = presets()
    if board.cpu not in known.cpus:
        raise ConfigError(f"unknown CPU model {board.cpu!r}{_did_you_mean(board.cpu, known.cpus)}", where=where)
    for platform in board.platforms:
        if platform not in known.platforms:
            raise ConfigError(f"unknown platform {platform!r}{_did_you_mean(platform, known.platforms)}", where=where)
    for size in (board.memory, *board.memory_range, *([board.tmp_tmpfs] if board.tmp_tmpfs else [])):
        _checked(validators.memory_limit, size, where=where)
    if board.memory not in board.memory_range:
        raise ConfigError(f"memory {board.memory!r} is not one of memory_range {list(board.memory_range)}", where=where)
    if board.page_size not in (4096, 16384, 65536):
        raise ConfigError(f"page_size {board.page_size} is not 4096, 16384 or 65536", where=where)


def parse_raspios(raw: Any) -> RaspiOs:
    where = f"{WHERE} [raspios]"
    table = _typed(raw, dict, where=where)
    names = {f.name for f in fields(RaspiOs)}
    _check_keys(table, required=names, optional=set(), where=where)
    values = {k: _typed(table[k], str, where=f"{where} {k}") for k in names}
    for key in ("piwheels_index", "apt_archive", "apt_archive_32bit"):
        _checked(validators.index_url, values[key], where=f"{where} {key}")
    if values["piwheels_index"] not in values["pip_conf"]:
        raise ConfigError("pip_conf does not name piwheels_index", where=where)
    return RaspiOs(**values)


def parse(raw: Mapping[str, Any]) -> Boards:
    _check_keys(raw, required={"board", "raspios"}, optional=set(), where=WHERE)
    table = _typed(raw["board"], dict, where=f"{WHERE} [board]")
    boards = {name: parse_board(name, value) for name, value in table.items()}
    return Boards(boards=MappingProxyType(boards), raspios=parse_raspios(raw["raspios"]))


@functools.cache
def profiles() -> Boards:
    return parse(tomllib.loads(resources.files("npmatrix").joinpath("data/boards.toml").read_text()))


def board(name: str) -> Board:
    """The board called `name`, or a ConfigError naming the closest one."""
    known = profiles().boards
    if name not in known:
        raise ConfigError(f"unknown board {name!r}{_did_you_mean(name, known)}; known: {', '.join(known)}")
    return known[name]
