"""Matrix files: parse, validate and expand into cells, before anything touches an engine.

A matrix file is TOML with four optional parts:

    [defaults]            # keys every cell starts from
    suite = "bookworm"

    [[cell]]              # named, explicit cells
    name = "colab-like"
    platform = "amd64"
    numpy = "2.3.5"

    [engine_for]          # platforms built and run on another engine (a docker context or a URL)
    arm64 = "ssh://pi@raspberrypi"

    [axes]                # the product of list-valued keys, like a CI matrix
    name = "np{numpy}-{platform}"
    platform = ["amd64", "arm64"]
    numpy = ["1.26.4", "2.3.5"]
    exclude = [{ platform = "arm64", numpy = "1.26.4" }]
    include = [{ platform = "arm/v7", numpy = "1.26.4", expect = "no-wheel" }]

`include` entries that match existing combinations on all their axis keys extend them; others add a cell.
Every key is checked here; an unknown one gets a "did you mean".

Built-in matrices ship in the package (matrices/*.toml; the checkout's top-level matrix/ links there) and are
named `builtin:NAME` wherever a matrix's source is shown. `resolve` says which one `--matrix` means.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from npmatrix import fileio
from npmatrix.config import boards, install, localinputs, project, validators
from npmatrix.config import engine_choice as engines
from npmatrix.config.localinputs import LocalInput
from npmatrix.config.platforms import CpuModel, presets
from npmatrix.config.project import ProjectInput
from npmatrix.errors import ConfigError
from npmatrix.text import did_you_mean
from npmatrix.verdict import Status

OsName = Literal["debian", "raspios"]
OS_NAMES: tuple[str, ...] = get_args(OsName)


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One cell of the matrix: where NumPy is installed, how, and what we expect of it."""

    name: str
    platform: str
    suite: str = "bookworm"
    install: install.InstallName = install.DEFAULT  # a name in install.METHODS
    numpy: str | None = None  # a pip version specifier; apt cells take the suite's python3-numpy
    only_binary: bool = True  # refuse source builds: an sdist build under QEMU takes hours
    pip: str | None = None  # upgrade/downgrade pip first, e.g. "==20.2.4"
    packages: tuple[str, ...] = ()  # more pip requirements installed with NumPy
    # The user's own stack: a requirements file and a folder of wheels, resolved against the matrix file's
    # folder and read when the matrix is loaded (localinputs.py); pip installs them with NumPy, in one step.
    requirements: LocalInput | None = None
    find_links: LocalInput | None = None
    apt: tuple[str, ...] = ()  # more Debian packages
    apt_remove: tuple[str, ...] = ()  # Debian packages removed afterwards, dependencies or not (to break things)
    index_url: str | None = None
    extra_index_url: tuple[str, ...] = ()
    system_site_packages: bool = False
    # false: pip installs into Debian's own Python, as `pip install` without a venv does; since bookworm
    # Debian refuses that (PEP 668, "externally-managed-environment"): a cell that shows the refusal.
    venv: bool = True
    base_image: str | None = None  # an image pinned by digest, instead of a Debian base we build
    # A root filesystem tarball (Raspberry Pi OS's own 32-bit userland, made from its image: docs/boards.md) the
    # base image is made of instead of Debian's packages: read and hashed when the matrix is loaded, as
    # `requirements` is; the hash is in the base image's tag, so a changed tarball makes a new base.
    rootfs: LocalInput | None = None
    cpu: str | None = None  # a CPU model: a preset (pi1..pi5, x86-64-v1, colab) or the matrix's own [cpu.NAME]
    imports: tuple[str, ...] = ()  # more modules the probe imports after NumPy
    expect: Status = Status.OK
    timeout: int = 300  # seconds for probe and benchmark together
    build_timeout: int = 1800
    memory: str = "2g"  # the probe container's memory limit (Docker's mem_limit): GEMM n=1024 needs ~100 MB
    tmp_size: str = "64m"  # the probe container's tmpfs on /tmp; a board sets Pi OS's (pip unpacks there)
    board: str | None = None  # a Raspberry Pi board of data/boards.toml: sets cpu, memory and tmp_size unless given
    # The operating system the cell models: "debian", or "raspios", Raspberry Pi OS, whose pip also asks piwheels
    # (its /etc/pip.conf; plan/raspios.py). The userland is Debian's either way: the one we can build from.
    os: OsName = "debian"
    piwheels_index: str | None = None  # where a raspios cell's pip.conf points; None: piwheels itself
    pids: int = 512  # the probe container's process limit: the probe and its children need a few dozen
    note: str = ""
    source: str = ""  # where a mirrored environment's pins come from, and when they were last true
    # The user's own project and its tests (config/project.py), as cibuildwheel's test-command/test-requires:
    # the project is copied into the image and installed by pip with NumPy, in the same resolver run; the
    # command runs after the probe, in a locked-down container of the image.
    project: ProjectInput | None = None
    test_command: str | None = None
    test_requires: tuple[str, ...] = ()
    test_timeout: int = 600
    # Derived, not a key: the model `cpu` names, resolved when the matrix is read (a matrix's own [cpu.NAME]
    # tables live only in its file, so the cell carries the model to plan, classify and results.json).
    cpu_model: CpuModel | None = None
    # Derived: the matrix's top-level `test_skip` names this cell, so its results say its tests were skipped.
    test_skipped: bool = False

    @property
    def cpu_spec(self) -> CpuModel | None:
        """The CPU model this cell runs as: its own, or the preset its `cpu` names."""
        if self.cpu_model is not None:
            return self.cpu_model
        return presets().cpus[self.cpu] if self.cpu else None

    @property
    def board_profile(self) -> boards.Board | None:
        """The board this cell models; its page size and DP peak are read from here, never copied."""
        return boards.board(self.board) if self.board else None

    @property
    def pi(self) -> boards.Board | None:
        """The Raspberry Pi this cell models: its board, else the first board with the CPU model it names
        (`cpu = "pi5"` alone is a Pi 5 too: its 16K pages and its kernel apply)."""
        if self.board:
            return boards.board(self.board)
        return next((b for b in boards.profiles().boards.values() if self.cpu and b.cpu == self.cpu), None)


