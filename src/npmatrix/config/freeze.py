"""A `pip freeze` as matrix cells: the same pins on other platforms, for "works here, fails there" on a whole
environment, not only NumPy.

Three pure steps, each testable on its own:

    parse_freeze(text)        -> Freeze       every line is a Pin PyPI can serve, an Unusable with a reason, or
                                              a comment/blank line
    convert(freeze, options)  -> Conversion   per platform: the pins a cell installs, and the ones it leaves out
                                              with a reason (data/freeze.toml says which and why)
    render(conversion)        -> str          matrix TOML whose header lists everything left out

Nothing of the freeze disappears silently: a package line is in a cell, or listed in the header with its reason.
Only `load` reads a file.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import shlex
import textwrap
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from npmatrix import fileio
from npmatrix.config import matrix, validators
from npmatrix.config.platforms import presets
from npmatrix.errors import ConfigError
from npmatrix.text import did_you_mean, one_line, shorten

# A pip freeze of a big environment (Colab's: 640 lines) is about 20 KiB; the bound stops /dev/zero.
MAX_FREEZE_BYTES = 4 * 2**20

DEFAULT_PLATFORMS = ("amd64", "arm64", "arm/v7")
DEFAULT_SUITE = "trixie"  # Python 3.13, as on Colab since 2026-08 (tests/data/colab/SOURCE.md)
NO_CPU = "none"  # --cpu PLATFORM=none: QEMU's default CPU (or the host's, on the host's own platform)
# pip's own rule for comments in requirement files: '#' at the start or after whitespace. A URL's '#sha256=...'
# fragment has none before it, so it stays.
_COMMENT = re.compile(r"(^|\s+)#.*$")
_WIDTH = 116
_MANY_PACKAGES = 50  # cells with more get an hour to build instead of the default half hour


# --- records ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Pin:
    """A package line PyPI can serve: the plain requirement a cell installs for it."""

    line: int  # 1-based line number in the freeze
    text: str  # the line as written
    name: str  # canonical (PEP 503)
    requirement: str  # checked by validators.requirement: the Dockerfile templates take nothing else
    rewritten: str = ""  # why `requirement` is not the line itself ("" when it is)

    @property
    def specifier(self) -> str:
        """The version part, such as '==2.1.3' ('' when the line has none)."""
        return str(Requirement(self.requirement).specifier)


@dataclass(frozen=True, kw_only=True)
class Unusable:
    """A line no platform can install from PyPI (a local file, a git checkout, -e, not a requirement)."""

    line: int
    text: str
    name: str | None  # canonical; None when the line names no package
    reason: str


@dataclass(frozen=True, kw_only=True)
class Freeze:
    path: str
    modified: str = ""  # the file's modification date (YYYY-MM-DD), for the default source
    pins: tuple[Pin, ...]
    unusable: tuple[Unusable, ...]

    def pin(self, name: str) -> Pin | None:
        return next((p for p in self.pins if p.name == name), None)


@dataclass(frozen=True, kw_only=True)
class Options:
    name: str  # cell name prefix: <name>-<platform slug>
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS
    suite: str = DEFAULT_SUITE
    cpus: Mapping[str, str] = field(default_factory=dict)  # platform -> CPU preset or NO_CPU, over the data's
    only: tuple[str, ...] = ()  # keep only these packages (numpy and pip are always kept)
    numpy: str | None = None  # the NumPy pin when the freeze has none, or instead of its own
    source: str | None = None  # each cell's `source`; None: the file's name and modification date


@dataclass(frozen=True, kw_only=True)
class LeftOut:
    pin: Pin
    reason: str


@dataclass(frozen=True, kw_only=True)
class FreezeCell:
    name: str
    platform: str
    settings: Mapping[str, Any]  # Cell keys from data/freeze.toml (cpu, only_binary, expect, note)
    packages: tuple[Pin, ...]
    left_out: tuple[LeftOut, ...]
    imports: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Conversion:
    freeze: Freeze
    options: Options
    source: str
    numpy: str  # a version specifier such as '==2.1.3'
    numpy_from: str  # where it came from, for a comment
    pip: Pin | None
    cells: tuple[FreezeCell, ...]
    unusable: tuple[Unusable, ...]  # the freeze's unusable lines, less those --only did not select
    unselected: tuple[Pin | Unusable, ...]  # left out of every cell by --only


# --- the data table --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LeaveOutRule:
    names: tuple[str, ...]  # canonical names or shell globs
    platforms: tuple[str, ...] | None  # None: every platform
    reason: str

    def applies(self, name: str, platform: str) -> bool:
        on_platform = self.platforms is None or platform in self.platforms
        return on_platform and any(fnmatch.fnmatchcase(name, pattern) for pattern in self.names)


@dataclass(frozen=True, kw_only=True)
class Rules:
    cell_settings: Mapping[str, Mapping[str, Any]]  # platform -> Cell keys
    imports: Mapping[str, str]  # distribution -> module the probe imports
    leave_out: tuple[LeaveOutRule, ...]
    requires: Mapping[str, tuple[str, ...]]


@functools.cache
def rules() -> Rules:
    raw = tomllib.loads(resources.files("npmatrix").joinpath("data/freeze.toml").read_text())
    return Rules(
        cell_settings={k: dict(v) for k, v in raw["platform"].items()},
        imports=dict(raw["imports"]),
        leave_out=tuple(
            LeaveOutRule(
                names=tuple(r["names"]),
                platforms=tuple(r["platforms"]) if "platforms" in r else None,
                reason=r["reason"],
            )
            for r in raw["leave_out"]
        ),
        requires={k: tuple(v) for k, v in raw["requires"].items()},
    )


def why_left_out(name: str, platform: str) -> str | None:
    """Why PyPI cannot install `name` on `platform`, or None when it may."""
    found = _blocker(name, platform, seen=frozenset())
    if found is None:
        return None
    path, reason = found
    if not path:
        return reason
    through = f" (through {', '.join(path[:-1])})" if len(path) > 1 else ""
    return f"requires {path[-1]}{through}; {path[-1]}: {reason}"


def _blocker(name: str, platform: str, *, seen: frozenset[str]) -> tuple[list[str], str] | None:
    """The chain of requirements from `name` to a package a rule leaves out on `platform`, and that rule's reason."""
    for rule in rules().leave_out:
        if rule.applies(name, platform):
            return [], rule.reason
    for required in rules().requires.get(name, ()):
        if required in seen:
            continue
        found = _blocker(required, platform, seen=seen | {name})
        if found is not None:
            return [required, *found[0]], found[1]
    return None


