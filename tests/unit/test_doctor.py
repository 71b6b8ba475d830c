"""`npmatrix doctor` with the fake engine: each failed check says the command that fixes it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeEngine

from npmatrix.app import doctor
from npmatrix.cli import cli
from npmatrix.config import matrix
from npmatrix.errors import EngineUnavailable, ExitCode
from npmatrix.host.engine import Engine
from npmatrix.plan import cellplan as plan

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


def _handlers(tmp_path: Path, *, registered_ns: int) -> Path:
    """binfmt_misc with qemu-aarch64 and qemu-arm handlers (flags F) registered at `registered_ns`."""
    binfmt = tmp_path / "binfmt_misc"
    binfmt.mkdir()
    for name in ("qemu-aarch64", "qemu-arm"):
        interpreter = tmp_path / f"{name}-static"
        interpreter.write_bytes(b"qemu")
        (binfmt / name).write_text(f"enabled\ninterpreter {interpreter}\nflags: PF\n")
        os.utime(binfmt / name, ns=(registered_ns, registered_ns))
    return binfmt


def test_a_qemu_upgraded_since_its_handler_was_registered_is_named_with_the_fix(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor, "BINFMT", _handlers(tmp_path, registered_ns=0))  # registered before the file
    checks = {c.name: c for c in doctor.run_checks(PLANS)}
    arm64 = checks["QEMU arm64"]
    assert arm64.ok  # it runs: only --reuse-results is affected
    assert "changed since the handler was registered" in arm64.detail and "probes its cells again" in arm64.detail
    assert arm64.fix == "update-binfmts --disable qemu-aarch64 && update-binfmts --enable qemu-aarch64"


def test_a_handler_registered_after_its_interpreter_needs_nothing(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor, "BINFMT", _handlers(tmp_path, registered_ns=time.time_ns() + 10**9))
    checks = {c.name: c for c in doctor.run_checks(PLANS)}
    assert checks["QEMU arm64"].ok and checks["QEMU arm64"].fix is None
    assert checks["QEMU arm64"].detail.endswith("(flags: PF)")


def test_an_engine_in_a_vm_behind_a_local_socket_is_not_read_from_here(engine: FakeEngine) -> None:
    engine.kernel = "6.10.14-linuxkit"  # Docker Desktop: our socket, another kernel
    checks = {c.name: c for c in doctor.run_checks(PLANS)}
    assert "QEMU arm64" not in checks  # our binfmt handlers are not the VM's
    assert checks["arm64"].ok and "binfmt handlers are not readable from here" in checks["arm64"].detail
