"""Install methods: how a cell gets its NumPy (pip, apt), declared once.

As cibuildwheel's platforms/__init__.py does for platforms: a Protocol and one dict of implementations. The
matrix's `install` values and its per-method key checks (config/matrix.py), the template a cell renders from
and the Python it runs (plan/), the labels views show, and the `install` enum of data/results.schema.json
(checked by tests/unit/test_install_methods.py) all come from `METHODS`; adding a method is one entry here and
one template (docs/recipes-install-method.md). The module lives in config/, the lowest room that reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, get_args

from npmatrix.errors import ConfigError

if TYPE_CHECKING:
    from npmatrix.config.matrix import Cell

# The names a matrix file may give `install`, for mypy; kept equal to METHODS by the assert below.
InstallName = Literal["pip", "apt"]
PythonKind = Literal["venv", "system"]  # /opt/venv/bin/python3 or Debian's own /usr/bin/python3


class InstallMethod(Protocol):
    """What an install method declares. Keys are matrix keys (Cell fields); the checks in config/matrix.py
    refuse a key some other method reads when this one would ignore it."""

    @property
    def name(self) -> str: ...

    @property
    def template(self) -> str:
        """The Jinja2 template in dockerfiles/ (or the plan's template_dir) that renders the cell."""
        ...

    @property
    def apt_packages(self) -> tuple[str, ...]:
        """Debian packages the method needs, installed before the cell's own `apt` ones."""
        ...

    @property
    def keys(self) -> tuple[str, ...]:
        """The method-specific keys it always reads."""
        ...

    @property
    def package_keys(self) -> tuple[str, ...]:
        """Keys it reads only when the cell has `packages` or `requirements` to install beside NumPy."""
        ...

    @property
    def required(self) -> Mapping[str, str]:
        """Keys a cell must set, each with what to set: "a pip cell needs {value}"."""
        ...

    @property
    def refusals(self) -> Mapping[str, str]:
        """Why it refuses a key another method reads, where the generic "only pip cells use it" says too little."""
        ...

    def python(self, cell: Cell) -> PythonKind:
        """Where NumPy ends up: the venv at /opt/venv or the system Python."""
        ...

    def package(self, cell: Cell) -> str:
        """The NumPy the cell asks for, as the package it names: "numpy==2.3.5", "python3-numpy"."""
        ...

    def asks_for(self, cell: Cell) -> str:
        """The same for a sentence: "numpy==2.3.5 (binary only)", "Debian's python3-numpy"."""
        ...

    def not_installed(self, cell: Cell) -> str:
        """The NumPy shown, as "... (not installed)", when the probe found none: "2.3.5", "python3-numpy"."""
        ...


def _has_packages(cell: Cell) -> bool:
    return bool(cell.packages or cell.requirements)


# pip's index settings, read wherever pip installs something: NumPy itself, or a cell's `packages`.
_PIP_INDEX_KEYS = ("only_binary", "index_url", "extra_index_url", "find_links")


@dataclass(frozen=True, kw_only=True)
class Pip:
    """NumPy from an index (PyPI, piwheels, a mirror) by pip, in a venv or, venv = false, the system Python."""

    name: str = "pip"
    template: str = "pip.Dockerfile.j2"
    apt_packages: tuple[str, ...] = ()
    keys: tuple[str, ...] = ("numpy", "pip", "system_site_packages", "venv", *_PIP_INDEX_KEYS)
    package_keys: tuple[str, ...] = ()
    required: Mapping[str, str] = field(default_factory=lambda: {"numpy": 'a NumPy pin, e.g. numpy = "2.3.5"'})
    refusals: Mapping[str, str] = field(default_factory=dict)

    def python(self, cell: Cell) -> PythonKind:
        return "venv" if cell.venv else "system"

    def package(self, cell: Cell) -> str:
        return f"numpy{cell.numpy or ''}"

    def asks_for(self, cell: Cell) -> str:
        return f"numpy{cell.numpy or ''}{' (binary only)' if cell.only_binary else ''}"

    def not_installed(self, cell: Cell) -> str:
        return f"{cell.numpy or 'latest'}".lstrip("=")


@dataclass(frozen=True, kw_only=True)
class Apt:
    """Debian's python3-numpy and the BLAS it depends on; `packages`/`requirements` go into a venv that sees it."""

    name: str = "apt"
    template: str = "apt.Dockerfile.j2"
    apt_packages: tuple[str, ...] = ("python3-numpy",)
    keys: tuple[str, ...] = ()
    package_keys: tuple[str, ...] = _PIP_INDEX_KEYS
    required: Mapping[str, str] = field(default_factory=dict)
    refusals: Mapping[str, str] = field(default_factory=lambda: {"numpy": "apt cells take the suite's python3-numpy"})

    def python(self, cell: Cell) -> PythonKind:
        return "venv" if _has_packages(cell) else "system"

    def package(self, cell: Cell) -> str:
        return "python3-numpy"

    def asks_for(self, cell: Cell) -> str:
        return "Debian's python3-numpy"

    def not_installed(self, cell: Cell) -> str:
        return "python3-numpy"


# The one list of install methods, in the order error messages name them; the first is a cell's default.
METHODS: dict[str, InstallMethod] = {m.name: m for m in (Pip(), Apt())}
DEFAULT: InstallName = "pip"
assert tuple(METHODS) == get_args(InstallName), "InstallName and METHODS must name the same methods"
assert next(iter(METHODS)) == DEFAULT


def method(name: str) -> InstallMethod:
    """The method a cell's `install` names; an unknown one is an error, never some other method."""
    if name not in METHODS:
        raise ConfigError(f"unknown install method {name!r}; one of {', '.join(METHODS)}")
    return METHODS[name]


def method_keys() -> tuple[str, ...]:
    """Every key some method reads, each once, in the order the methods declare them."""
    keys = (k for m in METHODS.values() for k in (*m.keys, *m.package_keys, *m.required))
    return tuple(dict.fromkeys(keys))


def reads(m: InstallMethod, cell: Cell) -> tuple[str, ...]:
    """The method-specific keys `m` reads for this cell."""
    return (*m.keys, *(m.package_keys if _has_packages(cell) else ()), *m.required)


def refusal(m: InstallMethod, key: str) -> str:
    """Why a cell installed by `m` may not set `key`, and what to do instead."""
    always = [o.name for o in METHODS.values() if o is not m and key in (*o.keys, *o.required)]
    users = always + [o.name for o in METHODS.values() if o is not m and key in o.package_keys]
    instead = f' or use install = "{users[0]}"' if users else ""
    if key in m.refusals:
        return f"{m.refusals[key]}; remove {key}{instead}"
    if key in m.package_keys:
        why = f"{_article(m.name)} {m.name} cell uses it only for its `packages` or `requirements`"
    else:
        why = f"only {' and '.join(users)} cells use it"  # `users` is never empty: `key` is a method key
    return f"{why}; remove it{instead}"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