# --- parse -----------------------------------------------------------------------------------------------------


def load(path: Path) -> Freeze:
    data = fileio.read_limited(
        path,
        MAX_FREEZE_BYTES,
        where=str(path),
        cannot_read="cannot read the freeze file",
        too_large=f"is larger than {MAX_FREEZE_BYTES // 2**20} MiB; a pip freeze is a few dozen KiB",
    )
    try:
        text = data.decode("utf-8")
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).date().isoformat()
    except OSError as exc:
        raise ConfigError(f"cannot read the freeze file: {exc.strerror}", where=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not a text file (UTF-8): {exc.reason} at byte {exc.start}", where=str(path)) from exc
    return parse_freeze(text, path=str(path), modified=modified)


def parse_freeze(text: str, *, path: str = "<freeze>", modified: str = "") -> Freeze:
    """Every line of `pip freeze` output: comments and blank lines are skipped, the rest is a Pin or Unusable."""
    pins: dict[str, Pin] = {}
    unusable: list[Unusable] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        entry = parse_line(raw, line=number)
        if isinstance(entry, Pin) and entry.name in pins:
            first = pins[entry.name].line
            entry = _unusable(entry, f"{entry.name} is listed again (first on line {first}); the first pin is used")
        if isinstance(entry, Pin):
            pins[entry.name] = entry
        elif entry is not None:
            unusable.append(entry)
    return Freeze(path=path, modified=modified, pins=tuple(pins.values()), unusable=tuple(unusable))


def parse_line(raw: str, *, line: int) -> Pin | Unusable | None:
    """One line of `pip freeze`; None for a comment or a blank line."""
    text = _COMMENT.sub("", raw).strip()
    if not text:
        return None
    if text.startswith(("-e ", "-e\t", "--editable")):
        return Unusable(line=line, text=text, name=None, reason="an editable install of a local checkout (-e)")
    if text.startswith("-"):
        return Unusable(line=line, text=text, name=None, reason="a pip option, not a package")
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        first = str(exc).splitlines()[0] if str(exc) else "unreadable"
        return Unusable(line=line, text=text, name=None, reason=f"not a requirement pip freeze writes ({first})")
    name = canonicalize_name(req.name)
    if req.marker is not None:
        reason = "has an environment marker, which pip freeze never writes; cells take plain requirements"
        return Unusable(line=line, text=text, name=name, reason=reason)
    if req.url is not None:
        return _from_url(req, line=line, text=text)
    return _pinned(req, line=line, text=text)


def _pinned(req: Requirement, *, line: int, text: str) -> Pin | Unusable:
    """`name==version`; a local version (+cpu, +cu128) loses its label: PyPI refuses local versions (PEP 440),
    so only the index that built it has it (download.pytorch.org for torch)."""
    specs = list(req.specifier)
    local = _local_label(specs[0].version) if len(specs) == 1 and specs[0].operator == "==" else None
    if local is None:
        return _checked(req, str(req), line=line, text=text)
    public = specs[0].version.split("+", 1)[0]
    rewritten = (
        f"the freeze pins {specs[0].version}: local versions (+{local}) exist only on the index that built them, "
        f"never on PyPI; PyPI's {public} instead, which may be another build of it"
    )
    return _checked(req, _requirement(req, public), line=line, text=text, rewritten=rewritten)


def _from_url(req: Requirement, *, line: int, text: str) -> Pin | Unusable:
    """`name @ URL`. A wheel's or sdist's file name carries its version: we ask PyPI for that version instead
    (the URL often fixes the platform, e.g. download.pytorch.org/whl/cpu/torch-...-manylinux_2_28_x86_64.whl).
    A local file or a VCS checkout cannot be fetched anywhere else."""
    url = req.url or ""
    parts = urlsplit(url)
    name = canonicalize_name(req.name)
    if parts.scheme == "file":
        reason = "a file on the machine that made the freeze; no other machine can fetch it"
        return Unusable(line=line, text=text, name=name, reason=reason)
    if "+" in parts.scheme:
        vcs = parts.scheme.split("+", 1)[0]
        reason = f"a {vcs} checkout, not a release on PyPI; cells install plain PyPI requirements only"
        return Unusable(line=line, text=text, name=name, reason=reason)
    filename = unquote(PurePosixPath(parts.path).name)
    version = _version_of_file(filename) if parts.scheme in ("http", "https") else None
    if version is None:
        reason = "a URL that is neither a wheel nor an sdist, so it names no version to ask PyPI for"
        return Unusable(line=line, text=text, name=name, reason=reason)
    rewritten = f"the freeze has a URL pin to {filename} on {parts.hostname}; PyPI's {version.public} instead"
    if version.local:
        rewritten += f", which may be another build of it (+{version.local} builds exist only on that index)"
    return _checked(req, _requirement(req, version.public), line=line, text=text, rewritten=rewritten)


def _version_of_file(filename: str) -> Version | None:
    try:
        return parse_wheel_filename(filename)[1]
    except InvalidWheelFilename:
        pass
    try:
        return parse_sdist_filename(filename)[1]
    except InvalidSdistFilename:
        return None


def _local_label(version: str) -> str | None:
    try:
        return Version(version).local
    except InvalidVersion:
        return None


def _requirement(req: Requirement, version: str) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}=={version}"


