"""Reading and writing the JSON files npmatrix owns: atomically, and with one-line errors for bad input."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from npmatrix.errors import ConfigError


def write_atomic(path: Path, text: str) -> None:
    """Write through a rename, so a reader or a crash never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; results are for everyone who can read the directory
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, document: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(document, indent=2) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or a ConfigError naming the file and what is wrong with it."""
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror}", where=str(path)) from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError
        raise ConfigError(f"cannot read it as JSON: {exc}", where=str(path)) from None
    if not isinstance(document, dict):
        raise ConfigError("expected a JSON object", where=str(path))
    return document
