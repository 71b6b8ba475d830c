"""emulator.identity: which QEMU runs an emulated cell, read from a binfmt_misc directory (a fake one here; the
real one is read by the integration runs), and when it cannot be told."""

from __future__ import annotations

from pathlib import Path

import pytest

from npmatrix import emulator
from npmatrix.platforms import presets

DATA = Path(__file__).resolve().parents[1] / "data" / "binfmt"
ARM64 = presets().platforms["arm64"]


def test_a_handler_as_the_kernel_prints_it() -> None:
    # Captured from this machine's /proc/sys/fs/binfmt_misc/qemu-aarch64 (Debian's qemu-user-static 7.2).
    handler = emulator.parse_handler((DATA / "qemu-aarch64").read_text())
    assert handler == emulator.Handler(
        enabled=True, interpreter="/usr/libexec/qemu-binfmt/aarch64-binfmt-P", flags="PF"
    )


def test_a_disabled_handler_says_so() -> None:
    text = (DATA / "qemu-aarch64").read_text().replace("enabled", "disabled")
    assert emulator.parse_handler(text).enabled is False


def _binfmt(tmp_path: Path, binary: bytes, *, state: str = "enabled") -> tuple[Path, Path]:
    """A binfmt directory whose qemu-aarch64 handler runs a link to `binary`, as Debian's does."""
    real = tmp_path / "bin" / "qemu-aarch64-static"
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_bytes(binary)
    link = tmp_path / "libexec" / "aarch64-binfmt-P"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(real)
    binfmt = tmp_path / "binfmt_misc"
    binfmt.mkdir(exist_ok=True)
    (binfmt / ARM64.qemu).write_text(f"{state}\ninterpreter {link}\nflags: PF\noffset 0\n")
    return binfmt, real


def test_the_identity_follows_the_link_and_changes_with_the_binary(tmp_path: Path) -> None:
    binfmt, real = _binfmt(tmp_path, b"qemu 7.2")
    first = emulator.identity(ARM64, None, binfmt=binfmt)
    assert first is not None and first.startswith("qemu-aarch64 flags=PF sha256:")
    assert emulator.identity(ARM64, "unix:///run/podman/podman.sock", binfmt=binfmt) == first  # same kernel
    real.write_bytes(b"qemu 8.2, upgraded")  # another size, and so another digest even within one process
    upgraded = emulator.identity(ARM64, None, binfmt=binfmt)
    assert upgraded is not None and upgraded != first


@pytest.mark.parametrize("host", ["tcp://10.0.0.2:2376", "ssh://pi@raspberrypi"])
def test_an_engine_on_another_machine_has_no_identity_here(tmp_path: Path, host: str) -> None:
    binfmt, _ = _binfmt(tmp_path, b"qemu")
    assert emulator.identity(ARM64, host, binfmt=binfmt) is None


def test_a_disabled_or_missing_handler_has_no_identity(tmp_path: Path) -> None:
    binfmt, real = _binfmt(tmp_path, b"qemu", state="disabled")
    assert emulator.identity(ARM64, None, binfmt=binfmt) is None
    assert emulator.identity(presets().platforms["arm/v7"], None, binfmt=binfmt) is None  # no qemu-arm file
    binfmt, real = _binfmt(tmp_path, b"qemu")
    real.unlink()  # the link dangles: the interpreter is gone
    assert emulator.identity(ARM64, None, binfmt=binfmt) is None
