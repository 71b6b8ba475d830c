#!/usr/bin/env python3
"""Which shared objects would not load under a 16K-page kernel: the Raspberry Pi 5's, read statically.

Usage: python3 pagesize.py [DIR ...]    (default: this Python's site-packages; prints one JSON object)

A Pi 5 boots kernel_2712.img, built with 16 KiB pages, and qemu-user cannot change the page size a guest
sees (its -p option was disabled in 2024), so emulation cannot show what breaks there. Two things do:
- an ELF object whose PT_LOAD segments are aligned below the page size: the loader refuses it ("ELF load
  command address/offset not page-aligned"). NumPy 1.19.0/1.19.1's aarch64 wheels had 4 KiB segments
  after patchelf rewrote them (numpy/numpy#16677, fixed by auditwheel#251); NumPy's wheels since are 64 KiB.
- a bundled jemalloc configured for 4 KiB pages: it aborts at start with "<jemalloc>: Unsupported system
  page size" (raspberrypi/bookworm-feedback#107, pola-rs/polars#15549).
What this can tell: the first exactly, from the program headers. For jemalloc only that one is bundled: the
message is compiled into every jemalloc, whatever page size it was built for, and that page size (LG_PAGE)
is a compile-time constant folded into code, with no string or symbol to read. So a bundled jemalloc is
reported as one to check on a real Pi 5, never as a certain failure.

Stdlib only and standalone like probe.py (copied into containers whose Python may be 3.7): never import
npmatrix here.
"""

from __future__ import annotations

import json
import os
import site
import struct
import sys
import sysconfig
from typing import BinaryIO

PI5_PAGE_SIZE = 16384
PT_LOAD = 1
PN_XNUM = 0xFFFF  # e_phnum when the real count lives in section 0 (more than 65534 headers: never a .so)
JEMALLOC_MARKER = b"<jemalloc>: Unsupported system page size"
# e_ident[EI_CLASS] -> (e_phoff format and offset, e_phentsize offset, p_align format and offset)
_LAYOUT = {1: ("I", 28, 42, "I", 28), 2: ("Q", 32, 54, "Q", 48)}
_CLASS_BITS = {1: 32, 2: 64}
_BYTE_ORDER = {1: "<", 2: ">"}
_HEADER_BYTES = 64  # the 64-bit ELF header; the 32-bit one is 52
JEMALLOC_NOTE = "bundles jemalloc; the page size it was built for cannot be read from the file"


def not_elf(path: str, reason: str) -> dict:
    return {"path": path, "elf": False, "bits": None, "min_load_align": None, "reason": reason}


def read_load_alignments(path: str) -> dict:
    """The p_align of every PT_LOAD of an ELF file, and their minimum. Never raises: a file that is not
    ELF, truncated or unreadable gives "elf": False and a reason."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(_HEADER_BYTES)
            if header[:4] != b"\x7fELF":
                return not_elf(path, "not ELF (no \\x7fELF magic)")
            if len(header) < 52 or header[4] not in _LAYOUT or header[5] not in _BYTE_ORDER:
                return not_elf(path, "not ELF (truncated header or unknown class/byte order)")
            aligns = _load_aligns(handle, header)
    except OSError as error:
        return not_elf(path, f"unreadable: {error.strerror or error}")
    if isinstance(aligns, str):
        return not_elf(path, aligns)
    return {
        "path": path,
        "elf": True,
        "bits": _CLASS_BITS[header[4]],
        "load_aligns": aligns,
        "min_load_align": min(aligns) if aligns else None,
        "reason": None if aligns else "no PT_LOAD segment",
    }


def _load_aligns(handle: BinaryIO, header: bytes) -> list[int] | str:
    """The PT_LOAD alignments, or why they cannot be read."""
    order = _BYTE_ORDER[header[5]]
    phoff_format, phoff_at, phentsize_at, align_format, align_at = _LAYOUT[header[4]]
    if len(header) < phentsize_at + 4:
        return "not ELF (truncated header)"
    (phoff,) = struct.unpack_from(order + phoff_format, header, phoff_at)
    phentsize, phnum = struct.unpack_from(order + "HH", header, phentsize_at)
    if phnum == PN_XNUM or phentsize < align_at + struct.calcsize(align_format):
        return "not ELF (program header table too unusual to read)"
    handle.seek(phoff)
    table = handle.read(phentsize * phnum)
    if len(table) < phentsize * phnum:
        return "not ELF (truncated program headers)"
    aligns = []
    for start in range(0, len(table), phentsize):
        (p_type,) = struct.unpack_from(order + "I", table, start)
        if p_type == PT_LOAD:
            aligns.append(struct.unpack_from(order + align_format, table, start + align_at)[0])
    return aligns


def bundles_jemalloc(path: str, chunk: int = 1 << 20) -> bool:
    """Whether jemalloc's page-size check is compiled into the file (read in chunks that overlap by the
    marker's length, so a marker across a chunk boundary is found)."""
    keep = len(JEMALLOC_MARKER) - 1
    tail = b""
    try:
        with open(path, "rb") as handle:
            while True:
                block = handle.read(chunk)
                if not block:
                    return False
                window = tail + block
                if JEMALLOC_MARKER in window:
                    return True
                tail = window[-keep:]  # of the window, not the block: a block may be shorter than the marker
    except OSError:
        return False


def is_shared_object(name: str) -> bool:
    return name.endswith(".so") or ".so." in name


def shared_objects(directory: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        found.extend(os.path.join(root, name) for name in sorted(files) if is_shared_object(name))
    return found


def scan(directories: list[str], page_size: int = PI5_PAGE_SIZE) -> dict:
    """Every shared object under `directories` that a kernel with `page_size` pages would refuse, and every
    one that bundles jemalloc. JSON-ready, like the probe's other sections."""
    below, jemalloc, unreadable, scanned = [], [], [], 0
    for directory in directories:
        for path in shared_objects(directory):
            scanned += 1
            info = read_load_alignments(path)
            if not info["elf"]:
                unreadable.append({"path": path, "reason": info["reason"]})
            elif info["min_load_align"] is not None and info["min_load_align"] < page_size:
                below.append({"path": path, "min_load_align": info["min_load_align"]})
            if bundles_jemalloc(path):
                jemalloc.append({"path": path, "lg_page": None, "note": JEMALLOC_NOTE})
    return {
        "page_size": page_size,
        "directories": list(directories),
        "scanned": scanned,
        "below_page_size": below,
        "jemalloc": jemalloc,
        "unreadable": unreadable,
    }


def default_directories() -> list[str]:
    """This Python's site-packages, existing ones only: sysconfig's purelib and platlib (they differ on some
    distributions) and site's list, which on Debian adds /usr/lib/python3/dist-packages, where apt puts NumPy."""
    paths = sysconfig.get_paths()
    candidates = [paths.get("platlib"), paths.get("purelib"), *site.getsitepackages()]
    seen: list[str] = []
    for path in candidates:
        if path and os.path.isdir(path) and os.path.realpath(path) not in map(os.path.realpath, seen):
            seen.append(path)
    return seen


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(json.dumps(scan(args or default_directories()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
