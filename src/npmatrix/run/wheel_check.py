"""Ask the package index, from the host, whether it offers a NumPy wheel a cell could install: seconds, where
the emulated build that would find out takes minutes (see reuse.py for when this is asked).

`pip index versions` with the cell's Python, implementation, ABIs and platform tags lists the versions that
have a wheel for that target. The tags are a superset of what the container's pip accepts (every manylinux
from 2_17 to 2_50, the bare linux tag): a wheel the container might reject still counts as "offered", which
sends the cell to its real build. Only "the index has none" can skip a build, never a guess.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from npmatrix.config.platforms import presets
from npmatrix.host import process
from npmatrix.plan.cellplan import CellPlan
from npmatrix.run import build

Answer = Literal["none", "offered", "unknown"]
_NO_MATCH = "No matching distribution found for numpy"
MANYLINUX = range(17, 51)


def target_argv(plan: CellPlan) -> list[str]:
    """pip's target options for the cell: Python X.Y of its suite, CPython, its ABIs and platform tags."""
    python = presets().suites[plan.cell.suite].python
    arch = plan.platform.wheel_arch
    nodot = python.replace(".", "")
    argv = ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
    for abi in (f"cp{nodot}", "abi3", "none"):
        argv += ["--abi", abi]
    for tag in (f"linux_{arch}", f"manylinux2014_{arch}", *(f"manylinux_2_{v}_{arch}" for v in MANYLINUX)):
        argv += ["--platform", tag]
    return argv


def index_argv(plan: CellPlan, environ: Mapping[str, str] = os.environ) -> list[str]:
    """Where the cell's pip looks: its own index settings, else the host's http(s) ones (as builds get them)."""
    argv: list[str] = []
    ca = build.host_ca_bundle(environ)
    if ca is not None:
        argv += ["--cert", str(ca)]
    index = plan.cell.index_url or next(
        (u for u in environ.get("PIP_INDEX_URL", "").split() if u.startswith(("http://", "https://"))), None
    )
    if index:
        argv += ["--index-url", index]
    extra = list(plan.cell.extra_index_url) or [
        u for u in environ.get("PIP_EXTRA_INDEX_URL", "").split() if u.startswith(("http://", "https://"))
    ]
    # A Raspberry Pi OS cell's pip asks piwheels too (its /etc/pip.conf): "none" must mean none there either.
    for url in [*extra, *([plan.piwheels] if plan.piwheels and plan.piwheels not in extra else [])]:
        argv += ["--extra-index-url", url]
    return argv


def answer(exit_code: int, output: str, specifier: str) -> Answer:
    """What `pip index versions numpy` said, for the cell's NumPy specifier. Pure."""
    if exit_code != 0:
        return "none" if _NO_MATCH in output else "unknown"
    listed = next((line for line in output.splitlines() if line.startswith("Available versions:")), None)
    if listed is None:
        return "unknown"
    try:
        wanted = SpecifierSet(specifier)
        versions = [Version(v.strip()) for v in listed.split(":", 1)[1].split(",") if v.strip()]
    except (InvalidSpecifier, InvalidVersion):
        return "unknown"
    return "offered" if any(wanted.contains(v, prereleases=True) for v in versions) else "none"


def numpy_wheel(plan: CellPlan, *, timeout: float = 60) -> tuple[Answer, str]:
    """(the answer, pip's output) for the cell's NumPy pin."""
    argv = [sys.executable, "-m", "pip", "index", "versions", "numpy", "--isolated", "--disable-pip-version-check"]
    done = process.run([*argv, *index_argv(plan), *target_argv(plan)], timeout=timeout)
    if done.timed_out:
        return "unknown", done.output
    return answer(done.exit_code, done.output, plan.cell.numpy or ""), done.output
