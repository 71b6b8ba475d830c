"""`npmatrix doctor` with a fake engine: each failed check says the command that fixes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from npmatrix import doctor, engine, matrix, plan
from npmatrix.cli import cli
from npmatrix.errors import EngineUnavailable, ExitCode

REPO = Path(__file__).resolve().parents[2]
PLANS = plan.plan(matrix.load(REPO / "matrix" / "default.toml"))


class FakeImages:
    def __init__(self, present: set[str]) -> None:
        self.present = present


class FakeDocker:
    def __init__(self, present: set[str]) -> None:
        self.images = FakeImages(present)

    def version(self) -> dict[str, str]:
        return {"Version": "20.10.24", "ApiVersion": "1.41"}


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {"present": {p.base_image for p in PLANS}, "leftovers": []}
    monkeypatch.setattr(engine, "client", lambda: FakeDocker(state["present"]))
    monkeypatch.setattr(engine, "detect_builder", lambda: engine.Builder("buildkit", "/usr/bin/docker"))
    monkeypatch.setattr(engine, "image_id", lambda docker, tag: "sha256:1" if tag in docker.images.present else None)
    monkeypatch.setattr(engine, "leftover_containers", lambda docker: state["leftovers"])
    monkeypatch.setattr(doctor, "BINFMT", Path("/nonexistent-binfmt"))
    return state


def test_no_engine_is_one_failed_check_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> None:
        raise EngineUnavailable("no container engine answers")

    monkeypatch.setattr(engine, "client", unavailable)
    checks = doctor.run_checks(PLANS)
    assert [(c.name, c.ok) for c in checks] == [("engine", False)]
    assert "make engine" in (checks[0].fix or "")
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == ExitCode.ENGINE_UNAVAILABLE
    assert "FAIL  engine" in result.output


def test_missing_qemu_base_and_leftovers_each_name_their_fix(fake_engine: dict[str, Any]) -> None:
    fake_engine["present"].discard(next(p.base_image for p in PLANS if p.platform.name == "arm64"))
    fake_engine["leftovers"] = ["npmatrix-abc"]
    failed = {c.name: c.fix for c in doctor.run_checks(PLANS) if not c.ok}
    assert set(failed) == {"QEMU arm64", "QEMU arm/v7", "base bookworm arm64", "leftover containers"}
    assert "update-binfmts" in (failed["QEMU arm64"] or "")
    assert failed["base bookworm arm64"] == "npmatrix base build --arch arm64"
    assert "label=org.npmatrix" in (failed["leftover containers"] or "")


def test_amd64_only_matrix_needs_no_qemu(fake_engine: dict[str, Any]) -> None:
    amd64 = tuple(p for p in PLANS if p.platform.name == "amd64")
    checks = doctor.run_checks(amd64)
    assert all(c.ok for c in checks), doctor.render(checks)
    assert not any(c.name.startswith("QEMU") for c in checks)
