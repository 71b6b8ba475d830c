"""Plans: content-addressed tags, base images, emulation and the probe's command line. Pure functions."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from npmatrix.config import matrix, platforms
from npmatrix.plan.cellplan import (
    CELL_REPOSITORY,
    EMULATED_SIZES,
    NATIVE_SIZES,
    CellPlan,
    bases_needed,
    place,
    plan,
    plan_cell,
    superseded,
)
from npmatrix.plan.protocol import PROBE_DIR

REPO = Path(__file__).resolve().parents[2]
DEFAULT = matrix.load(REPO / "matrix" / "bookworm.toml")


def cell(name: str = "c", **extra: Any) -> matrix.Cell:
    raw = {"name": name, "platform": "amd64", "numpy": "2.3.5", **extra}
    (only,) = matrix.parse({"cell": [raw]}).cells
    return only


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Pretend the host is a given platform: plan_cell places cells on host_platform_name()'s engine."""

    def set_host(name: str | None) -> None:
        monkeypatch.setattr(platforms, "host_platform_name", lambda: name)

    return set_host


# --- content-addressed tags ---------------------------------------------------------------------------


def test_same_cell_same_tag() -> None:
    assert plan_cell(cell()).image_tag == plan_cell(cell()).image_tag


def test_tag_names_the_repository_and_cell() -> None:
    tag = plan_cell(cell("colab-like")).image_tag
    repository, _, rest = tag.partition(":")
    assert repository == CELL_REPOSITORY
    assert rest.startswith("colab-like-")
    assert len(rest.removeprefix("colab-like-")) == 12


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"numpy": "2.3.4"}, id="numpy-pin"),
        pytest.param({"pip": "==23.3"}, id="pip-pin"),
        pytest.param({"packages": ["scipy==1.11.4"]}, id="packages"),
        pytest.param({"only_binary": False}, id="only-binary"),
        pytest.param({"suite": "trixie"}, id="suite-changes-base"),
        pytest.param({"platform": "arm64"}, id="platform"),
        pytest.param({"apt": ["libopenblas0"]}, id="apt"),
    ],
)
def test_changing_what_is_built_changes_the_tag(change: dict[str, Any]) -> None:
    before, after = plan_cell(cell()), plan_cell(cell(**change))
    assert before.dockerfile != after.dockerfile
    assert before.image_tag != after.image_tag


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"expect": "crashed"}, id="expect"),
        pytest.param({"timeout": 60}, id="timeout"),
        pytest.param({"note": "hello"}, id="note"),
        pytest.param({"imports": ["scipy"]}, id="imports"),
    ],
)
def test_changing_only_how_a_cell_is_judged_keeps_the_image(change: dict[str, Any]) -> None:
    # Reuse matters: building NumPy images under QEMU takes minutes each.
    assert plan_cell(cell()).image_tag == plan_cell(cell(**change)).image_tag


def test_pinned_base_image_is_used_as_is() -> None:
    image = "debian:bookworm@sha256:" + "b" * 64
    p = plan_cell(cell(base_image=image))
    assert p.base is None
    assert p.base_image == image
    assert f"FROM {image}\n" in p.dockerfile


# --- base images --------------------------------------------------------------------------------------


def test_bases_needed_dedups_in_first_use_order() -> None:
    plans = plan(DEFAULT)
    bases = bases_needed(plans)
    # four cells, three platforms: the two arm/v7 cells share one base
    assert [(b.suite, b.platform.name) for b in bases] == [
        ("bookworm", "amd64"),
        ("bookworm", "arm64"),
        ("bookworm", "arm/v7"),
    ]
    assert len({b.tag for b in bases}) == 3
    assert [p.base.tag for p in plans if p.base] == [bases[0].tag, bases[1].tag, bases[2].tag, bases[2].tag]


def test_bases_needed_skips_cells_with_a_pinned_base() -> None:
    plans = (
        plan_cell(cell("a", base_image="debian@sha256:" + "c" * 64)),
        plan_cell(cell("b", suite="trixie")),
        plan_cell(cell("c", suite="trixie", numpy="1.26.4")),
    )
    assert [(b.suite, b.platform.name) for b in bases_needed(plans)] == [("trixie", "amd64")]


