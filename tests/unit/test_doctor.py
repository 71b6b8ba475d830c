"""`npmatrix doctor` with the fake engine: each failed check says the command that fixes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeEngine

from npmatrix import doctor, matrix, plan
from npmatrix.cli import cli
from npmatrix.engine import Engine
from npmatrix.errors import EngineUnavailable, ExitCode

REPO = Path(__file__).resolve().parents[2]
PLANS = plan.plan(matrix.load(REPO / "matrix" / "bookworm.toml"))


@pytest.fixture
def engine(fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake_engine.images.update({p.base_image: "sha256:1" for p in PLANS})
    monkeypatch.setattr(doctor, "BINFMT", Path("/nonexistent-binfmt"))
    return fake_engine


def test_no_engine_is_one_failed_check_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(cls: type[Engine], *args: object, **kwargs: object) -> Engine:
        raise EngineUnavailable("no container engine answers")

    monkeypatch.setattr(Engine, "connect", classmethod(unavailable))
    checks = doctor.run_checks(PLANS)
    assert [(c.name, c.ok) for c in checks] == [("engine", False)]
    assert "make engine" in (checks[0].fix or "")
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == ExitCode.ENGINE_UNAVAILABLE
    assert "FAIL  engine" in result.output


def test_an_engine_that_fails_a_request_is_a_failed_check(engine: FakeEngine) -> None:
    engine.fail_with = "asking the engine its version: APIError: 500 Server Error"
    checks = doctor.run_checks(PLANS)
    assert [(c.name, c.ok) for c in checks] == [("engine", False)]
    assert "500 Server Error" in checks[0].detail


def test_missing_qemu_base_and_leftovers_each_name_their_fix(engine: FakeEngine) -> None:
    del engine.images[next(p.base_image for p in PLANS if p.platform.name == "arm64")]
    engine.containers["npmatrix-abc"] = {"org.npmatrix": "1"}
    failed = {c.name: c.fix for c in doctor.run_checks(PLANS) if not c.ok}
    assert set(failed) == {"QEMU arm64", "QEMU arm/v7", "base bookworm arm64", "leftover containers"}
    assert "update-binfmts" in (failed["QEMU arm64"] or "")
    assert failed["base bookworm arm64"] == "npmatrix base build --arch arm64"
    assert "label=org.npmatrix" in (failed["leftover containers"] or "")


def test_amd64_only_matrix_needs_no_qemu(engine: FakeEngine) -> None:
    amd64 = tuple(p for p in PLANS if p.platform.name == "amd64")
    checks = doctor.run_checks(amd64)
    assert all(c.ok for c in checks), doctor.render(checks)
    assert not any(c.name.startswith("QEMU") for c in checks)
    assert checks[0].detail == "Docker 20.10.24 (API 1.41), native amd64"