def _checked(req: Requirement, requirement: str, *, line: int, text: str, rewritten: str = "") -> Pin | Unusable:
    name = canonicalize_name(req.name)
    try:
        plain = validators.requirement(requirement)
    except ValueError as exc:
        return Unusable(line=line, text=text, name=name, reason=f"cells cannot take it: {exc}")
    return Pin(line=line, text=text, name=name, requirement=plain, rewritten=rewritten)


def _unusable(pin: Pin, reason: str) -> Unusable:
    return Unusable(line=pin.line, text=pin.text, name=pin.name, reason=reason)


# --- convert ---------------------------------------------------------------------------------------------------


def convert(freeze: Freeze, options: Options) -> Conversion:
    """The cells for `options.platforms`. Raises ConfigError for options the matrix would refuse."""
    _check_options(options)
    numpy, numpy_from = _numpy(freeze, options)
    only = _only(freeze, options.only)
    selected = [p for p in freeze.pins if p.name not in ("numpy", "pip") and (not only or p.name in only)]
    # A line that names no package (garbage) is reported whatever --only says: it may be a typo of one.
    unusable = [u for u in freeze.unusable if not only or u.name is None or u.name in only]
    everything: list[Pin | Unusable] = [*freeze.pins, *freeze.unusable]
    kept: list[Pin | Unusable] = [*selected, *unusable, *(p for p in freeze.pins if p.name in ("numpy", "pip"))]
    chosen = {e.line for e in kept}
    unselected = [e for e in everything if e.line not in chosen]
    return Conversion(
        freeze=freeze,
        options=options,
        source=options.source if options.source is not None else _default_source(freeze),
        numpy=numpy,
        numpy_from=numpy_from,
        pip=_pip(freeze),
        cells=tuple(_cell(platform, selected, options) for platform in options.platforms),
        unusable=tuple(unusable),
        unselected=tuple(unselected),
    )


