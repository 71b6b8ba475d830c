"""scripts/piwheels-standin's wheel-making functions, on a small fake tree: no network, no dpkg-deb."""

from __future__ import annotations

import base64
import hashlib
import importlib.machinery
import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from packaging.utils import parse_wheel_filename

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "piwheels-standin"


def _load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("piwheels_standin", str(SCRIPT))
    spec = importlib.util.spec_from_loader("piwheels_standin", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


standin = _load()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A dist-packages tree shaped like Debian's: a package, a link into -dev that is not there, a cache."""
    site = tmp_path / "dist-packages"
    core = site / "numpy" / "_core"
    core.mkdir(parents=True)
    (site / "numpy" / "__init__.py").write_text("version = '9.9'\n")
    (core / "_multiarray_umath.cpython-313-arm-linux-gnueabihf.so").write_bytes(b"\x7fELF fake")
    (core / "_multiarray_umath.cpython-313-arm-linux-gnueabihf.so").chmod(0o755)
    (core / "include").symlink_to("../../../../arm-linux-gnueabihf/python3-numpy/numpy/_core/include")
    (site / "numpy" / "__pycache__").mkdir()
    (site / "numpy" / "__pycache__" / "__init__.cpython-313.pyc").write_bytes(b"stale")
    info = site / "numpy-9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 9.9\nSummary: upstream's\n")
    (info / "INSTALLER").write_text("debian\n")
    return site


@pytest.mark.parametrize(
    ("debian", "upstream"),
    [("1:2.2.4+ds-1", "2.2.4"), ("2.3.3-2", "2.3.3"), ("1:2.4.0~rc1+dfsg-1", "2.4.0"), ("2.1.3", "2.1.3")],
)
def test_upstream_version_drops_epoch_revision_and_repack_suffix(debian: str, upstream: str) -> None:
    assert standin.upstream_version(debian) == upstream


def test_record_hash_is_urlsafe_base64_sha256_without_padding() -> None:
    data = b"numpy"
    expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert standin.record_hash(data) == f"sha256={expected}"
    assert "=" not in standin.record_hash(data).removeprefix("sha256=")


def test_wheel_text_declares_the_armv7l_tag_and_platlib() -> None:
    text = standin.wheel_text("cp313-cp313-linux_armv7l")
    assert "Tag: cp313-cp313-linux_armv7l\n" in text
    assert "Root-Is-Purelib: false\n" in text
    assert text.startswith("Wheel-Version: 1.0\n")


def test_package_files_leave_out_links_outside_the_tree_and_bytecode(site: Path) -> None:
    files, skipped = standin.package_files(site, "numpy")
    assert sorted(files) == ["numpy/__init__.py", "numpy/_core/_multiarray_umath.cpython-313-arm-linux-gnueabihf.so"]
    assert skipped == ["numpy/_core/include"]


def test_built_wheel_has_a_record_hash_for_every_file(site: Path, tmp_path: Path) -> None:
    wheel = standin.build_wheel(site, name="numpy", version="9.9", tag=standin.TAG, dest=tmp_path)
    name, version, _, tags = parse_wheel_filename(wheel.name)
    assert (name, str(version), {str(t) for t in tags}) == ("numpy", "9.9", {"cp313-cp313-linux_armv7l"})
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        record = archive.read("numpy-9.9.dist-info/RECORD").decode().splitlines()
        rows = {path: (digest, size) for path, digest, size in (line.split(",") for line in record)}
        assert set(rows) == names
        assert rows.pop("numpy-9.9.dist-info/RECORD") == ("", "")
        for path, (digest, size) in rows.items():
            data = archive.read(path)
            assert digest == standin.record_hash(data), path
            assert int(size) == len(data), path
        assert "Tag: cp313-cp313-linux_armv7l" in archive.read("numpy-9.9.dist-info/WHEEL").decode()
        assert "Summary: upstream's" in archive.read("numpy-9.9.dist-info/METADATA").decode()
        so = archive.getinfo("numpy/_core/_multiarray_umath.cpython-313-arm-linux-gnueabihf.so")
        assert (so.external_attr >> 16) & 0o777 == 0o755
    assert "numpy-9.9.dist-info/INSTALLER" not in names
    assert not any("__pycache__" in n or "include" in n for n in names)


def test_wheel_is_reproducible(site: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    a = standin.build_wheel(site, name="numpy", version="9.9", tag=standin.TAG, dest=first)
    b = standin.build_wheel(site, name="numpy", version="9.9", tag=standin.TAG, dest=second)
    assert a.read_bytes() == b.read_bytes()


def test_metadata_is_written_when_debian_has_none(site: Path, tmp_path: Path) -> None:
    (site / "numpy-9.9.dist-info" / "METADATA").unlink()
    wheel = standin.build_wheel(site, name="numpy", version="9.9", tag=standin.TAG, dest=tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("numpy-9.9.dist-info/METADATA").decode() == (
            "Metadata-Version: 2.1\nName: numpy\nVersion: 9.9\n"
        )


def test_project_index_links_the_wheel_with_its_sha256() -> None:
    page = standin.project_index_html("numpy", "numpy-9.9-cp313-cp313-linux_armv7l.whl", "ab" * 32)
    href = f'href="numpy-9.9-cp313-cp313-linux_armv7l.whl#sha256={"ab" * 32}"'
    assert href in page
    assert page.startswith("<!DOCTYPE html>")
    assert standin.root_index_html(["numpy"]).count('<a href="numpy/">numpy</a>') == 1


def test_dependency_for_names_the_real_package_of_a_soname() -> None:
    depends = "python3 (>= 3.13~), libblas3 | libblas.so.3, libc6 (>= 2.38), liblapack3 | liblapack.so.3"
    assert standin.dependency_for("libblas.so.3", depends) == "libblas3"
    assert standin.dependency_for("liblapack.so.3", depends) == "liblapack3"
    assert standin.dependency_for("libopenblas.so.0", depends) is None


def test_find_stanza_joins_continuation_lines_and_refuses_a_missing_package() -> None:
    index = "Package: other\nVersion: 1\n\nPackage: python3-numpy\nVersion: 1:2.2.4+ds-1\nTag: a,\n b\n"
    assert standin.find_stanza(index, "python3-numpy")["Tag"] == "a,\nb"
    with pytest.raises(SystemExit, match="not in the Packages index"):
        standin.find_stanza(index, "python3-scipy")


def test_cached_record_is_ignored_once_the_wheel_changed(tmp_path: Path) -> None:
    wheel = tmp_path / "w.whl"
    wheel.write_bytes(b"wheel")
    record = {"suite": "trixie", "wheel": str(wheel), "wheel_sha256": hashlib.sha256(b"wheel").hexdigest()}
    (tmp_path / "standin.json").write_text(standin.json.dumps(record))
    assert standin.cached(tmp_path, "trixie") == record
    assert standin.cached(tmp_path, "bookworm") is None
    wheel.write_bytes(b"changed")
    assert standin.cached(tmp_path, "trixie") is None
