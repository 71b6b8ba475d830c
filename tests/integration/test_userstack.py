"""The user's own stack on the real engine: a requirements file and a folder of local wheels
(tests/data/userstack), installed with NumPy in a cell and imported by the probe."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import CliRun, npmatrix

MATRIX = "tests/data/userstack/matrix.toml"


@pytest.fixture(scope="module")
def userstack_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    out = tmp_path_factory.mktemp("userstack-run")
    return npmatrix("run", "--matrix", MATRIX, "--out", str(out), out_dir=out)


def test_every_cell_ends_as_expected(userstack_run: CliRun) -> None:
    got = {c["name"]: c["status"] for c in userstack_run.results["cells"]}
    want = {"own-stack": "ok", "own-stack-no-wheels": "build-failed", "own-stack-apt": "ok", "own-board": "ok"}
    assert got == want, userstack_run.stdout
    assert userstack_run.returncode == 0


def test_the_requirements_and_the_local_wheel_are_installed_and_imported(userstack_run: CliRun) -> None:
    cell = userstack_run.cell("own-stack")
    imported = {i["module"]: i["ok"] for i in cell["probe"]["imports"]}
    assert imported == {"six": True, "npmatrix_demo": True}
    inputs = cell["inputs"]
    assert inputs["requirements"]["path"].endswith("tests/data/userstack/requirements.txt")
    assert inputs["find_links"]["files"] == ["npmatrix_demo-0.1-py3-none-any.whl"]
    # npmatrix-demo is on no index: own-stack-no-wheels (same requirements, no find_links) cannot install it.


def test_on_debians_numpy_the_stack_is_installed_beside_it(userstack_run: CliRun) -> None:
    cell = userstack_run.cell("own-stack-apt")
    assert cell["probe"]["numpy"]["version"].startswith("1.24.")  # bookworm's python3-numpy, not PyPI's
    assert {i["module"]: i["ok"] for i in cell["probe"]["imports"]} == {"six": True, "npmatrix_demo": True}


def test_without_the_wheel_folder_the_verdict_names_the_missing_requirement(userstack_run: CliRun) -> None:
    cell = userstack_run.cell("own-stack-no-wheels")
    assert "npmatrix-demo==0.1" in cell["reason"]
    assert "find_links" in cell["fix"]


def test_the_users_files_are_in_no_layer(userstack_run: CliRun, docker_client: Any) -> None:
    # Bind-mounted for the pip step only: no layer holds the requirements file or the wheel file itself.
    image = docker_client.images.get(userstack_run.cell("own-stack")["image"]["tag"])
    history = " ".join(str(h.get("CreatedBy", "")) for h in image.history())
    assert "COPY " not in history and "npmatrix-user/requirements.txt" in history  # pip read it, nothing copied
    container = docker_client.containers.run(
        image.id,
        [
            "sh",
            "-c",
            "ls -A /run/npmatrix-user 2>/dev/null; find / -name 'npmatrix_demo-0.1-py3-none-any.whl' 2>/dev/null",
        ],
        network_mode="none",
        remove=True,
        labels={"npmatrix.test": "userstack"},
    )
    assert container == b""  # the mount point, if left, is empty; no copy of the wheel anywhere


def test_a_cpu_model_the_matrix_defines_is_what_the_probe_ran_as(userstack_run: CliRun) -> None:
    cell = userstack_run.cell("own-board")
    assert cell["placement"]["qemu_cpu"] == "cortex-a53"
    assert cell["inputs"]["cpu_model"]["qemu"] == {"arm64": "cortex-a53", "arm/v7": "cortex-a7"}
    assert "qemu cortex-a53" in userstack_run.stdout  # the table's platform column
    # What NumPy saw: a Cortex-A53 has ASIMD but none of the dot-product or SVE extensions of newer cores.
    features = set(cell["probe"]["numpy"]["cpu_features_found"])
    assert "ASIMD" in features and "ASIMDDP" not in features and "SVE" not in features
