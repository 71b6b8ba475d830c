"""Preflight: what a command checks against this machine before it starts work.

Parsing a matrix file reads the file and nothing else (`npmatrix list` runs no process); the checks that ask this
machine something run here, at the start of `run` and `doctor`, and fail as a parse error would: one line, exit 2.
"""

from __future__ import annotations

from npmatrix.config.matrix import Matrix
from npmatrix.config.platforms import presets
from npmatrix.errors import ConfigError
from npmatrix.host import qemucpu


def check_cpu_models(selected: Matrix) -> None:
    """The matrix's own CPU models (`[cpu.NAME]`) that the selected cells use, against what this machine's
    `qemu-*-static -cpu help` lists: a typo ends here, not as a QEMU error in every cell an hour later. Built-in
    presets are checked by a unit test; without qemu-user-static only the syntax (checked already) applies."""
    checked: set[str] = set()
    for cell in selected.cells:
        model = cell.cpu_model
        if model is None or model.name in checked:
            continue
        checked.add(model.name)
        for platform, value in model.qemu.items():
            try:
                qemucpu.check_model(value, qemucpu.known(presets().platforms[platform].qemu))
            except ValueError as exc:
                raise ConfigError(str(exc), where=f"{selected.source}: cpu.{model.name}.qemu.{platform}") from None
