"""The JSON Schemas of the files npmatrix writes, shipped in the package (data/*.schema.json).

fastjsonschema compiles each schema to plain Python once: it is pure Python with no dependencies, which
matters because `npmatrix explain` runs on a 32-bit Pi where PyPI has no compiled wheels for many packages.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any, Literal

import fastjsonschema

from npmatrix.errors import ConfigError

SchemaName = Literal["results", "results-v1", "probe-file", "probe-output"]
_TITLES: dict[SchemaName, str] = {
    "results": "results file",
    "results-v1": "results file",
    "probe-file": "probe file",
    "probe-output": "probe output",
}


def schema(name: SchemaName) -> dict[str, Any]:
    text = resources.files("npmatrix").joinpath(f"data/{name}.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@functools.cache
def _validator(name: SchemaName) -> Callable[[Any], Any]:
    return fastjsonschema.compile(schema(name))


def validate(name: SchemaName, document: Any, *, where: str, prefix: str = "") -> None:
    """Raise a one-line ConfigError naming the file and the first thing that does not match; `prefix` says
    where in the file `document` sits ("cells[2].probe.")."""
    try:
        _validator(name)(document)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise ConfigError(f"not a valid {_TITLES[name]}: {prefix}{_readable(exc.message)}", where=where) from None


def _readable(message: str) -> str:
    # fastjsonschema calls the document "data": "data.cells[0].status must be one of [...]".
    if message.startswith("data."):
        return message.removeprefix("data.")
    return "the document" + message.removeprefix("data") if message.startswith("data ") else message