def _pip(freeze: Freeze) -> Pin | None:
    """The freeze's pip becomes each cell's `pip` (installed first): pip's age decides which wheel tags it takes."""
    pin = freeze.pin("pip")
    return pin if pin is not None and pin.specifier else None


def _check_options(options: Options) -> None:
    _check_known(options.platforms, presets().platforms, what="platform", where="--platform")
    _check_known([options.suite], presets().suites, what="Debian suite", where="--suite")
    for platform, cpu in options.cpus.items():
        _check_cpu(platform, cpu, options.platforms)
    for platform in options.platforms:
        try:
            validators.cell_name(_cell_name(options.name, platform))
        except ValueError as exc:
            raise ConfigError(str(exc), where="--name") from None
    try:
        validators.plain_text(options.source or "")
    except ValueError as exc:
        raise ConfigError(f"the source text {exc}", where="--source") from None


def _check_known(values: Iterable[str], known: Iterable[str], *, what: str, where: str) -> None:
    known = list(known)
    for value in values:
        if value not in known:
            hint = did_you_mean(value, known)
            raise ConfigError(f"unknown {what} {value!r}{hint}; one of {', '.join(known)}", where=where)


def _check_cpu(platform: str, cpu: str, platforms: Iterable[str]) -> None:
    if platform not in platforms:
        raise ConfigError(f"{platform}={cpu}: {platform} is not one of the --platform values", where="--cpu")
    if cpu == NO_CPU:
        return
    cpus = presets().cpus
    if cpu not in cpus:
        known = [*cpus, NO_CPU]
        raise ConfigError(
            f"unknown CPU model {cpu!r}{did_you_mean(cpu, known)}; one of {', '.join(known)}", where="--cpu"
        )
    if platform not in cpus[cpu].platforms:
        raise ConfigError(f"CPU model {cpu!r} is for {', '.join(cpus[cpu].platforms)}, not {platform}", where="--cpu")


