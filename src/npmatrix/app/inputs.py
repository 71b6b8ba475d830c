"""What the shared options say: which matrix and cells (--matrix, --arch, --cell), which engines (--engine,
--engine-for, --builder). Each command that takes them gets these two values, not six loose arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from npmatrix.config import engine_choice, matrix


@dataclass(frozen=True, kw_only=True)
class Selection:
    """--matrix FILE|NAME (None: ./matrix/default.toml or the built-in default), --arch, --cell (globs)."""

    matrix_path: str | None = None
    arches: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()

    def load(self) -> matrix.Matrix:
        return matrix.load_spec(self.matrix_path, cwd=Path.cwd()).select(arches=self.arches, names=self.cells)


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """--engine, --engine-for PLATFORM=ENGINE (repeatable), --builder NAME."""

    kind: engine_choice.EngineKind = "docker"
    engine_for: Mapping[str, str] = field(default_factory=dict)
    builder: str | None = None

    def choose(self, selected: matrix.Matrix) -> engine_choice.EngineChoice:
        """The command line's --engine-for wins over the matrix file's [engine_for]."""
        return engine_choice.choose(
            self.kind, engine_for={**selected.engine_for, **self.engine_for}, builder=self.builder
        )
