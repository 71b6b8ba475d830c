"""`npmatrix doctor` with the fake engine: each failed check says the command that fixes it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeEngine
from hypothesis import given
from hypothesis import strategies as st

from npmatrix.app import doctor
from npmatrix.cli import cli
from npmatrix.config import matrix
from npmatrix.errors import EngineUnavailable, ExitCode
from npmatrix.host import emulator
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


def _versioned_handlers(tmp_path: Path, first_line: str) -> Path:
    """Handlers whose interpreter is a script answering `--version` with `first_line`, behind a link as
    Debian's qemu-binfmt -P wrappers are."""
    binfmt = _handlers(tmp_path, registered_ns=time.time_ns() + 10**9)
    script = tmp_path / "qemu-aarch64-real"
    script.write_text(f"#!/bin/sh\necho '{first_line}'\necho 'Copyright (c) 2003-2022 Fabrice Bellard'\n")
    script.chmod(0o755)
    link = tmp_path / "aarch64-binfmt-P"
    link.symlink_to(script)
    (binfmt / "qemu-aarch64").write_text(f"enabled\ninterpreter {link}\nflags: PF\n")
    return binfmt


def test_qemu_7_is_named_with_its_crashes_and_the_fix(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = "qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"
    monkeypatch.setattr(doctor, "BINFMT", _versioned_handlers(tmp_path, line))
    row = {c.name: c for c in doctor.run_checks(PLANS)}["QEMU version"]
    assert row.ok  # it runs most cells: a warning, not a failure
    assert row.detail.startswith(f"warning: {line} ({tmp_path / 'qemu-aarch64-real'})")
    assert "QEMU < 8 segfaults" in row.detail and "numpy/numpy#28411" in row.detail
    assert row.fix is not None and "QEMU >= 8" in row.fix and "Debian 13" in row.fix


def test_qemu_10_is_named_without_a_warning(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = "qemu-aarch64 version 10.0.3 (Debian 1:10.0.3+ds-1)"
    monkeypatch.setattr(doctor, "BINFMT", _versioned_handlers(tmp_path, line))
    row = {c.name: c for c in doctor.run_checks(PLANS)}["QEMU version"]
    assert row.ok and row.fix is None
    assert row.detail == f"{line} ({tmp_path / 'qemu-aarch64-real'})"


def test_a_handler_whose_qemu_does_not_answer_is_an_unknown_version(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor, "BINFMT", _handlers(tmp_path, registered_ns=time.time_ns() + 10**9))
    row = {c.name: c for c in doctor.run_checks(PLANS)}["QEMU version"]
    assert row.ok and row.detail == "unknown: no registered handler answers --version"


@given(st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=4), st.text(max_size=20))
def test_a_qemu_version_line_reads_back_its_numbers(numbers: list[int], tail: str) -> None:
    line = f"qemu-arm version {'.'.join(map(str, numbers))} {tail}".splitlines()[0]
    assert emulator.parse_qemu_version(line + "\nCopyright") == tuple(numbers)


@given(st.text(max_size=60))
def test_any_text_parses_to_a_version_or_none(text: str) -> None:
    parsed = emulator.parse_qemu_version(text)
    assert parsed is None or (parsed and all(isinstance(n, int) for n in parsed))


def test_doctor_says_whether_the_raspios_cells_piwheels_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    default = matrix.load(REPO / "matrix" / "default.toml")
    piwheels = "https://www.piwheels.org/simple"
    monkeypatch.setattr(doctor.planning, "find_unreached", lambda urls: dict.fromkeys(urls, "DNS: no such name"))
    (row,) = doctor.index_checks(default)
    # Not reached is no failure of the set-up: those cells run on PyPI alone, marked incomplete.
    assert row.ok and row.name == "piwheels"
    assert row.detail == (
        f"{piwheels}: not reached (DNS: no such name); the cells that ask it (pi32-pip) run on PyPI alone, "
        "marked incomplete"
    )
    monkeypatch.setattr(doctor.planning, "find_unreached", lambda urls: {})
    (row,) = doctor.index_checks(default)
    assert row.detail == f"{piwheels}: answers; the cells that ask it as Raspberry Pi OS's pip does: pi32-pip"
    assert doctor.index_checks(matrix.load(REPO / "matrix" / "bookworm.toml")) == []  # no raspios cell: no row
