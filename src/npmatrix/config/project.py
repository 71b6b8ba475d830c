"""The user's own project in a cell (`project`, `test_command`, `test_requires`, `test_timeout`, `test_skip`):
read once when the matrix is loaded, bounded, content-hashed; the hash goes into the cell's Dockerfile, so a
changed file rebuilds the image (as for `requirements` and `find_links`, config/localinputs.py).

The project is copied into the image (PROJECT_DIR), not bind-mounted for one step as a requirements file is:
its tests must be there when the test command runs in the probe container, after the build. What a build or a
checkout leaves beside the sources (.git, __pycache__, virtual environments, build/, dist/, *.egg-info) is
neither hashed nor copied: it would rebuild the image on every `git fetch`, and a stale build/ would be
installed instead of the sources.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from npmatrix.config import localinputs, validators
from npmatrix.text import did_you_mean

MAX_PROJECT_FILES = 5000
MAX_PROJECT_BYTES = 256 * 1024 * 1024  # all files together: a project's sources and tests, not its data
CONTEXT_NAME = "npmatrix-project"  # in the build context, beside Dockerfile
PROJECT_DIR = "/opt/npmatrix-project"  # in the image: what `{project}` in a test_command means
PLACEHOLDER = "project"
_SKIPPED_DIRS = (".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", "build", "dist")
_SKIPPED_GLOBS = ("*.egg-info", ".pytest_cache", ".mypy_cache", ".ruff_cache")
# At the project's top level only: what `npmatrix run` itself writes there (its default --out, the nightly's
# folder) when run in the project with project = ".". Hashed, results.json written at the start of the run
# would change the project under the run ("changed since the matrix was read") and rebuild every image.
_SKIPPED_AT_TOP = ("results", "nightly")
# Sources a compiler builds: a project holding one builds slowly under QEMU (the progress line says so).
_COMPILED = re.compile(r".+\.(?:c|cc|cpp|cxx|h|hpp|pyx|pxd|f|f90|f95|rs|cu)$", re.IGNORECASE)
_FIELD = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, kw_only=True)
class ProjectInput:
    """A project directory named by a matrix, resolved against the matrix file's folder."""

    path: str  # absolute
    sha256: str  # of the sorted (relative path, kind, content hash) list
    files: int  # how many files (and links) are copied
    compiled: bool  # it holds C, C++, Cython, Fortran or Rust sources

    @property
    def short(self) -> str:
        return self.sha256[:12]


def _skipped(name: str) -> bool:
    return name in _SKIPPED_DIRS or any(fnmatch.fnmatchcase(name, g) for g in _SKIPPED_GLOBS)


def _walk(root: Path) -> Iterator[Path]:
    """Every file and link under `root`, sorted, without the skipped folders; links are not followed."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        top = Path(folder) == root
        dirs[:] = sorted(
            d
            for d in dirs
            if not _skipped(d) and not (top and d in _SKIPPED_AT_TOP) and not Path(folder, d).is_symlink()
        )
        links = [d for d in os.listdir(folder) if Path(folder, d).is_symlink() and Path(folder, d).is_dir()]
        for name in sorted([*files, *links]):
            if not _skipped(name):
                yield Path(folder, name)


def read_project(path: Path) -> ProjectInput:
    """The project at `path`, hashed. ValueError (one line) if it is not a project or is too big."""
    if not path.is_dir():
        raise ValueError(f'{path}: not a directory (project names your project\'s folder, e.g. ".")')
    if not any((path / name).is_file() for name in ("pyproject.toml", "setup.py")):
        raise ValueError(f"{path}: has neither pyproject.toml nor setup.py, so pip cannot install it")
    digest, count, total, compiled = hashlib.sha256(), 0, 0, False
    for entry in _walk(path):
        count += 1
        if count > MAX_PROJECT_FILES:
            raise ValueError(
                f"{path}: holds more than {MAX_PROJECT_FILES} files (beside .git, build/, dist/ and the like); "
                "point project at the package's own folder"
            )
        relative = entry.relative_to(path).as_posix()
        if entry.is_symlink():
            digest.update(f"L {relative}\0{os.readlink(entry)}\n".encode())
            continue
        total += entry.stat().st_size
        if total > MAX_PROJECT_BYTES:
            raise ValueError(f"{path}: its files exceed {MAX_PROJECT_BYTES // 2**20} MiB together")
        digest.update(f"F {relative}\0{localinputs.file_sha256(entry)}\n".encode())
        compiled = compiled or bool(_COMPILED.fullmatch(entry.name))
    return ProjectInput(path=str(path), sha256=digest.hexdigest(), files=count, compiled=compiled)


def copy_into_context(context: Path, project: ProjectInput | None) -> None:
    """The project's files into the build context, checking they are still what the plan hashed."""
    if project is None:
        return
    source, target = Path(project.path), context / CONTEXT_NAME
    target.mkdir()
    for entry in _walk(source):
        copied = target / entry.relative_to(source)
        copied.parent.mkdir(parents=True, exist_ok=True)
        if entry.is_symlink():
            copied.symlink_to(os.readlink(entry))
        else:
            shutil.copyfile(entry, copied)
    if read_project(target).sha256 != project.sha256:
        raise ValueError(f"{project.path}: changed since the matrix was read; run again")


def test_command(value: str) -> str:
    """One line of shell, run by `sh -c` in the cell's locked-down container (never in a Dockerfile): plain
    text, and `{project}` the only placeholder, so a typo such as `{projct}` is an error, not a literal."""
    validators.plain_text(value)  # at most 500 characters: one line of shell
    if not value.strip():
        raise ValueError('is empty; give the command that runs your tests, e.g. "pytest {project}/tests"')
    for field in _FIELD.findall(value):
        if field != PLACEHOLDER:
            raise ValueError(
                f"{{{field}}} is not a placeholder{did_you_mean(field, [PLACEHOLDER])}; the only one is {{project}}"
            )
    return value


def expand(command: str) -> str:
    """The command with `{project}` replaced by where the project's copy lives in the image."""
    return command.replace("{" + PLACEHOLDER + "}", PROJECT_DIR)


def skip_pattern(value: str) -> str:
    """A `test_skip` entry: a shell-style glob of cell names, as cibuildwheel's test-skip."""
    validators.plain_text(value)
    if not re.fullmatch(r"[a-z0-9._*?\[\]!-]{1,100}", value):
        raise ValueError(f"{value!r} is not a glob of cell names (letters, digits, '.', '_', '-', '*', '?', [...])")
    return value