def _numpy(freeze: Freeze, options: Options) -> tuple[str, str]:
    if options.numpy is not None:
        try:
            return validators.version_spec(options.numpy), "--numpy"
        except ValueError as exc:
            raise ConfigError(str(exc), where="--numpy") from None
    pin = freeze.pin("numpy")
    if pin is not None and pin.specifier:
        return pin.specifier, f"line {pin.line} of the freeze"
    unusable = next((u for u in freeze.unusable if u.name == "numpy"), None)
    if unusable is not None:
        why = f"NumPy's line {unusable.line} is {unusable.reason}"
        raise ConfigError(f"{why}; give a NumPy pin with --numpy", where=freeze.path)
    raise ConfigError("the freeze pins no NumPy (no numpy==... line); give one with --numpy", where=freeze.path)


def _only(freeze: Freeze, only: Iterable[str]) -> set[str]:
    names: set[str] = {canonicalize_name(n) for n in only}
    known = {p.name for p in freeze.pins} | {u.name for u in freeze.unusable if u.name}
    unknown = sorted(names - known)
    if unknown:
        hint = did_you_mean(unknown[0], known)
        raise ConfigError(f"{unknown[0]!r} is not in the freeze{hint}", where="--only")
    return names


def _cell(platform: str, pins: Iterable[Pin], options: Options) -> FreezeCell:
    kept: list[Pin] = []
    left_out: list[LeftOut] = []
    for pin in pins:
        reason = why_left_out(pin.name, platform)
        if reason is None:
            kept.append(pin)
        else:
            left_out.append(LeftOut(pin=pin, reason=reason))
    settings = dict(rules().cell_settings.get(platform, {}))
    cpu = options.cpus.get(platform)
    if cpu == NO_CPU:
        settings.pop("cpu", None)
    elif cpu is not None:
        settings["cpu"] = cpu
    names = {p.name for p in kept}
    return FreezeCell(
        name=_cell_name(options.name, platform),
        platform=platform,
        settings=settings,
        packages=tuple(kept),
        left_out=tuple(left_out),
        imports=tuple(module for dist, module in rules().imports.items() if dist in names),
    )


def _cell_name(prefix: str, platform: str) -> str:
    return f"{prefix}-{presets().platforms[platform].slug}" if platform in presets().platforms else prefix


def name_from_path(path: Path) -> str:
    """A cell name prefix from a file name: 'Colab pip-freeze.txt' -> 'colab-pip-freeze'."""
    return re.sub(r"[^a-z0-9._]+", "-", path.stem.lower()).strip("-.")[:40] or "freeze"


def _default_source(freeze: Freeze) -> str:
    name = PurePosixPath(freeze.path).name
    text = f"pip freeze {name}, modified {freeze.modified}" if freeze.modified else f"pip freeze {name}"
    return one_line(text)


# --- render ----------------------------------------------------------------------------------------------------


def command_line(path: str, options: Options) -> str:
    """The command that makes this output again, options in a fixed order, defaults left out."""
    args = ["npmatrix", "freeze-to-matrix", path, "--name", options.name]
    if options.platforms != DEFAULT_PLATFORMS:
        args += [a for p in options.platforms for a in ("--platform", p)]
    if options.suite != DEFAULT_SUITE:
        args += ["--suite", options.suite]
    args += [a for p, cpu in options.cpus.items() for a in ("--cpu", f"{p}={cpu}")]
    if options.only:
        args += ["--only", ",".join(options.only)]
    if options.numpy is not None:
        args += ["--numpy", options.numpy]
    if options.source is not None:
        args += ["--source", options.source]
    return one_line(shlex.join(args))


def render(conversion: Conversion) -> str:
    """Matrix TOML for the conversion, checked by the matrix parser before it is returned."""
    text = "\n".join([*_header(conversion), "", *_defaults(conversion), *_cells(conversion)]) + "\n"
    # A bug here must not write a matrix `npmatrix run` refuses later: check it as `run` would.
    matrix.parse(tomllib.loads(text), source="<freeze-to-matrix output>")
    return text


