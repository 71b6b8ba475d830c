"""The bookworm matrix on the real engine: amd64 native, arm64 and arm/v7 under QEMU (Debian 12, NumPy 2.3.5)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from conftest import REPO, CliRun, containers_of, npmatrix

from npmatrix.config import matrix
from npmatrix.host import emulator
from npmatrix.host.engine import LABEL, Engine
from npmatrix.plan import cellplan as plan
from npmatrix.run import probe, reuse


def _gemm(cell: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for run in cell["probe"]["bench"]["runs"] for r in run["results"]]


def test_run_exits_0_when_every_cell_is_as_expected(bookworm_run: CliRun) -> None:
    assert bookworm_run.returncode == 0, bookworm_run.stdout + bookworm_run.stderr
    document = bookworm_run.results
    assert document["schema_version"] == 2
    assert document["complete"] is True
    assert [c["name"] for c in document["cells"]] == ["colab-like", "pi64", "pi32-pip", "pi32-apt"]
    assert all(c["as_expected"] for c in document["cells"])


def test_table_shows_every_cell_and_its_status(bookworm_run: CliRun) -> None:
    for name, status in [("colab-like", "ok"), ("pi64", "ok"), ("pi32-pip", "no-wheel"), ("pi32-apt", "ok")]:
        row = next(line for line in bookworm_run.stdout.splitlines() if line.startswith(name + " "))
        assert f" {status}" in row, row
    assert "all as expected" in bookworm_run.stdout


def _assert_works(cell: dict[str, Any], machine: str, numpy_version: str, emulated: bool) -> None:
    assert cell["status"] == "ok", cell["reason"]
    assert (cell["placement"]["emulator"] == "binfmt") is emulated
    probe = cell["probe"]
    assert probe["platform"]["machine"] == machine
    assert probe["numpy"]["version"] == numpy_version
    gemm = _gemm(cell)
    assert {r["dtype"] for r in gemm} == {"float32", "float64"}
    assert {run["threads"] for run in probe["bench"]["runs"]} == {"single", "all"}
    for r in gemm:
        assert r["ok"], r
        assert r["gflops_median"] > 0
        assert r["max_rel_error"] <= r["tolerance"]
        assert len(r["times_s"]) >= 5


def test_colab_like_is_x86_64_with_a_manylinux_wheel(bookworm_run: CliRun) -> None:
    cell = bookworm_run.cell("colab-like")
    _assert_works(cell, "x86_64", "2.3.5", emulated=False)
    install = cell["probe"]["numpy"]["install"]
    assert install["source"] == "wheel"
    assert any(t.endswith("x86_64") and "manylinux" in t for t in install["wheel_tags"])
    assert not cell["probe"]["numpy"]["ldd"]["not_found"]
    assert max(r["n"] for r in _gemm(cell)) >= 1024  # native cells get full-size GEMMs


def test_pi64_is_aarch64_under_qemu_as_a_cortex_a72(bookworm_run: CliRun) -> None:
    cell = bookworm_run.cell("pi64")
    _assert_works(cell, "aarch64", "2.3.5", emulated=True)
    assert cell["placement"]["qemu_cpu"] == "cortex-a72"
    assert cell["probe"]["env"].get("QEMU_CPU") == "cortex-a72"
    assert max(r["n"] for r in _gemm(cell)) <= 256  # emulated cells get small GEMMs


def test_pi32_apt_runs_debians_numpy_on_armv7l(bookworm_run: CliRun) -> None:
    cell = bookworm_run.cell("pi32-apt")
    _assert_works(cell, "armv7l", "1.24.2", emulated=True)
    assert cell["probe"]["numpy"]["install"]["source"] == "debian"


def test_pi32_pip_fails_for_want_of_an_armv7l_wheel(bookworm_run: CliRun) -> None:
    cell = bookworm_run.cell("pi32-pip")
    assert cell["status"] == "no-wheel"
    assert "linux_armv7l" in cell["reason"]
    assert "python3-numpy" in cell["fix"]
    assert any("No matching distribution" in line or "Could not find a version" in line for line in cell["evidence"])
    log = Path(cell["logs"]["build"]).read_text()
    assert "armv7l" in log  # pip's compatible tags, printed by the Dockerfile


def test_no_container_is_left_behind(bookworm_run: CliRun, engine: Engine) -> None:
    assert containers_of(engine, bookworm_run.results) == []


def test_ca_and_pip_config_reach_no_layer(bookworm_run: CliRun, docker_client: Any) -> None:
    tag = bookworm_run.cell("colab-like")["image"]["tag"]
    image = docker_client.images.get(tag)
    history = " ".join(str(h.get("CreatedBy", "")) for h in image.history())
    config = str(image.attrs["Config"])
    for secret_trace in ("BEGIN CERTIFICATE", "cert =", "index-url ="):
        assert secret_trace not in history
        assert secret_trace not in config
    assert "PIP_CONFIG_FILE=/run/secrets/pipconf" in history  # pip read its settings from the secret mount
    listing = docker_client.containers.run(
        tag,
        ["sh", "-c", "ls -A /run/secrets 2>/dev/null | wc -l"],
        network_mode="none",
        remove=True,
        labels={LABEL: "1"},
    )
    assert listing.decode().strip() == "0"


def test_second_run_reuses_base_and_cell_images(bookworm_run: CliRun, tmp_path: Any) -> None:
    again = npmatrix("run", "--matrix", "bookworm", "--cell", "colab-like", "--out", str(tmp_path), out_dir=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.cell("colab-like")["image"]["reused"] is True
    assert "mmdebstrap" not in again.stderr
    bases = npmatrix("base", "build", "--matrix", "bookworm", "--log-dir", str(tmp_path / "logs"), out_dir=tmp_path)
    assert bases.returncode == 0
    assert bases.stdout.count(": present") == 3, bases.stdout


def test_doctor_passes_once_the_matrix_ran(bookworm_run: CliRun, tmp_path: Any) -> None:
    checked = npmatrix("doctor", "--matrix", "bookworm", out_dir=tmp_path)
    assert checked.returncode == 0, checked.stdout
    rows = checked.stdout.splitlines()
    for line in ("engine", "builder", "QEMU arm64", "QEMU arm/v7", "base bookworm amd64", "base bookworm arm/v7"):
        assert any(row.startswith("ok") and line in row for row in rows), line
    # The builder doctor found is the one that builds here: BuildKit through a docker CLI that has it built in
    # (or its buildx plugin), never the legacy builder, which has no secrets or cache mounts.
    (builder,) = [row for row in rows if row.split()[1:2] == ["builder"]]
    assert "DOCKER_BUILDKIT=1" in builder or "buildx" in builder, builder


def test_rendered_dockerfiles_match_what_was_built(bookworm_run: CliRun, tmp_path: Any) -> None:
    rendered = npmatrix("render", "--matrix", "bookworm", "--out", str(tmp_path), out_dir=tmp_path)
    assert rendered.returncode == 0
    for cell in bookworm_run.results["cells"]:
        dockerfile = (tmp_path / f"{cell['name']}.Dockerfile").read_bytes()
        digest = hashlib.sha256(dockerfile).hexdigest()[:12]
        assert cell["image"]["tag"] == f"npmatrix-cell:{cell['name']}-{digest}"


def test_clean_removes_superseded_cell_images_and_keeps_current_ones(
    bookworm_run: CliRun, docker_client: Any, engine: Engine
) -> None:
    current = bookworm_run.cell("colab-like")["image"]["tag"]
    stale = "npmatrix-cell:colab-like-000000000000"
    docker_client.images.get(current).tag(stale)
    cleaned = npmatrix("clean", "--matrix", "bookworm", "--cell", "colab-like", out_dir=bookworm_run.out_dir)
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"removed image {stale}" in cleaned.stdout
    assert engine.image_id(stale) is None
    assert engine.image_id(current) is not None


def test_a_rerun_reuses_the_emulated_benchmark_and_times_the_native_one_again(
    bookworm_run: CliRun, tmp_path: Any
) -> None:
    """--reuse-results --reuse-bench emulated on the real engine: the QEMU cell's probe and GEMM numbers come from
    the first run, under a key that names this machine's qemu-arm; the native cell's benchmark is timed again."""
    cells = ("--cell", "colab-like", "--cell", "pi32-apt")
    reuse_args = ("--reuse-results", str(bookworm_run.out_dir), "--reuse-bench", "emulated")
    again = npmatrix("run", "--matrix", "bookworm", *cells, "--out", str(tmp_path), *reuse_args, out_dir=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    pi32, first_pi32 = again.cell("pi32-apt"), bookworm_run.cell("pi32-apt")
    assert pi32["reused"] == ["probe", "bench"] and "probe and bench reused" in again.stdout
    assert pi32["probe"]["bench"] == first_pi32["probe"]["bench"] and "bench" not in pi32["durations_s"]
    colab = again.cell("colab-like")
    assert colab["reused"] == ["probe"] and colab["durations_s"]["bench"] > 0
    assert colab["probe"]["bench"]["ran"] is True
    assert colab["probe"]["bench"] != bookworm_run.cell("colab-like")["probe"]["bench"]  # new timings
    # The key holds the emulator this machine's binfmt handler runs: computed here from /proc, it is the same.
    (planned,) = plan.plan(matrix.load(REPO / "matrix" / "bookworm.toml").select(names=["pi32-apt"]))
    planned = plan.place(planned, "amd64")
    qemu = emulator.identity(planned.platform, local=True)
    assert qemu is not None and qemu.startswith("qemu-arm ")
    files = probe.files_for(planned)
    assert pi32["reuse_key"] == reuse.probe_key(planned, image_id=pi32["image"]["id"], files=files, emulator=qemu)
    assert pi32["reuse_key"] == first_pi32["reuse_key"]
