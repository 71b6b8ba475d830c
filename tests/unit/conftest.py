"""Unit tests never touch a container engine: every way into one fails loudly.

Nor the network: every index a Raspberry Pi OS cell would ask counts as reached (app/planning.find_unreached);
tests of an unreached one pass `unreached` to the plan, and tests/unit/test_raspios.py asks a local server.

Tests that need an engine take the `fake_engine` fixture (tests/unit/fakes.py). The in-container script
tests (test_container_*.py) and the host probe run processes through npmatrix.host.process.capture, which stays
allowed: it starts the probe, never a build or the Docker CLI.
"""

from __future__ import annotations

from typing import Any, NoReturn

import docker
import pytest
from fakes import FakeEngine

import npmatrix.host.fleet
from npmatrix.app import planning
from npmatrix.config.engine_choice import EngineTarget
from npmatrix.host import engine, process
from npmatrix.host.engine import Builder, Engine

MESSAGE = "unit tests must not touch the engine"


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError(MESSAGE)


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Engine, "connect", classmethod(_refuse))
    monkeypatch.setattr(engine, "detect_builder", _refuse)
    monkeypatch.setattr(npmatrix.host.fleet, "detect_builder", _refuse)
    monkeypatch.setattr(process, "run", _refuse)  # builds, mmdebstrap and the Docker CLI all go through it
    monkeypatch.setattr(docker, "from_env", _refuse)
    monkeypatch.setattr(planning, "find_unreached", lambda urls: {})


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(Engine, "connect", classmethod(lambda cls, target=None, **kwargs: fake.connect(target)))

    def detect(target: EngineTarget | None = None, *, builder: str | None = None) -> Builder:
        host = target.host if target else None
        return Builder(kind="buildkit", cli="/usr/bin/docker", host=host, builder=builder)

    monkeypatch.setattr(engine, "detect_builder", detect)
    monkeypatch.setattr(npmatrix.host.fleet, "detect_builder", detect)
    return fake