def _header(c: Conversion) -> list[str]:
    total = len(c.freeze.pins) + len(c.freeze.unusable)
    lines = [
        "# Cells that install the pins of a pip freeze on other platforms: does this environment work there?",
        f"# Made by: {command_line(c.freeze.path, c.options)}",
        f"# From: {one_line(c.freeze.path)}; source: {c.source}",
        f"# {total} package lines: each is installed by the cells below or listed here with why it is left out.",
    ]
    rewritten = [p for p in c.freeze.pins if p.rewritten and any(p in cell.packages for cell in c.cells)]
    if rewritten:
        lines.append(f"# {len(rewritten)} pins are rewritten for PyPI; a comment above each says how.")
    lines += _left_out_lines(c)
    if c.unselected:
        lines.append(f"# Not selected (--only): {len(c.unselected)} more packages of the freeze; run without --only")
        lines.append("# to see what each platform would leave out of them.")
    return lines


def _left_out_lines(c: Conversion) -> list[str]:
    groups: dict[tuple[str, str], list[str]] = {}
    everywhere = _platforms_text(c.options.platforms, c.options.platforms)
    for u in c.unusable:
        text = shorten(one_line(u.text), 80, ellipsis="...")
        groups.setdefault((everywhere, u.reason), []).append(f"{text} (line {u.line})")
    for pin in c.freeze.pins:
        per_reason: dict[str, list[str]] = {}
        for cell in c.cells:
            for left in cell.left_out:
                if left.pin is pin:
                    per_reason.setdefault(left.reason, []).append(cell.platform)
        for reason, platforms in per_reason.items():
            groups.setdefault((_platforms_text(platforms, c.options.platforms), reason), []).append(pin.requirement)
    if not groups:
        return ["#", "# Left out: nothing."]
    lines = ["#", "# Left out:"]
    # Every platform first, then by platform and reason, so the same freeze always gives the same header.
    for where, reason in sorted(groups, key=lambda key: (key[0] != everywhere, key)):
        lines += _wrap(f"{where}: {reason}:", indent="#   ")
        lines += _wrap(", ".join(groups[where, reason]), indent="#     ")
    return lines


def _platforms_text(platforms: Iterable[str], chosen: Iterable[str]) -> str:
    platforms = list(platforms)
    return "on every platform" if set(platforms) == set(chosen) else f"on {', '.join(platforms)}"


def _defaults(c: Conversion) -> list[str]:
    python = presets().suites[c.options.suite].python
    lines = [
        "[defaults]",
        f"suite = {_toml(c.options.suite)}  # Python {python}",
        f"numpy = {_toml(c.numpy)}  # from {c.numpy_from}",
    ]
    if c.pip is not None:
        lines.append(f"pip = {_toml(c.pip.specifier)}  # the freeze's own pip: its age decides which wheels it takes")
    if max(len(cell.packages) for cell in c.cells) > _MANY_PACKAGES:
        lines.append("build_timeout = 3600  # a whole environment: gigabytes of wheels, and sdists to build")
    lines.append(f"source = {_toml(c.source)}")
    return lines


def _cells(c: Conversion) -> list[str]:
    lines: list[str] = []
    for cell in c.cells:
        lines += ["", "[[cell]]", f"name = {_toml(cell.name)}", f"platform = {_toml(cell.platform)}"]
        lines += [f"{key} = {_toml(value)}" for key, value in cell.settings.items()]
        if cell.imports:
            lines.append(f"imports = {_toml(list(cell.imports))}")
        lines.append("packages = [")
        for pin in cell.packages:
            if pin.rewritten:
                lines += _wrap(f"{pin.name}: line {pin.line}: {pin.rewritten}", indent="    # ")
            lines.append(f"    {_toml(pin.requirement)},")
        lines.append("]")
    return lines


def _wrap(text: str, *, indent: str) -> list[str]:
    return textwrap.wrap(
        text,
        width=_WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + "".join(_toml_char(c) for c in escaped) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {type(value).__name__}")


def _toml_char(c: str) -> str:
    if c.isprintable():
        return c
    code = ord(c)
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate has no TOML escape
        return "\\ufffd"
    return f"\\U{code:08x}" if code > 0xFFFF else f"\\u{code:04x}"
