"""The `rootfs` key (issue 17): a cell's own root filesystem, read and hashed with the matrix, refused on its own
line when it cannot be one, made into the cell's base image instead of a Debian recipe, let past the ARMv6 check."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from npmatrix.config import localinputs, matrix
from npmatrix.errors import ConfigError
from npmatrix.host import process
from npmatrix.judge.before import before_build
from npmatrix.plan import cellplan
from npmatrix.plan.render import base_dockerfile
from npmatrix.records import results, schemas
from npmatrix.run import build
from npmatrix.verdict import Status

PI0_V6 = 'platform = "arm/v6"\nboard = "pi0"\ninstall = "apt"'


def _tar(path: Path, *, files: dict[str, bytes] | None = None, mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for name, data in (files if files is not None else {"usr/bin/python3": b"#!elf"}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _cells(tmp_path: Path, body: str) -> tuple[matrix.Cell, ...]:
    text = f'[[cell]]\nname = "c"\n{body}\n'
    return matrix.loads(text, source=str(tmp_path / "m.toml")).cells


def _plan(tmp_path: Path, body: str) -> cellplan.CellPlan:
    return cellplan.place(cellplan.plan_cell(_cells(tmp_path, body)[0]), "amd64")


def _refusal(tmp_path: Path, body: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _cells(tmp_path, body)
    return str(caught.value)


def test_a_rootfs_is_read_relative_to_the_matrix_and_hashed(tmp_path: Path) -> None:
    tarball = _tar(tmp_path / "raspios.tar")
    (cell,) = _cells(tmp_path, f'{PI0_V6}\nrootfs = "raspios.tar"')
    assert cell.rootfs == localinputs.LocalInput(path=str(tarball), sha256=localinputs.file_sha256(tarball))


def test_a_compressed_tar_is_a_tar_too(tmp_path: Path) -> None:
    _tar(tmp_path / "raspios.tar.xz", mode="w:xz")  # Docker's ADD unpacks xz, gzip and bzip2 tars as well
    (cell,) = _cells(tmp_path, f'{PI0_V6}\nrootfs = "raspios.tar.xz"')
    assert cell.rootfs is not None


def test_rootfs_with_base_image_is_refused(tmp_path: Path) -> None:
    _tar(tmp_path / "raspios.tar")
    digest = "debian@sha256:" + "a" * 64
    message = _refusal(tmp_path, f'{PI0_V6}\nrootfs = "raspios.tar"\nbase_image = "{digest}"')
    assert "(c).rootfs" in message and "give one of them" in message
    assert "\n" not in message


def test_a_missing_rootfs_is_refused_naming_the_key(tmp_path: Path) -> None:
    message = _refusal(tmp_path, f'{PI0_V6}\nrootfs = "nowhere.tar"')
    assert "(c).rootfs" in message and "nowhere.tar" in message
    assert "cannot read root filesystem tarball: No such file or directory" in message


def test_a_folder_is_not_a_rootfs(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    message = _refusal(tmp_path, f'{PI0_V6}\nrootfs = "root"')
    assert "(c).rootfs" in message and "not a file (rootfs names a tarball of a root filesystem" in message


def test_an_unreadable_rootfs_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tar(tmp_path / "raspios.tar")

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", denied)  # as root, chmod 000 does not stop a read
    message = _refusal(tmp_path, f'{PI0_V6}\nrootfs = "raspios.tar"')
    assert "(c).rootfs" in message and "cannot read root filesystem tarball: Permission denied" in message


def test_a_disk_image_is_not_a_tar(tmp_path: Path) -> None:
    (tmp_path / "raspios.img").write_bytes(b"\xfa\xb8\x00\x10" + b"\0" * 4096)  # an MBR boot sector, no tar
    message = _refusal(tmp_path, f'{PI0_V6}\nrootfs = "raspios.img"')
    assert "(c).rootfs" in message and "not a tar archive" in message and "not a disk image (.img)" in message
    assert "\n" not in message


def test_an_empty_tar_is_no_rootfs(tmp_path: Path) -> None:
    _tar(tmp_path / "empty.tar", files={})
    message = _refusal(tmp_path, f'{PI0_V6}\nrootfs = "empty.tar"')
    assert "(c).rootfs" in message and "an empty tar archive" in message


def test_an_armv6_board_with_a_rootfs_on_arm_v7_is_told_its_platform(tmp_path: Path) -> None:
    _tar(tmp_path / "raspios.tar")
    message = _refusal(tmp_path, 'platform = "arm/v7"\nboard = "pi0"\ninstall = "apt"\nrootfs = "raspios.tar"')
    assert "(c).board" in message and 'a rootfs for it is platform = "arm/v6"' in message


def test_the_base_recipe_is_the_rootfs_with_its_hash_in_the_tag(tmp_path: Path) -> None:
    tarball = _tar(tmp_path / "raspios.tar")
    first = _plan(tmp_path, f'{PI0_V6}\nrootfs = "raspios.tar"')
    assert first.base is not None and first.base.rootfs == first.cell.rootfs
    assert first.base.tag.startswith("npmatrix-base:rootfs-arm-v6-")
    assert first.base_image == first.base.tag and f"FROM {first.base.tag}" in first.dockerfile
    dockerfile = base_dockerfile(first.base)
    assert f"# rootfs: sha256:{localinputs.file_sha256(tarball)}" in dockerfile and "ADD rootfs.tar /" in dockerfile
    assert "mmdebstrap" not in dockerfile and "packages:" not in dockerfile
    _tar(tarball, files={"usr/bin/python3": b"#!another elf"})
    changed = _plan(tmp_path, f'{PI0_V6}\nrootfs = "raspios.tar"')
    assert changed.base is not None and changed.base.tag != first.base.tag  # a changed tarball: a new base
    assert changed.image_tag != first.image_tag  # and so a new cell image


def test_a_rootfs_cell_keeps_its_own_apt_caches(tmp_path: Path) -> None:
    _tar(tmp_path / "raspios.tar")
    plan = _plan(tmp_path, f'{PI0_V6}\nrootfs = "raspios.tar"')
    assert plan.cell.rootfs is not None
    key = f"rootfs-{plan.cell.rootfs.short}-arm-v6"
    assert f"id=npmatrix-apt-{key}," in plan.dockerfile and f"id=npmatrix-apt-lists-{key}," in plan.dockerfile
    assert "npmatrix-apt-bookworm-arm-v6" not in plan.dockerfile  # not Debian armhf's lists, nor another rootfs's
    debian = _plan(tmp_path, 'platform = "arm/v7"\ninstall = "apt"')
    assert "id=npmatrix-apt-bookworm-arm-v7," in debian.dockerfile


def test_the_suite_is_no_part_of_a_rootfs_base_but_the_platform_is(tmp_path: Path) -> None:
    _tar(tmp_path / "raspios.tar")
    tags = {
        body: _plan(tmp_path, f'rootfs = "raspios.tar"\ninstall = "apt"\n{body}').base_image
        for body in ('platform = "arm/v6"', 'platform = "arm/v6"\nsuite = "trixie"', 'platform = "arm/v7"')
    }
    assert len(set(tags.values())) == 2
    assert tags['platform = "arm/v6"'] == tags['platform = "arm/v6"\nsuite = "trixie"']


def test_a_debian_base_is_unchanged_by_the_rootfs_key(tmp_path: Path) -> None:
    plan = _plan(tmp_path, 'platform = "arm/v7"\ninstall = "apt"')
    assert plan.base is not None and plan.base.rootfs is None
    assert plan.base.tag.startswith("npmatrix-base:bookworm-arm-v7-") and plan.base.label == "bookworm arm/v7"
    assert "# packages: python3 python3-pip python3-venv ca-certificates" in base_dockerfile(plan.base)


def test_a_pi0_on_arm_v6_with_a_rootfs_is_left_to_run_as_arm1176(tmp_path: Path) -> None:
    _tar(tmp_path / "raspios.tar")
    plan = _plan(tmp_path, f'{PI0_V6}\nrootfs = "raspios.tar"')
    assert plan.placement.qemu_cpu == "arm1176"
    assert before_build(plan) is None


@pytest.mark.parametrize("body", [PI0_V6, 'platform = "arm/v6"\ncpu = "pi1"\ninstall = "apt"'])
def test_arm_v6_without_a_rootfs_is_still_debian_armhf_and_cpu_unsupported(tmp_path: Path, body: str) -> None:
    verdict = before_build(_plan(tmp_path, body))
    assert verdict is not None and verdict.status is Status.CPU_UNSUPPORTED
    assert "is an ARMv6 CPU and platform arm/v6 without a rootfs is Debian's armhf, which is built for ARMv7" in (
        verdict.reason
    )
    assert verdict.fix is not None and 'rootfs = "raspios-armhf.tar"' in verdict.fix
    assert "platform arm/v6 (Debian armhf: ARMv7 and VFPv3-D16 at least)" in verdict.evidence


def test_the_armv6_fix_on_arm_v7_names_the_rootfs_key(tmp_path: Path) -> None:
    verdict = before_build(_plan(tmp_path, 'platform = "arm/v7"\nboard = "pi0"\ninstall = "apt"'))
    assert verdict is not None and verdict.fix is not None
    assert 'platform = "arm/v6" with rootfs = "raspios-armhf.tar"' in verdict.fix and "docs/boards.md" in verdict.fix


def test_the_base_image_is_made_from_the_tarball_without_mmdebstrap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = _tar(tmp_path / "raspios.tar")
    plan = _plan(tmp_path, f'{PI0_V6}\nrootfs = "raspios.tar"')
    assert plan.base is not None
    seen: dict[str, Any] = {}
    monkeypatch.setattr(build.shutil, "which", lambda name: pytest.fail("mmdebstrap was looked for"))

    class Builder:
        env = None

        def build_argv(self, *, context: Path, tag: str, oci_platform: str) -> list[str]:
            seen.update(
                tag=tag,
                platform=oci_platform,
                files=sorted(p.name for p in context.iterdir()),
                tar=(context / "rootfs.tar").read_bytes(),
            )
            return ["build"]

    class Engine:
        def __init__(self) -> None:
            self.images: dict[str, str] = {}

        def image_id(self, tag: str) -> str | None:
            return self.images.get(tag)

    engine = Engine()

    def fake_run(argv: list[str], **kwargs: Any) -> process.Completed:
        engine.images[plan.base_image] = "sha256:base"
        return process.Completed(argv=tuple(argv), exit_code=0, output="loaded\n", duration_s=1.0)

    monkeypatch.setattr(process, "run", fake_run)
    outcome = build.ensure_base(
        plan.base, builder=Builder(), engine=engine, log_path=tmp_path / "logs" / "base.log", progress=lambda m: None
    )  # type: ignore[arg-type]
    assert outcome.ok and outcome.image_id == "sha256:base"
    assert seen == {
        "tag": plan.base_image,
        "platform": "linux/arm/v6",
        "files": ["Dockerfile", "rootfs.tar"],
        "tar": tarball.read_bytes(),
    }
    assert f"rootfs {tarball} (sha256:" in (tmp_path / "logs" / "base.log").read_text()


def test_a_tarball_changed_since_the_matrix_was_read_is_refused_at_the_build(tmp_path: Path) -> None:
    tarball = _tar(tmp_path / "raspios.tar")
    (cell,) = _cells(tmp_path, f'{PI0_V6}\nrootfs = "raspios.tar"')
    _tar(tarball, files={"etc/os-release": b"another"})
    context = tmp_path / "context"
    context.mkdir()
    assert cell.rootfs is not None
    with pytest.raises(ValueError, match="changed since the matrix was read"):
        localinputs.link_rootfs_into(context, cell.rootfs, name="rootfs.tar")


def test_rootfs_is_in_results_json_only_when_set_and_reads_back(tmp_path: Path) -> None:
    _tar(tmp_path / "raspios.tar")
    (with_rootfs,) = _cells(tmp_path, f'{PI0_V6}\nrootfs = "raspios.tar"')
    (without,) = _cells(tmp_path, PI0_V6)
    assert "rootfs" not in results._inputs(without)  # earlier files are written again byte for byte
    record = results._inputs(with_rootfs)
    assert record["rootfs"]["sha256"] == with_rootfs.rootfs.sha256  # type: ignore[union-attr]
    assert results.cell_from_json(json.loads(json.dumps(record))) == with_rootfs
    inputs_schema = schemas.schema("results")["definitions"]["cell"]["properties"]["inputs"]
    assert "rootfs" in inputs_schema["properties"]
    jsonschema.validate(record["rootfs"], inputs_schema["properties"]["rootfs"])
    assert dataclasses.replace(with_rootfs, rootfs=None) == without
