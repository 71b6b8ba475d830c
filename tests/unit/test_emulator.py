"""emulator.identity: which QEMU runs an emulated cell, read from a binfmt_misc directory (a fake one here; the
real one is read by the integration runs), and when it cannot be told."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from npmatrix.config.platforms import presets
from npmatrix.host import emulator

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
    first = emulator.identity(ARM64, local=True, binfmt=binfmt)
    assert first is not None and first.startswith("qemu-aarch64 flags=PF sha256:")
    assert first.endswith(hashlib.sha256(b"qemu 7.2").hexdigest())  # the file the link points to
    real.write_bytes(b"qemu 8.2")  # upgraded: same size, so only its ctime and contents tell
    _register(binfmt, later_than=real)  # ... and registered again, so the kernel runs the new copy
    upgraded = emulator.identity(ARM64, local=True, binfmt=binfmt)
    assert upgraded is not None and upgraded.endswith(hashlib.sha256(b"qemu 8.2").hexdigest())


def _register(binfmt: Path, *, later_than: Path) -> None:
    """Make the handler entry's mtime (binfmt_misc: the registration) later than the interpreter's ctime."""
    entry = binfmt / ARM64.qemu
    later = later_than.stat().st_ctime_ns + 1_000_000_000
    os.utime(entry, ns=(later, later))


def test_a_fixed_binary_replaced_after_registration_is_not_what_runs(tmp_path: Path) -> None:
    """flags F: the kernel opened the interpreter at registration and runs that copy, so a newer file at the
    path (an upgrade without re-registering) names nothing that runs: no identity, and the probe runs again."""
    binfmt, real = _binfmt(tmp_path, b"qemu 7.2")
    _register(binfmt, later_than=real)
    assert emulator.identity(ARM64, local=True, binfmt=binfmt) is not None
    os.utime(binfmt / ARM64.qemu, ns=(0, 0))  # registered long before the file's last change
    assert emulator.identity(ARM64, local=True, binfmt=binfmt) is None
    # without F the kernel opens the path at each exec: the file there is what runs
    entry = binfmt / ARM64.qemu
    entry.write_text(entry.read_text().replace("flags: PF", "flags: P"))
    os.utime(entry, ns=(0, 0))
    assert emulator.identity(ARM64, local=True, binfmt=binfmt) is not None


@pytest.mark.parametrize(
    ("host", "kernel", "local"),
    [
        (None, os.uname().release, True),  # the default socket, this kernel
        ("unix:///run/podman/podman.sock", os.uname().release, True),
        ("unix:///home/me/.docker/desktop/docker.sock", "6.10.14-linuxkit", False),  # a VM behind a socket
        (None, None, False),  # an engine that does not say its kernel
        ("tcp://10.0.0.2:2376", os.uname().release, False),  # another machine with the same kernel release
        ("ssh://pi@raspberrypi", os.uname().release, False),
    ],
)
def test_only_an_engine_on_this_kernel_shares_its_binfmt_handlers(
    host: str | None, kernel: str | None, local: bool
) -> None:
    assert emulator.is_local(host, kernel) is local


def test_an_engine_elsewhere_has_no_identity_here(tmp_path: Path) -> None:
    binfmt, _ = _binfmt(tmp_path, b"qemu")
    assert emulator.identity(ARM64, local=False, binfmt=binfmt) is None


def test_a_disabled_missing_or_odd_handler_has_no_identity(tmp_path: Path) -> None:
    binfmt, real = _binfmt(tmp_path, b"qemu", state="disabled")
    assert emulator.identity(ARM64, local=True, binfmt=binfmt) is None
    assert emulator.identity(presets().platforms["arm/v7"], local=True, binfmt=binfmt) is None  # no qemu-arm
    binfmt, real = _binfmt(tmp_path, b"qemu")
    (binfmt / ARM64.qemu).write_text("enabled\nflags: PF\n")  # no interpreter line
    assert emulator.identity(ARM64, local=True, binfmt=binfmt) is None
    binfmt, real = _binfmt(tmp_path, b"qemu")
    real.unlink()  # the link dangles: the interpreter is gone
    assert emulator.identity(ARM64, local=True, binfmt=binfmt) is None


def test_an_interpreter_that_is_no_regular_file_is_never_read(tmp_path: Path) -> None:
    binfmt, _ = _binfmt(tmp_path, b"qemu")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # reading it would block for ever
    (binfmt / ARM64.qemu).write_text(f"enabled\ninterpreter {fifo}\nflags: P\n")
    assert emulator.identity(ARM64, local=True, binfmt=binfmt) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "enabled\ninterpreter /usr/bin/qemu-arm-static\nflags: \n",
            emulator.Handler(enabled=True, interpreter="/usr/bin/qemu-arm-static", flags=""),
        ),
        ("enabled\n", emulator.Handler(enabled=True, interpreter=None, flags="")),
        ("", emulator.Handler(enabled=False, interpreter=None, flags="")),
        ("enabledX\ninterpreter\n", emulator.Handler(enabled=False, interpreter=None, flags="")),
    ],
)
def test_odd_handler_texts(text: str, expected: emulator.Handler) -> None:
    assert emulator.parse_handler(text) == expected