def test_base_tag_differs_per_suite_and_platform() -> None:
    tags = {plan_cell(cell(suite=s, platform=p)).base_image for s in ("bookworm", "trixie") for p in ("amd64", "arm64")}
    assert len(tags) == 4


# --- emulation and benchmark sizes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host_name", "platform", "emulated", "sizes"),
    [
        ("amd64", "amd64", False, NATIVE_SIZES),
        ("amd64", "arm64", True, EMULATED_SIZES),
        ("amd64", "arm/v7", True, EMULATED_SIZES),
        ("arm64", "arm64", False, NATIVE_SIZES),
        ("arm64", "amd64", True, EMULATED_SIZES),
        (None, "amd64", True, EMULATED_SIZES),  # an unknown host machine: everything is emulated
    ],
)
def test_emulated_cells_get_small_sizes(
    host: Any, host_name: str | None, platform: str, emulated: bool, sizes: tuple[int, ...]
) -> None:
    host(host_name)
    p = plan_cell(cell(platform=platform))
    assert (p.placement.emulator == "binfmt") is emulated
    assert p.bench_sizes == sizes
    assert max(EMULATED_SIZES) < max(NATIVE_SIZES)


def test_a_cpu_model_means_small_sizes_even_on_a_native_platform(host: Any) -> None:
    # Native amd64, but the CPU model runs the probe under qemu-x86_64: not binfmt, and still QEMU's speed.
    host("amd64")
    p = plan_cell(cell(platform="amd64", cpu="x86-64-v1"))
    assert p.placement.emulator == "qemu-x86_64"
    assert p.bench_sizes == EMULATED_SIZES


def test_a_cpu_model_a_native_arm_engine_cannot_apply_is_planned_as_not_applied(host: Any) -> None:
    # Issue 18: this plan used to keep the model (small sizes, "under QEMU") until `place` dropped it on the
    # same arm64 machine. The plan now places a cell on this machine's engine by the same rule as `place`.
    host("arm64")
    p = plan_cell(cell(platform="arm64", cpu="pi4"))
    assert (p.placement.emulator, p.placement.qemu_cpu, p.placement.cpu_not_applied) == (None, None, True)
    assert p.bench_sizes == NATIVE_SIZES
    assert p == place(p, "arm64")


def test_default_plan_on_an_x86_64_host(host: Any) -> None:
    host("amd64")
    assert [(p.cell.name, p.placement.under_qemu, p.placement.qemu_cpu) for p in plan(DEFAULT)] == [
        ("colab-like", False, None),
        ("pi64", True, "cortex-a72"),
        ("pi32-pip", True, "cortex-a15"),
        ("pi32-apt", True, "cortex-a15"),
    ]


# --- environment --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "cpu", "environment"),
    [
        ("arm64", "pi4", {"QEMU_CPU": "cortex-a72"}),
        ("arm64", "pi3", {"QEMU_CPU": "cortex-a53"}),
        ("arm/v7", "pi2", {"QEMU_CPU": "cortex-a7"}),
        ("arm/v7", "pi1", {"QEMU_CPU": "arm1176"}),
        ("arm/v6", "pi1", {"QEMU_CPU": "arm1176"}),
        ("arm64", None, {}),
        ("arm/v7", None, {}),
        ("amd64", None, {}),
    ],
)
def test_qemu_cpu_environment_for_emulated_cells(
    host: Any, platform: str, cpu: str | None, environment: dict[str, str]
) -> None:
    host("amd64")
    extra = {"cpu": cpu} if cpu else {}
    p = plan_cell(cell(platform=platform, **extra))
    assert p.environment == environment
    assert "NPMATRIX_EXEC_PREFIX" not in p.environment


