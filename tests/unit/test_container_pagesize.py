"""container/pagesize.py: PT_LOAD alignment read with struct, on synthetic ELF headers and on real PyPI wheels.

The real wheels (downloaded once into the XDG cache; PyPI is reachable from our machines):
- numpy 2.1.3 manylinux2014_aarch64: NumPy's wheels have been 64 KiB-aligned since auditwheel#251, so a
  Pi 5's 16 KiB pages load them; nothing may be flagged.
- numpy 1.19.1 manylinux2014_aarch64: the repaired objects (the extensions linking the bundled OpenBLAS,
  libopenblas, libgfortran, libz) have a 4 KiB PT_LOAD, left by the old patchelf auditwheel ran
  (numpy/numpy#16677, pypa/manylinux#735). Found by reading those issues and checking the wheel with
  `readelf -lW`; this module must flag exactly those.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from npmatrix.records import schemas

CONTAINER = Path(__file__).resolve().parents[2] / "src" / "npmatrix" / "container"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pagesize_under_test", CONTAINER / "pagesize.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pagesize = _load()

PT_LOAD, PT_DYNAMIC, PT_GNU_STACK = 1, 2, 0x6474E551


def elf(bits: int, segments: list[tuple[int, int]], *, order: str = "<") -> bytes:
    """A minimal ELF file: header plus program headers of (p_type, p_align), nothing else."""
    data_byte = 1 if order == "<" else 2
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, data_byte, 1]) + bytes(9)
    if bits == 64:
        phentsize, ehsize = 56, 64
        header = ident + struct.pack(order + "HHIQQQIHHHHHH", 3, 183, 1, 0, ehsize, 0, 0, ehsize, phentsize,
                                     len(segments), 0, 0, 0)  # fmt: skip
        table = b"".join(struct.pack(order + "IIQQQQQQ", t, 5, 0, 0, 0, 0, 0, a) for t, a in segments)
    else:
        phentsize, ehsize = 32, 52
        header = ident + struct.pack(order + "HHIIIIIHHHHHH", 3, 40, 1, 0, ehsize, 0, 0, ehsize, phentsize,
                                     len(segments), 0, 0, 0)  # fmt: skip
        table = b"".join(struct.pack(order + "IIIIIIII", t, 0, 0, 0, 0, 0, 5, a) for t, a in segments)
    assert len(header) == ehsize
    return header + table


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("order", ["<", ">"])
def test_minimum_of_the_pt_load_alignments_only(tmp_path: Path, bits: int, order: str) -> None:
    path = tmp_path / "lib.so"
    path.write_bytes(elf(bits, [(PT_LOAD, 0x10000), (PT_GNU_STACK, 0x10), (PT_LOAD, 0x4000)], order=order))
    info = pagesize.read_load_alignments(str(path))
    assert info["elf"] is True and info["bits"] == bits
    assert info["load_aligns"] == [0x10000, 0x4000]
    assert info["min_load_align"] == 0x4000  # the GNU_STACK's 0x10 is no PT_LOAD
    assert info["reason"] is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not ELF (no \\x7fELF magic)"),
        (b"#!/bin/sh\necho hi\n", "not ELF (no \\x7fELF magic)"),
        (b"\x7fELF\x02\x01\x01" + bytes(20), "not ELF (truncated header or unknown class/byte order)"),
        (b"\x7fELF\x03\x01\x01" + bytes(60), "not ELF (truncated header or unknown class/byte order)"),
    ],
)
def test_what_is_not_elf_says_so_without_raising(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x.so"
    path.write_bytes(content)
    assert pagesize.read_load_alignments(str(path)) == {
        "path": str(path),
        "elf": False,
        "bits": None,
        "min_load_align": None,
        "reason": reason,
    }


@pytest.mark.parametrize("bits", [32, 64])
def test_truncated_program_headers_are_not_elf(tmp_path: Path, bits: int) -> None:
    path = tmp_path / "cut.so"
    path.write_bytes(elf(bits, [(PT_LOAD, 0x1000), (PT_LOAD, 0x1000)])[:-8])
    info = pagesize.read_load_alignments(str(path))
    assert (info["elf"], info["reason"]) == (False, "not ELF (truncated program headers)")


def test_unreadable_and_loadless_files(tmp_path: Path) -> None:
    missing = pagesize.read_load_alignments(str(tmp_path / "absent.so"))
    assert missing["elf"] is False and missing["reason"].startswith("unreadable: ")
    path = tmp_path / "noload.so"
    path.write_bytes(elf(64, [(PT_DYNAMIC, 8)]))
    info = pagesize.read_load_alignments(str(path))
    assert (info["elf"], info["min_load_align"], info["reason"]) == (True, None, "no PT_LOAD segment")


def test_scan_flags_alignment_below_16k_and_bundled_jemalloc(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "ok.cpython-311-aarch64-linux-gnu.so").write_bytes(elf(64, [(PT_LOAD, 0x10000)]))
    (tmp_path / "pkg" / "exact.so").write_bytes(elf(64, [(PT_LOAD, 0x4000)]))  # 16 KiB itself loads
    (tmp_path / "pkg" / "libold.so.1").write_bytes(elf(32, [(PT_LOAD, 0x10000), (PT_LOAD, 0x1000)]))
    jemalloc = elf(64, [(PT_LOAD, 0x10000)]) + bytes(100) + pagesize.JEMALLOC_MARKER + b"\n"
    (tmp_path / "pkg" / "libje.so").write_bytes(jemalloc)
    (tmp_path / "pkg" / "broken.so").write_bytes(b"not an object")
    (tmp_path / "pkg" / "module.py").write_bytes(elf(64, [(PT_LOAD, 0x1000)]))  # no .so: not scanned
    report = pagesize.scan([str(tmp_path)])
    assert report["scanned"] == 5
    assert report["below_page_size"] == [{"path": str(tmp_path / "pkg" / "libold.so.1"), "min_load_align": 4096}]
    assert report["jemalloc"] == [{"path": str(tmp_path / "pkg" / "libje.so"), "lg_page": None,
                                   "note": pagesize.JEMALLOC_NOTE}]  # fmt: skip
    assert report["unreadable"] == [
        {"path": str(tmp_path / "pkg" / "broken.so"), "reason": "not ELF (no \\x7fELF magic)"}
    ]
    assert pagesize.scan([str(tmp_path)], page_size=4096)["below_page_size"] == []


@pytest.mark.parametrize("chunk", [7, 16, 41, 1 << 20])
def test_jemalloc_marker_is_found_across_chunk_boundaries(tmp_path: Path, chunk: int) -> None:
    path = tmp_path / "libje.so"
    path.write_bytes(b"x" * 30 + pagesize.JEMALLOC_MARKER + b"y" * 30)
    assert pagesize.bundles_jemalloc(str(path), chunk=chunk) is True
    path.write_bytes(b"x" * 30 + pagesize.JEMALLOC_MARKER[:-1] + b"y" * 30)
    assert pagesize.bundles_jemalloc(str(path), chunk=chunk) is False


# --- real wheels from PyPI ------------------------------------------------------------------------------


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "npmatrix" / "test-wheels"


def _aarch64_wheel(version: str, python: str) -> Path:
    cache = _cache()
    found = sorted(cache.glob(f"numpy-{version}-cp{python}-*aarch64.whl"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
                   "--platform", "manylinux2014_aarch64", "--python-version", python, f"numpy=={version}",
                   "-d", str(cache)]  # fmt: skip
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        found = sorted(cache.glob(f"numpy-{version}-cp{python}-*aarch64.whl"))
        if not found:
            pytest.skip(f"could not download numpy {version} for aarch64 from PyPI: {proc.stderr.strip()[-300:]}")
    return found[0]


def _unpacked(wheel: Path, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if pagesize.is_shared_object(Path(name).name):
                archive.extract(name, dest)
    return dest


@pytest.fixture(scope="session")
def numpy_2_1_3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _unpacked(_aarch64_wheel("2.1.3", "311"), tmp_path_factory.mktemp("numpy-2.1.3"))


@pytest.fixture(scope="session")
def numpy_1_19_1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _unpacked(_aarch64_wheel("1.19.1", "38"), tmp_path_factory.mktemp("numpy-1.19.1"))


def test_numpys_own_wheel_is_64k_aligned_and_not_flagged(numpy_2_1_3: Path) -> None:
    report = pagesize.scan([str(numpy_2_1_3)])
    assert report["scanned"] >= 10  # the core, linalg, random, fft extensions and the bundled OpenBLAS
    assert report["below_page_size"] == [] and report["unreadable"] == [] and report["jemalloc"] == []
    core = next(numpy_2_1_3.rglob("_multiarray_umath*.so"))
    info = pagesize.read_load_alignments(str(core))
    assert info["bits"] == 64 and info["min_load_align"] == 0x10000


def test_numpy_1_19_1_wheel_is_4k_aligned_where_patchelf_rewrote_it(numpy_1_19_1: Path) -> None:
    report = pagesize.scan([str(numpy_1_19_1)])
    flagged = {Path(entry["path"]).name.split(".")[0]: entry["min_load_align"] for entry in report["below_page_size"]}
    assert flagged == {
        "_multiarray_umath": 4096,
        "_umath_linalg": 4096,
        "lapack_lite": 4096,
        "libgfortran-daac5196": 4096,
        "libopenblasp-r0-c9541ae0": 4096,
        "libz-558a5e64": 4096,
    }
    assert report["scanned"] > len(flagged)  # numpy.random's extensions, untouched by patchelf, are 64K


# --- through the probe ---------------------------------------------------------------------------------


def _probe(script_dir: Path, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, str(script_dir / "probe.py"), "--timeout", "60", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report: dict = json.loads(proc.stdout)
    return report


def test_probe_adds_page_alignment_only_when_asked(tmp_path: Path) -> None:
    for name in ("probe.py", "bench.py", "pagesize.py"):
        (tmp_path / name).write_bytes((CONTAINER / name).read_bytes())
    assert "page_alignment" not in _probe(tmp_path)
    report = _probe(tmp_path, "--page-alignment")
    section = report["page_alignment"]
    assert section["page_size"] == 16384 and section["scanned"] > 0  # this venv's NumPy at least
    assert section["directories"] == pagesize.default_directories()
    schemas.validate("probe-output", report, where="probe with --page-alignment")


def test_probe_without_pagesize_beside_it_says_so(tmp_path: Path) -> None:
    (tmp_path / "probe.py").write_bytes((CONTAINER / "probe.py").read_bytes())
    section = _probe(tmp_path, "--page-alignment")["page_alignment"]
    assert section == {"error": f"{tmp_path / 'pagesize.py'} is missing: it is copied beside probe.py"}
