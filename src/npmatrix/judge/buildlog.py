"""The line of a failed image build that says why it failed, and what that cause asks of the user. Pure.

A failed pip source build prints hundreds of lines, many with "error" in them ("error: subprocess-exited-
with-error", "ERROR: Failed building wheel", "note: This error originates from a subprocess"): pip's
summaries of a failure whose cause sits further up, in meson's, the compiler's or pip's own words. `key_line`
finds that cause; the rules below come from real build logs (tests/data/buildlogs) and are tried most specific
first. Nothing here reads files or the engine: classify calls it on a build's captured output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# BuildKit's plain progress prefixes each line of a step: "#7 12.34 ". pip indents a build backend's output.
_STEP_PREFIX = re.compile(r"^#\d+ [\d.]+ ?")

_NO_COMPILER_FIX = (
    "install a wheel instead of building one: pin a NumPy release with a wheel for this Python and platform "
    "(only_binary = true makes pip refuse source builds), use Debian's python3-numpy, or on Raspberry Pi OS "
    "piwheels; to build from source anyway, apt-get install gcc g++ python3-dev (hours under QEMU)"
)


@dataclass(frozen=True, kw_only=True)
class KeyLine:
    """Why a build failed: the log's own line (prefix stripped), what it means, and what to do."""

    line: str
    cause: str
    fix: str
    quote: str  # the log's whole line, BuildKit's step prefix included: evidence, as found


@dataclass(frozen=True, kw_only=True)
class _Rule:
    pattern: re.Pattern[str]
    cause: str
    fix: str


_RULES = (
    _Rule(
        pattern=re.compile(
            r"ERROR: Could not find a version that satisfies the requirement \S+.*|"
            r"ERROR: No matching distribution found for \S+"
        ),
        cause="pip found no release of a requirement that fits this Python and platform",
        fix="check the requirement's name and version; if it comes from your own wheels, name their folder "
        "(find_links) or the index that has them (extra_index_url)",
    ),
    _Rule(
        pattern=re.compile(r"error: externally-managed-environment"),
        cause="pip refused to install into Debian's system Python (PEP 668: the environment is externally "
        "managed by apt)",
        fix="install into a venv (python3 -m venv --system-site-packages ~/venv, then ~/venv/bin/pip), use Debian's "
        "packages (apt install python3-numpy), or, at the risk of breaking apt's Python, pip install "
        "--break-system-packages",
    ),
    _Rule(
        pattern=re.compile(
            r"(?:Killed signal terminated program \S+|cc1\S*: out of memory.*|virtual memory exhausted.*)"
        ),
        cause="the compiler ran out of memory during a source build",
        fix="install a wheel instead of building one, or give the build more memory (a Pi's 1 GB is not enough "
        "for NumPy's C++ sources): add swap or build elsewhere",
    ),
    _Rule(
        pattern=re.compile(r"ERROR: Unknown compiler\(s\): .*"),
        cause="there is no C compiler (meson found none of cc, gcc, clang)",
        fix=_NO_COMPILER_FIX,
    ),
    _Rule(
        pattern=re.compile(
            r"error: command '[^']*(?:gcc|cc|g\+\+|c\+\+|clang)' failed: No such file or directory|"
            r"(?:RuntimeError: )?Broken toolchain: cannot link a simple C program"
        ),
        cause="there is no C compiler",
        fix=_NO_COMPILER_FIX,
    ),
    _Rule(
        pattern=re.compile(r"fatal error: Python\.h: No such file or directory"),
        cause="Python's C headers are missing (python3-dev)",
        fix="install a wheel instead of building one, or apt-get install python3-dev before building from source",
    ),
    _Rule(
        pattern=re.compile(r"(?:Did not find CMake '?cmake'?|CMake must be installed to build from source.*)"),
        cause="CMake is missing",
        fix="install a wheel instead of building one, or apt-get install cmake (or pip install cmake) first",
    ),
    _Rule(
        pattern=re.compile(r"ERROR: Dependency \"?[\w.+-]+\"? not found.*|Run-time dependency \S+ found: NO.*"),
        cause="a library the build needs is missing",
        fix="install a wheel instead of building one, or install the library's -dev package (apt) before building",
    ),
    _Rule(
        pattern=re.compile(r"ERROR: Problem encountered: .*|meson\.build:\d+:\d+: ERROR: .*"),
        cause="meson stopped the build",
        fix="install a wheel instead of building one; to build, read meson's message and the build log",
    ),
    _Rule(
        pattern=re.compile(r"\S+\.(?:c|cc|cpp|h|hpp|pyx):\d+(?::\d+)?: (?:fatal )?error: .*"),
        cause="the compiler rejected the source",
        fix="install a wheel instead of building one; a release this old may not build with this compiler or Python",
    ),
)


def key_line(log: str) -> KeyLine | None:
    """The first line (in rule order) that says why the build failed; None when no rule knows the log."""
    lines = [(_STEP_PREFIX.sub("", raw).strip(), raw.strip()) for raw in log.splitlines()]
    for rule in _RULES:
        for line, raw in lines:
            found = rule.pattern.search(line)
            if found:
                return KeyLine(line=found.group(0).strip(), cause=rule.cause, fix=rule.fix, quote=raw)
    return None


# pip announces a source build in one of these ways, whatever the backend (meson-python, setuptools, ...).
_SOURCE_BUILD = re.compile(
    r"(?:Building wheel for (?P<wheel>[\w.-]+) \(|Preparing metadata \(pyproject\.toml\)|"
    r"Installing build dependencies|Getting requirements to build wheel|"
    r"Running setup\.py install for (?P<setup>[\w.-]+))"
)
_SDIST = re.compile(
    r"(?:Downloading|Collecting|Using cached) (?:\S*/)?"
    r"(?P<name>[A-Za-z0-9_.]+?)-(?P<version>\d[\w.]*)\.(?:tar\.gz|zip)\b"
)


@dataclass(frozen=True, kw_only=True)
class SourceBuild:
    """pip was building a project from its source distribution: which one, when the log names it."""

    project: str | None
    version: str | None

    @property
    def label(self) -> str:
        if self.project and self.version:
            return f"{self.project} {self.version}"
        return self.project or "a package"


def source_build(log: str) -> SourceBuild | None:
    """Whether pip built (or was building) something from source, and what: the last sdist the log names."""
    lines = [_STEP_PREFIX.sub("", raw).strip() for raw in log.splitlines()]
    if not any(_SOURCE_BUILD.search(line) for line in lines):
        return None
    sdists = [m for line in lines if (m := _SDIST.search(line))]
    if sdists:
        return SourceBuild(project=sdists[-1].group("name"), version=sdists[-1].group("version"))
    named = [m.group("wheel") or m.group("setup") for line in lines if (m := _SOURCE_BUILD.search(line))]
    project = next((n for n in reversed(named) if n), None)
    return SourceBuild(project=project, version=None)