Checker = Callable[[Any], Any]


def _str(check: Callable[[str], str] | None = None) -> Checker:
    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        return check(value) if check else value

    return convert


def _str_list(check: Callable[[str], str]) -> Checker:
    def convert(value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise ValueError("expected a string or a list of strings")
        return tuple(check(v) for v in items)

    return convert


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _seconds(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 86400:
        raise ValueError(f"expected whole seconds between 1 and 86400, got {value!r}")
    return value


def _choice(options: Callable[[], Iterable[str]], what: str) -> Checker:
    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        allowed = list(options())
        if value not in allowed:
            raise ValueError(
                f"unknown {what} {value!r}{did_you_mean(str(value), allowed)}; one of {', '.join(allowed)}"
            )
        return str(value)

    return convert


def _pids(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 16 <= value <= 65536:
        raise ValueError(f"expected a process limit between 16 and 65536, got {value!r}")
    return value


def _expect(value: Any) -> Status:
    allowed = [s.value for s in Status if s is not Status.ENGINE_ERROR]
    if value not in allowed:
        raise ValueError(f"unknown status {value!r}{did_you_mean(str(value), allowed)}; one of {', '.join(allowed)}")
    return Status(value)


_CHECKS: dict[str, Checker] = {
    "name": _str(validators.cell_name),
    "platform": _choice(lambda: presets().platforms, "platform"),
    "suite": _choice(lambda: presets().suites, "Debian suite"),
    "install": _choice(lambda: install.METHODS, "install method"),
    "numpy": _str(validators.version_spec),
    "only_binary": _bool,
    "pip": _str(validators.version_spec),
    "packages": _str_list(validators.requirement),
    "requirements": _str(localinputs.path_value),  # a path here; _resolve_local_inputs reads it
    "find_links": _str(localinputs.path_value),
    "apt": _str_list(validators.apt_package),
    "apt_remove": _str_list(validators.apt_package),
    "index_url": _str(validators.index_url),
    "extra_index_url": _str_list(validators.index_url),
    "system_site_packages": _bool,
    "venv": _bool,
    "base_image": _str(validators.image_by_digest),
    "rootfs": _str(localinputs.path_value),  # a path here; _resolve_local_inputs reads it
    "cpu": _str(),  # checked in _make_cell against the presets and the matrix's own [cpu.NAME] tables
    "imports": _str_list(validators.module_name),
    "expect": _expect,
    "timeout": _seconds,
    "build_timeout": _seconds,
    "memory": _str(validators.memory_limit),
    "tmp_size": _str(validators.memory_limit),
    "board": _choice(lambda: boards.profiles().boards, "board"),
    "os": _choice(lambda: OS_NAMES, "os"),
    "piwheels_index": _str(validators.index_url),
    "pids": _pids,
    "note": _str(validators.plain_text),
    "source": _str(validators.plain_text),
    "project": _str(localinputs.path_value),  # a path here; _resolve_local_inputs reads it
    "test_command": _str(project.test_command),
    "test_requires": _str_list(validators.requirement),
    "test_timeout": _seconds,
}
_DERIVED = ("cpu_model", "test_skipped")  # Cell fields npmatrix fills in, never keys of a matrix file
assert set(_CHECKS) == {f.name for f in fields(Cell)} - set(_DERIVED), "every Cell field needs a checker"
_UNSET = {f.name: f.default for f in fields(Cell)}  # a key equal to its default counts as not set
assert set(install.method_keys()) <= set(_CHECKS), "an install method declares a key the matrix does not have"

_TOP_KEYS = ("defaults", "cell", "axes", "cpu", "engine_for", "test_skip")
_CPU_KEYS = ("description", "qemu", "note")
# Bounds on what a matrix file may ask for (README, "Matrix files"): a file larger than this is not a matrix,
# and an axes product this big is a typo, not a plan (10^6 cells took 45 s and 800 MB before a single build).
MAX_FILE_BYTES = 1024 * 1024
MAX_CELLS = 1000
BUILTIN = "builtin:"  # the source of a built-in matrix is builtin:NAME; --matrix accepts that spelling too
LOCAL_DEFAULT = "matrix/default.toml"  # used without --matrix when the working directory has it
# A Python project keeps its tools' settings in pyproject.toml (as cibuildwheel's [tool.cibuildwheel]): there, the
# [tool.npmatrix] table is a matrix, used without --matrix too, and `--matrix pyproject.toml` reads that table.
PYPROJECT = "pyproject.toml"
_AXES_EXTRA_KEYS = ("include", "exclude")


@dataclass(frozen=True, kw_only=True)
class Matrix:
    source: str
    cells: tuple[Cell, ...]
    # [engine_for]: platform -> engine (a docker context name or a unix:// tcp:// ssh:// URL), as --engine-for
    engine_for: Mapping[str, str] = field(default_factory=dict)

    def select(self, *, arches: Iterable[str] = (), names: Iterable[str] = ()) -> Matrix:
        """The cells on any of `arches` and matching any of `names` (shell-style globs); empty means all."""
        arches, names = list(arches), list(names)
        for arch in arches:
            if arch not in presets().platforms:
                known = list(presets().platforms)
                raise ConfigError(
                    f"unknown platform {arch!r}{did_you_mean(arch, known)}; one of {', '.join(known)}", where="--arch"
                )
        for pattern in names:
            if not any(fnmatch.fnmatchcase(c.name, pattern) for c in self.cells):
                known = [c.name for c in self.cells]
                raise ConfigError(f"no cell named {pattern!r}{did_you_mean(pattern, known)}", where=self.source)
        cells = tuple(
            c
            for c in self.cells
            if (not arches or c.platform in arches)
            and (not names or any(fnmatch.fnmatchcase(c.name, p) for p in names))
        )
        if not cells:
            raise ConfigError("no cell matches the filters (--arch/--cell)", where=self.source)
        return Matrix(source=self.source, cells=cells, engine_for=self.engine_for)


def builtin_names() -> tuple[str, ...]:
    """The matrices that ship in the package, by name: `--matrix gallery`."""
    folder = resources.files("npmatrix").joinpath("matrices")
    return tuple(sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")))


def resolve(spec: str | None, *, cwd: Path) -> str:
    """The source `--matrix SPEC` means when run in `cwd`: a file path as given, or builtin:NAME.

    No SPEC: ./matrix/default.toml when `cwd` has one (a checkout, or a project that ran `npmatrix init`), or
    ./pyproject.toml when it has a [tool.npmatrix] table (both: refused, as ambiguous), else the built-in
    default. A SPEC with a '/', ending in .toml, or naming an existing file is a file; any other
    (or builtin:NAME) is a built-in name, checked here.
    """
    if spec is None:
        return _local_default(cwd)
    if not spec.startswith(BUILTIN) and ("/" in spec or spec.endswith(".toml") or fileio.is_file(cwd / spec)):
        return spec
    name, known = spec.removeprefix(BUILTIN), builtin_names()
    if name not in known:
        raise ConfigError(
            f"no built-in matrix {name!r}{did_you_mean(name, known)}; the built-in ones are {', '.join(known)} "
            "(a path to a file needs a '/' or a .toml ending)",
            where="--matrix",
        )
    return f"{BUILTIN}{name}"


def _local_default(cwd: Path) -> str:
    local, project = fileio.is_file(cwd / LOCAL_DEFAULT), _has_tool_table(cwd / PYPROJECT)
    if local and project:
        raise ConfigError(
            f"both {LOCAL_DEFAULT} and {PYPROJECT}'s [tool.npmatrix] are here: name one with --matrix", where="--matrix"
        )
    return LOCAL_DEFAULT if local else PYPROJECT if project else f"{BUILTIN}default"


def _has_tool_table(path: Path) -> bool:
    """Whether a pyproject.toml has [tool.npmatrix]. A broken pyproject.toml is npmatrix's problem only when
    it mentions npmatrix: other tools' files must not stop a run that never asked for them."""
    if not fileio.is_file(path):
        return False
    text = _read(path, source=PYPROJECT)
    try:
        return "npmatrix" in tomllib.loads(text).get("tool", {})
    except (tomllib.TOMLDecodeError, RecursionError, TypeError):
        if "npmatrix" in text:
            raise ConfigError(
                "invalid TOML, and it mentions npmatrix: fix it, or name a matrix with --matrix", where=str(path)
            ) from None
        return False


def load_spec(spec: str | None, *, cwd: Path) -> Matrix:
    """The matrix `--matrix SPEC` names (see `resolve`), parsed and validated."""
    source = resolve(spec, cwd=cwd)
    if source.startswith(BUILTIN):
        text = resources.files("npmatrix").joinpath(f"matrices/{source.removeprefix(BUILTIN)}.toml").read_text()
        return loads(text, source=source)
    return loads(_read(cwd / source, source=source), source=source)


def load(path: Path) -> Matrix:
    return loads(_read(path, source=str(path)), source=str(path))


def loads(text: str, *, source: str) -> Matrix:
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError(f"is larger than {MAX_FILE_BYTES // 1024} KiB; a matrix file is a few KiB", where=source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", where=source) from None
    except RecursionError:
        # tomllib recurses once per nested array or inline table: a few hundred levels exhaust the stack.
        raise ConfigError("invalid TOML: arrays or tables nested too deeply", where=source) from None
    if Path(source).name == PYPROJECT:
        raw = _tool_table(raw, source=source)
    return parse(raw, source=source)


def _tool_table(raw: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """The [tool.npmatrix] table of a pyproject.toml: the matrix, with the same keys as a matrix file."""
    tool = _table(raw.get("tool", {}), where=f"{source}: tool")
    if "npmatrix" not in tool:
        raise ConfigError("has no [tool.npmatrix] table; `npmatrix init --pyproject` adds a starter one", where=source)
    return _table(tool["npmatrix"], where=f"{source}: tool.npmatrix")


def starter_text() -> str:
    """The commented matrix `npmatrix init` writes: valid as it is, a start to edit."""
    return resources.files("npmatrix").joinpath("data/starter.toml").read_text()


def starter_pyproject_text() -> str:
    """The starter matrix as a [tool.npmatrix] table, for `npmatrix init --pyproject` to append to a pyproject.toml.

    The same text as `starter_text`, its header for a project and each table moved under tool.npmatrix (also the
    commented-out ones, so that uncommenting them still works).
    """
    body = starter_text().split("\n\n", 1)[1]
    body = re.sub(r"^(# )?\[(\[?)(\w)", r"\1[\2tool.npmatrix.\3", body, flags=re.M)
    body = re.sub(r"^(\[\[?[\w.]+\]\]?) +#", r"\1  #", body, flags=re.M)  # the longer names' comments
    body = body.replace("one [[cell]]", "one [[tool.npmatrix.cell]]").replace("[cpu.", "[tool.npmatrix.cpu.")
    header = (
        "# npmatrix's matrix for this project: `npmatrix run` in this directory uses it (npmatrix list shows its\n"
        "# cells; --matrix pyproject.toml names it). Its keys are a matrix file's (npmatrix's manual: Matrix files).\n"
    )
    return header + body


def _read(path: Path, *, source: str) -> str:
    """The file's text, read with a bound: `--matrix /dev/zero` must end with an error, not out of memory."""
    data = fileio.read_limited(
        path,
        MAX_FILE_BYTES,
        where=source,
        cannot_read="cannot read matrix file",
        too_large=f"is larger than {MAX_FILE_BYTES // 1024} KiB; a matrix file is a few KiB",
    )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"line {line}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); TOML files are UTF-8",
            where=source,
        ) from None


def parse(raw: Mapping[str, Any], *, source: str = "<matrix>") -> Matrix:
    _reject_unknown(raw, _TOP_KEYS, where=source)
    defaults = _table(raw.get("defaults", {}), where=f"{source}: defaults")
    _reject_unknown(defaults, [k for k in _CHECKS if k != "name"], where=f"{source}: defaults")
    entries = [(f"cell[{i}]", dict(e)) for i, e in enumerate(_array(raw.get("cell", []), where=f"{source}: cell"))]
    if "axes" in raw:
        entries += _expand_axes(_table(raw["axes"], where=f"{source}: axes"), where=f"{source}: axes")
    if len(entries) > MAX_CELLS:
        raise ConfigError(f"has {len(entries)} cells; at most {MAX_CELLS} are allowed", where=source)
    base_dir = _base_dir(source)
    cpus = {**presets().cpus, **_matrix_cpus(raw.get("cpu", {}), where=f"{source}: cpu")}
    cells = [
        _make_cell({**defaults, **entry}, where=f"{source}: {label}", base_dir=base_dir, cpus=cpus)
        for label, entry in entries
    ]
    if not cells:
        raise ConfigError("the matrix has no cells: add [[cell]] tables or an [axes] table", where=source)
    _reject_duplicates(cells, where=source)
    cells = _apply_test_skip(cells, raw.get("test_skip", []), where=f"{source}: test_skip")
    engine_for = _engine_for(_table(raw.get("engine_for", {}), where=f"{source}: engine_for"), where=source)
    return Matrix(source=source, cells=tuple(cells), engine_for=engine_for)


def _apply_test_skip(cells: list[Cell], raw: Any, *, where: str) -> list[Cell]:
    """test_skip = ["*-armv7", "pi1"]: the cells whose tests are not run (cibuildwheel's test-skip). A pattern
    that matches no cell is a typo, refused: a skip that skips nothing would let the tests run unnoticed."""
    try:
        patterns = _str_list(project.skip_pattern)(raw)
    except ValueError as exc:
        raise ConfigError(str(exc), where=where) from None
    names = [c.name for c in cells]
    for pattern in patterns:
        if not fnmatch.filter(names, pattern):
            raise ConfigError(f"{pattern!r} matches no cell{did_you_mean(pattern, names)}", where=where)
    return [
        replace(c, test_skipped=True) if any(fnmatch.fnmatchcase(c.name, p) for p in patterns) else c for c in cells
    ]


def _engine_for(table: Mapping[str, Any], *, where: str) -> dict[str, str]:
    """[engine_for] arm64 = "ssh://pi@host": checked as --engine-for checks PLATFORM=ENGINE."""
    checked = {}
    for platform, target in table.items():
        key = f"{where}: engine_for.{platform}"
        if not isinstance(target, str):
            raise ConfigError("expected a string: a docker context name or a unix://, tcp:// or ssh:// URL", where=key)
        checked[engines.check_platform(platform, where=key)] = engines.check_target(target, where=key)
    return checked


def _base_dir(source: str) -> Path:
    """The folder a matrix's relative paths (requirements, find_links) start from: the matrix file's own."""
    if source.startswith(BUILTIN):
        return Path(str(resources.files("npmatrix").joinpath("matrices")))
    return Path(source).parent


def _resolve_local_inputs(kwargs: dict[str, Any], *, base_dir: Path, where: str) -> None:
    """Replace the paths of `requirements`, `find_links`, `project` and `rootfs` by what they hold (read,
    checked, hashed)."""
    readers: dict[str, Callable[[Path], LocalInput | ProjectInput]] = {
        "requirements": lambda p: localinputs.read_requirements(p, where=f"{where}.requirements"),
        "find_links": localinputs.read_wheel_dir,
        "project": project.read_project,
        "rootfs": localinputs.read_rootfs,
    }
    for key, read in readers.items():
        if key in kwargs:
            path = Path(kwargs[key]).expanduser()
            try:
                resolved = (base_dir / path).resolve()
            except RuntimeError:  # what Path.resolve raises for a symlink loop (before Python 3.13)
                raise ConfigError(f"cannot resolve {path}: a symlink loop", where=f"{where}.{key}") from None
            except OSError as exc:  # ELOOP on 3.13, or a path too long
                raise ConfigError(f"cannot resolve {path}: {exc.strerror or exc}", where=f"{where}.{key}") from None
            try:
                kwargs[key] = read(resolved)
            except ValueError as exc:
                raise ConfigError(str(exc), where=f"{where}.{key}") from None


def _matrix_cpus(raw: Any, *, where: str) -> dict[str, CpuModel]:
    """A matrix's own CPU models: `[cpu.my-board]` with `qemu = { arm64 = "cortex-a53" }` (a QEMU model per
    platform, its syntax checked here and the model against `qemu-*-static -cpu help` by the preflight of `run`
    and `doctor`), an optional description and note."""
    models: dict[str, CpuModel] = {}
    for name, table in _table(raw, where=where).items():
        at = f"{where}.{name}"
        try:
            validators.cell_name(name)
        except ValueError as exc:
            raise ConfigError(f"not a CPU model name: {exc}", where=at) from None
        if name in presets().cpus:
            raise ConfigError(f"{name!r} is a built-in CPU model; give yours another name", where=at)
        table = _table(table, where=at)
        _reject_unknown(table, _CPU_KEYS, where=at)
        if "qemu" not in table:
            raise ConfigError("missing required key 'qemu', e.g. qemu = { arm64 = \"cortex-a53\" }", where=at)
        models[name] = CpuModel(
            name=name,
            description=_cpu_text(table, "description", where=at) or f"{name} (defined in the matrix)",
            qemu=_cpu_qemu(table["qemu"], where=f"{at}.qemu"),
            note=_cpu_text(table, "note", where=at),
        )
    return models


def _cpu_text(table: Mapping[str, Any], key: str, *, where: str) -> str:
    try:
        return str(_str(validators.plain_text)(table.get(key, "")))
    except ValueError as exc:
        raise ConfigError(str(exc), where=f"{where}.{key}") from None


def _cpu_qemu(raw: Any, *, where: str) -> dict[str, str]:
    table = _table(raw, where=where)
    if not table:
        raise ConfigError("names no platform; give a QEMU CPU model for at least one", where=where)
    models = {}
    for platform, model in table.items():
        known_platforms = list(presets().platforms)
        if platform not in known_platforms:
            raise ConfigError(
                f"unknown platform {platform!r}{did_you_mean(platform, known_platforms)}; "
                f"one of {', '.join(known_platforms)}",
                where=where,
            )
        try:
            # The syntax only: whether this machine's QEMU knows the model is the preflight's (app/preflight.py).
            models[platform] = validators.qemu_cpu(_str()(model))
        except ValueError as exc:
            raise ConfigError(str(exc), where=f"{where}.{platform}") from None
    return models


def _make_cell(
    raw: Mapping[str, Any], *, where: str, base_dir: Path = Path(), cpus: Mapping[str, CpuModel] | None = None
) -> Cell:
    label = f"{where} ({raw['name']})" if isinstance(raw.get("name"), str) else where
    _reject_unknown(raw, _CHECKS, where=label)
    for required in ("name", "platform"):
        if required not in raw:
            raise ConfigError(f"missing required key {required!r}", where=label)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            kwargs[key] = _CHECKS[key](value)
        except ValueError as exc:
            raise ConfigError(str(exc), where=f"{label}.{key}") from None
    _resolve_local_inputs(kwargs, base_dir=base_dir, where=label)
    if "board" in kwargs:
        kwargs = {**board_defaults(boards.board(kwargs["board"])), **kwargs}
    if "cpu" in kwargs:
        kwargs["cpu_model"] = _cpu_model(kwargs["cpu"], cpus or presets().cpus, where=f"{label}.cpu")
    cell = Cell(**kwargs)
    _check_consistency(cell, where=label)
    return cell


def board_defaults(profile: boards.Board) -> dict[str, Any]:
    """The keys a board sets; the cell's own keys win, so `board = "pi4"` with `memory = "4g"` is a 4 GB Pi 4."""
    values: dict[str, Any] = {"cpu": profile.cpu, "memory": profile.memory}
    if profile.tmp_tmpfs is not None:
        values["tmp_size"] = profile.tmp_tmpfs
    return values


def _cpu_model(name: str, cpus: Mapping[str, CpuModel], *, where: str) -> CpuModel | None:
    if name not in cpus:
        raise ConfigError(
            f"unknown CPU model {name!r}{did_you_mean(name, cpus)}; one of {', '.join(cpus)} "
            '(or define it: [cpu.NAME] with qemu = { PLATFORM = "MODEL" })',
            where=where,
        )
    # A preset stays a name: results.json then records what it always did, and the preset's data stays in one place.
    return None if name in presets().cpus else cpus[name]


def _check_consistency(cell: Cell, *, where: str) -> None:
    _check_install_keys(cell, where=where)
    if not cell.venv and cell.system_site_packages:
        raise ConfigError(
            "system_site_packages is a venv option, and venv = false installs into the system Python itself; "
            "remove one of them",
            where=f"{where}.system_site_packages",
        )
    if cell.rootfs is not None and cell.base_image is not None:
        raise ConfigError(
            "rootfs makes the cell's base image from your tarball and base_image names one already built; "
            "give one of them",
            where=f"{where}.rootfs",
        )
    _check_required_keys(cell, where=where)
    _check_test_keys(cell, where=where)
    _check_board(cell, where=where)
    _check_os(cell, where=where)
    spec = cell.cpu_spec
    if spec is not None and cell.platform not in spec.platforms:
        fits = ", ".join(spec.platforms)
        raise ConfigError(f"CPU model {cell.cpu!r} is for {fits}, not {cell.platform}", where=f"{where}.cpu")


def _check_test_keys(cell: Cell, *, where: str) -> None:
    """The test keys that would be ignored, or could not work, are refused rather than dropped."""
    if cell.test_command is None:
        for key in ("test_requires", "test_timeout"):
            if getattr(cell, key) != _UNSET[key]:
                raise ConfigError(f"{key} is for the tests test_command runs, and this cell has none", where=where)
    elif "{" + project.PLACEHOLDER + "}" in cell.test_command and cell.project is None:
        raise ConfigError('uses {project}, but the cell has no project = "PATH"', where=f"{where}.test_command")
    if cell.install != "pip":
        for key in ("project", "test_requires"):
            if getattr(cell, key) != _UNSET[key]:
                raise ConfigError(
                    f"{key} is installed by pip beside NumPy, and install = {cell.install!r} takes Debian's "
                    'python3-numpy from apt, with no pip step for it; use install = "pip"',
                    where=f"{where}.{key}",
                )


def _check_board(cell: Cell, *, where: str) -> None:
    profile = cell.board_profile
    if profile is None or cell.platform in profile.platforms:
        return
    # An ARMv6 board on Debian's armhf is let through: the plan says at once why it cannot run (cpu-unsupported).
    # With a rootfs it would run, so it must say what it is: an ARMv6 userland is platform arm/v6.
    if profile.armv6 and cell.platform == "arm/v7" and cell.rootfs is None:
        return
    runs = ", ".join(profile.platforms)
    hint = f' (a rootfs for it is platform = "{runs}")' if cell.rootfs is not None else ""
    raise ConfigError(f"board {cell.board!r} runs {runs}, not {cell.platform}{hint}", where=f"{where}.board")


def _check_os(cell: Cell, *, where: str) -> None:
    if cell.os == "raspios" and not cell.platform.startswith("arm"):
        raise ConfigError(f"Raspberry Pi OS runs on arm64, arm/v7 and arm/v6, not {cell.platform}", where=f"{where}.os")
    if cell.piwheels_index is not None and (cell.os != "raspios" or cell.install != "pip"):
        raise ConfigError(
            'is where Raspberry Pi OS\'s pip asks piwheels: it needs os = "raspios" and install = "pip"; for '
            "another index use extra_index_url",
            where=f"{where}.piwheels_index",
        )


def _check_install_keys(cell: Cell, *, where: str) -> None:
    """A key another install method reads but this cell's ignores is refused: set anyway, it would be silently
    ignored (an apt cell's `venv`, or its `index_url` with no `packages` to install)."""
    method = install.method(cell.install)
    read = install.reads(method, cell)
    for key in install.method_keys():
        if key not in read and getattr(cell, key) != _UNSET[key]:
            raise ConfigError(install.refusal(method, key), where=f"{where}.{key}")


def _check_required_keys(cell: Cell, *, where: str) -> None:
    method = install.method(cell.install)
    for key, what in method.required.items():
        if getattr(cell, key) == _UNSET[key]:
            raise ConfigError(f"a {method.name} cell needs {what}", where=f"{where}.{key}")


def _expand_axes(axes: Mapping[str, Any], *, where: str) -> list[tuple[str, dict[str, Any]]]:
    _reject_unknown(axes, [*_CHECKS, *_AXES_EXTRA_KEYS], where=where)
    template = axes.get("name")
    if not isinstance(template, str):
        raise ConfigError('needs a name template such as "np{numpy}-{platform}"', where=f"{where}.name")
    lists = {k: v for k, v in axes.items() if isinstance(v, list) and k not in _AXES_EXTRA_KEYS}
    fixed = {k: v for k, v in axes.items() if k not in lists and k not in (*_AXES_EXTRA_KEYS, "name")}
    fields_ = _template_fields(template, lists, where=f"{where}.name")
    _check_product_size(lists, where=where)
    combos = [dict(zip(lists, values_, strict=True)) for values_ in itertools.product(*lists.values())]
    for key in ("exclude", "include"):
        for i, entry in enumerate(_array(axes.get(key, []), where=f"{where}.{key}")):
            _reject_unknown(entry, _CHECKS, where=f"{where}.{key}[{i}]")
    for i, exclude in enumerate(_array(axes.get("exclude", []), where=f"{where}.exclude")):
        combos = _exclude(combos, exclude, lists, where=f"{where}.exclude[{i}]")
    for i, include in enumerate(_array(axes.get("include", []), where=f"{where}.include")):
        _include(combos, include, lists, fields_, where=f"{where}.include[{i}]")
    if len(combos) > MAX_CELLS:
        raise ConfigError(f"expands to {len(combos)} cells; at most {MAX_CELLS} are allowed", where=where)
    return [(f"axes[{i}]", {**fixed, **combo, "name": _render_name(template, combo)}) for i, combo in enumerate(combos)]


def _check_product_size(lists: Mapping[str, list[Any]], *, where: str) -> None:
    for key, values in lists.items():
        if not values:
            raise ConfigError("is an empty list; an axis needs at least one value", where=f"{where}.{key}")
    size = math.prod(len(v) for v in lists.values())
    if size > MAX_CELLS:
        shape = " x ".join(f"{len(v)} {k}" for k, v in lists.items())
        raise ConfigError(f"the product of the axes ({shape}) is {size} cells; at most {MAX_CELLS}", where=where)


def _exclude(
    combos: list[dict[str, Any]], exclude: Mapping[str, Any], lists: Mapping[str, Any], *, where: str
) -> list[dict[str, Any]]:
    if not exclude:
        raise ConfigError("is empty; name the axis values of the combinations to leave out", where=where)
    for key in exclude:
        if key not in lists:
            raise ConfigError(f"names {key!r}, which is not an axis ({', '.join(lists) or 'none'})", where=where)
    kept = [c for c in combos if not _matches(c, exclude)]
    if len(kept) == len(combos):
        raise ConfigError(f"matches no combination of the axes ({_describe(exclude)})", where=where)
    return kept


def _include(
    combos: list[dict[str, Any]],
    include: Mapping[str, Any],
    lists: Mapping[str, Any],
    fields_: Iterable[str],
    *,
    where: str,
) -> None:
    """GitHub Actions' rule: an entry whose axis values match combinations adds its other keys to them;
    one that matches none adds a cell. Entries that would do nothing, or everything, are refused."""
    if "name" in include:
        raise ConfigError("sets 'name', which the axes' name template makes; remove it", where=where)
    on_axes = {k: v for k, v in include.items() if k in lists}
    extra = {k: v for k, v in include.items() if k not in lists}
    if not on_axes:
        raise ConfigError(
            f"names no axis ({', '.join(lists) or 'none'}): say which combinations it extends, or give every axis "
            "to add a cell",
            where=where,
        )
    matched = [c for c in combos if _matches(c, on_axes)]
    if matched and not extra:
        raise ConfigError(f"adds nothing: {_describe(on_axes)} is already a combination", where=where)
    if matched:
        for combo in matched:
            combo.update(extra)
        return
    missing = [f for f in fields_ if f not in include]
    if missing:
        raise ConfigError(
            f"matches no combination, so it adds a cell, but gives no {', '.join(missing)} for the name template",
            where=where,
        )
    combos.append(dict(include))


def _describe(entry: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in entry.items())


def _template_fields(template: str, lists: Mapping[str, Any], *, where: str) -> list[str]:
    """The axes a name template uses. Only plain `{axis}` fields: a format spec (`{numpy:>9000000000}`), an
    attribute (`{numpy.upper}`, a memory address in a name) or an index (`{numpy[x]}`) is refused."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"not a name template: {exc}", where=where) from None
    found = []
    for _, field_name, spec, conversion in parsed:
        if field_name is None:
            continue
        if spec or conversion or not field_name.isidentifier():
            raise ConfigError(
                f"{{{field_name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} is not a plain "
                'axis field; use {axis} only, e.g. "np{numpy}-{platform}"',
                where=where,
            )
        if field_name not in lists:
            raise ConfigError(
                f"{{{field_name}}} is not an axis{did_you_mean(field_name, lists)}; axes: {', '.join(lists) or 'none'}",
                where=where,
            )
        found.append(field_name)
    return found


def _render_name(template: str, combo: Mapping[str, Any]) -> str:
    # Safe: _template_fields allowed only plain {axis} fields, and every combination has each of them.
    name = template.format(**{k: str(v) for k, v in combo.items()})
    # "np==2.3.5-arm/v7" -> "np-2.3.5-arm-v7": cell names end up in image tags and file names.
    return re.sub(r"[^a-z0-9._]+", "-", name.lower()).strip("-.")


def _matches(combo: Mapping[str, Any], pattern: Mapping[str, Any]) -> bool:
    return all(combo.get(k) == v for k, v in pattern.items())


def _reject_unknown(raw: Mapping[str, Any], known: Iterable[str], *, where: str) -> None:
    known = list(known)
    for key in raw:
        if key not in known:
            raise ConfigError(f"unknown key {key!r}{did_you_mean(key, known)}", where=where)


def _reject_duplicates(cells: list[Cell], *, where: str) -> None:
    seen: set[str] = set()
    for cell in cells:
        if cell.name in seen:
            raise ConfigError(f"two cells are named {cell.name!r}; names must be unique", where=where)
        seen.add(cell.name)


def _table(value: Any, *, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError("expected a table", where=where)
    return value


def _array(value: Any, *, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError("expected an array of tables", where=where)
    return value
