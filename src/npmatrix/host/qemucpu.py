"""The CPU models QEMU knows, for checking a matrix's own `[cpu.NAME]` tables before anything runs.

Parsing a matrix checks a model's syntax only (config/validators.qemu_cpu); the preflight of `run` and `doctor`
(app/preflight.py) checks it against this machine's QEMU with `check_model(value, known(...))`.

`qemu-aarch64-static -cpu help` (and -arm-, -x86_64-) lists them; it is run once per binary and cached. Parsing
is pure (`parse_cpu_help`, tested on captured outputs in tests/data/qemu). Where the binary is absent (a machine
without qemu-user-static), nothing can be checked here; `npmatrix doctor` and the run itself say QEMU is missing.
"""

from __future__ import annotations

import functools
import re
import shutil
from dataclasses import dataclass

from npmatrix.config import validators
from npmatrix.host import process
from npmatrix.text import did_you_mean


@dataclass(frozen=True, kw_only=True)
class QemuCpus:
    """What one qemu-user binary accepts: model names and, for x86, the CPUID flags a model can add or drop."""

    binary: str
    models: frozenset[str]
    flags: frozenset[str] = frozenset()


def parse_cpu_help(text: str, *, binary: str) -> QemuCpus:
    """`-cpu help` of qemu-user 7.x: ARM lists "  name" lines; x86 lists "x86 name  description" lines, then
    "Recognized CPUID flags:" and the flags, several to a line."""
    models: set[str] = set()
    flags: set[str] = set()
    in_flags = False
    for line in text.splitlines():
        if line.startswith("Recognized CPUID flags"):
            in_flags = True
            continue
        if in_flags:
            flags.update(line.split())
            continue
        x86 = re.match(r"x86 (\S+)", line)
        if x86:
            models.add(x86.group(1))
        elif re.fullmatch(r"  \S+", line):
            models.add(line.strip())
    return QemuCpus(binary=binary, models=frozenset(models), flags=frozenset(flags))


def check_model(value: str, known: QemuCpus | None) -> str:
    """A QEMU_CPU value for a matrix's CPU table: plain syntax always, and a model `known` lists when known."""
    name, *changes = validators.qemu_cpu(value).split(",")
    if known is None:
        return value
    if name not in known.models:
        hint = did_you_mean(name, sorted(known.models))
        raise ValueError(f"{known.binary} knows no CPU model {name!r}{hint}; `{known.binary} -cpu help` lists them")
    if changes and not known.flags:
        raise ValueError(f"{known.binary} takes no flag changes after the model name ({value!r})")
    for change in changes:
        flag = change[1:]
        if flag not in known.flags:
            raise ValueError(f"{known.binary} knows no CPUID flag {flag!r} (in {value!r})")
    return value


@functools.cache
def known(qemu: str) -> QemuCpus | None:
    """What `<qemu>-static -cpu help` lists (qemu is a platform's handler name, e.g. "qemu-aarch64"); None when
    the binary is not installed here. Run once per binary."""
    binary = f"{qemu}-static"
    if shutil.which(binary) is None:
        return None
    done = process.capture([binary, "-cpu", "help"], timeout=30)  # exits 1 after printing the list
    parsed = parse_cpu_help(done.stdout, binary=binary)
    return parsed if parsed.models else None
