"""Raspberry Pi OS where it differs from Debian, as the plan sees it: the /etc/pip.conf its pip reads, and what a
run here does not ask that a real Pi asks.

A cell with `os = "raspios"` models Raspberry Pi OS on Debian's userland (the one we can build from Debian's
archive). Its pip asks piwheels beside PyPI, as /etc/pip.conf on Pi OS makes it (data/boards.toml [raspios]).
Where piwheels cannot be reached from here, the cell is built without it and its result says so: the verdict
is what PyPI alone gives, marked incomplete, never a PyPI-only answer presented as the Pi's (issue 17). Pure:
whether an index answers is measured before planning (host/reach.py), and passed in as `unreached`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from npmatrix.config import boards
from npmatrix.config.matrix import Cell

PIWHEELS = "piwheels"
APT_ARCHIVE = "Raspberry Pi OS's apt archive"


@dataclass(frozen=True, kw_only=True)
class NotAsked:
    """A source a real Pi asks that this run did not: the cell's answer may differ on the Pi."""

    source: str  # PIWHEELS or APT_ARCHIVE
    url: str
    why: str  # one sentence: what was not asked, and what that means for the answer

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "url": self.url, "why": self.why}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> NotAsked:
        return cls(source=str(record["source"]), url=str(record["url"]), why=str(record["why"]))


def piwheels_url(cell: Cell) -> str | None:
    """The piwheels index a real Pi's pip asks for this cell; None where it asks none."""
    if cell.os != "raspios" or cell.install != "pip":
        return None
    # pip's --extra-index-url replaces pip.conf's extra-index-url (a command-line option wins over the same key
    # of a config file), on a Pi as here: a cell that names its own extra index asks no piwheels there either.
    if cell.extra_index_url:
        return None
    return cell.piwheels_index or boards.profiles().raspios.piwheels_index


def indexes_to_check(cells: Iterable[Cell]) -> tuple[str, ...]:
    """The piwheels URLs the cells' pip would ask, each once: what to try before planning."""
    return tuple(dict.fromkeys(url for url in map(piwheels_url, cells) if url is not None))


def pip_conf(cell: Cell, unreached: Mapping[str, str]) -> str | None:
    """The /etc/pip.conf the cell's image gets: Pi OS's, where its piwheels answered; None otherwise."""
    url = piwheels_url(cell)
    if url is None or url in unreached:
        return None
    return boards.profiles().raspios.pip_conf_for(url)


def not_asked(cell: Cell, unreached: Mapping[str, str]) -> tuple[NotAsked, ...]:
    """What a real Pi would ask for this cell that this run does not; `unreached`: URL -> why it did not answer."""
    found: list[NotAsked] = []
    url = piwheels_url(cell)
    if url is not None and url in unreached:
        found.append(NotAsked(source=PIWHEELS, url=url, why=_piwheels_why(cell, unreached[url])))
    if cell.os == "raspios" and cell.install == "apt":
        found.append(_apt_archive(cell))
    return tuple(found)


def _piwheels_why(cell: Cell, error: str) -> str:
    if cell.platform == "arm64":
        return (
            f"piwheels, which 64-bit Raspberry Pi OS also asks, could not be reached from here ({error}); it builds "
            "no aarch64 wheels, so PyPI's answer is very likely the Pi's"
        )
    return (
        f"piwheels, which 32-bit Raspberry Pi OS also asks, could not be reached from here ({error}): on a real "
        "Pi, pip may find a wheel there; this answer is PyPI's alone"
    )


def _apt_archive(cell: Cell) -> NotAsked:
    raspios = boards.profiles().raspios
    if cell.platform == "arm64":
        return NotAsked(
            source=APT_ARCHIVE,
            url=raspios.apt_archive,
            why=(
                f"Raspberry Pi's own apt archive ({raspios.apt_archive}), which 64-bit Raspberry Pi OS asks beside "
                "Debian's, is not asked from here: a package it replaces on a Pi is Debian's here"
            ),
        )
    return NotAsked(
        source=APT_ARCHIVE,
        url=raspios.apt_archive_32bit,
        why=(
            f"32-bit Raspberry Pi OS installs from the Raspbian rebuild ({raspios.apt_archive_32bit}), which is "
            "not asked from here: Debian's armhf packages stood in, the same sources built for ARMv7; on a real Pi "
            "apt installs Raspbian's builds of them"
        ),
    )