@pytest.mark.parametrize("cpu", ["x86-64-v1", "colab"])
def test_amd64_cpu_model_reaches_the_probe_on_an_amd64_host(host: Any, cpu: str) -> None:
    # binfmt does not apply to native binaries: the model only takes effect if the probe's children run
    # under qemu-x86_64, which NPMATRIX_EXEC_PREFIX names.
    host("amd64")
    p = plan_cell(cell(platform="amd64", cpu=cpu))
    model = platforms.presets().cpus[cpu].qemu["amd64"]
    assert p.placement.qemu_cpu == model
    assert p.environment.get("QEMU_CPU") == model
    assert p.environment.get("NPMATRIX_EXEC_PREFIX", "").endswith("qemu-x86_64-static")


def test_amd64_cpu_model_on_a_foreign_host_needs_no_exec_prefix(host: Any) -> None:
    # There the whole container already runs under qemu-x86_64 through binfmt, which reads QEMU_CPU.
    host("arm64")
    p = plan_cell(cell(platform="amd64", cpu="x86-64-v1"))
    assert p.placement.emulator == "binfmt"
    assert set(p.environment) == {"QEMU_CPU"}


# --- probe command line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("imports", "expected"),
    [
        ((), []),
        (("scipy",), ["--import", "scipy"]),
        (("scipy", "sklearn.linear_model"), ["--import", "scipy", "--import", "sklearn.linear_model"]),
    ],
)
def test_probe_argv_imports(imports: tuple[str, ...], expected: list[str]) -> None:
    argv = plan_cell(cell(imports=list(imports))).probe_command().argv()
    pairs = [argv[i : i + 2] for i, a in enumerate(argv) if a == "--import"]
    assert [x for pair in pairs for x in pair] == expected


def test_probe_argv_shape(host: Any) -> None:
    host("amd64")
    argv = plan_cell(cell(timeout=300)).probe_command().argv()
    assert argv[:2] == ["/opt/venv/bin/python3", f"{PROBE_DIR}/probe.py"]
    assert "--bench" in argv
    assert argv[argv.index("--sizes") + 1] == ",".join(map(str, NATIVE_SIZES))
    # each child gets a third of the cell's limit
    assert argv[argv.index("--timeout") + 1] == "100"
    assert argv[argv.index("--bench-timeout") + 1] == "100"


def test_probe_child_timeout_has_a_floor() -> None:
    argv = plan_cell(cell(timeout=30)).probe_command().argv()
    assert argv[argv.index("--timeout") + 1] == "20"


@pytest.mark.parametrize(
    ("extra", "python"),
    [
        ({}, "/opt/venv/bin/python3"),
        ({"install": "apt", "numpy": None, "platform": "arm/v7"}, "/usr/bin/python3"),
        ({"install": "apt", "numpy": None, "platform": "arm/v7", "packages": ["scipy"]}, "/opt/venv/bin/python3"),
    ],
)
def test_python_the_probe_runs_under(extra: dict[str, Any], python: str) -> None:
    raw = {"name": "c", "platform": "amd64", "numpy": "2.3.5", **extra}
    raw = {k: v for k, v in raw.items() if v is not None}
    (c,) = matrix.parse({"cell": [raw]}).cells
    p = plan_cell(c)
    assert p.python == python
    assert p.probe_command().argv()[0] == python


def test_plan_is_frozen() -> None:
    p = plan_cell(cell())
    assert isinstance(p, CellPlan)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.dockerfile = "FROM scratch"  # type: ignore[misc]


def test_superseded_images_are_old_hashes_of_these_cells_only() -> None:
    plans = plan(DEFAULT)
    current = {p.cell.name: p.image_tag for p in plans}
    existing = [
        current["pi32-apt"],  # current: kept
        "npmatrix-cell:pi32-apt-000000000000",  # an earlier Dockerfile of pi32-apt: superseded
        "npmatrix-cell:pi32-apt-extra-000000000000",  # another cell whose name starts alike: kept
        "npmatrix-cell:gallery-cell-000000000000",  # a cell of another matrix: kept
        "npmatrix-cell:pi32-apt-latest",  # not one of our hashes: kept
    ]
    assert superseded(plans, existing) == ["npmatrix-cell:pi32-apt-000000000000"]
