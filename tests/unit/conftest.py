"""Unit tests never touch a container engine: every way into one fails loudly.

The in-container script tests (test_container_*.py) run probe.py/bench.py with subprocess on the host
and never go through npmatrix.engine, so they are unaffected.
"""

from __future__ import annotations

from typing import Any, NoReturn

import docker
import pytest

import npmatrix.engine

MESSAGE = "unit tests must not touch the engine"


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError(MESSAGE)


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("client", "run", "detect_builder"):
        monkeypatch.setattr(npmatrix.engine, name, _refuse)
    monkeypatch.setattr(docker, "from_env", _refuse)
