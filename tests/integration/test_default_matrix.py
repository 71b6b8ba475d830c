"""The default matrix on the real engine: today's Colab pins against today's Raspberry Pi OS (trixie).

Each assertion is something we measured when the matrix was written (see the cells' comments in
matrix/default.toml); a change in PyPI, Debian or our templates that moves a verdict fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import CliRun, npmatrix

from npmatrix.config import boards
from npmatrix.host import reach

COLAB_STACK = {"scipy.linalg", "pandas", "sklearn"}


def _imports(cell: dict[str, Any]) -> dict[str, bool]:
    return {m["module"]: m["ok"] for m in cell["probe"]["imports"]}


def test_every_cell_ends_as_measured(default_run: CliRun) -> None:
    assert default_run.returncode == 0, default_run.stdout + default_run.stderr
    cells = default_run.results["cells"]
    assert [(c["name"], c["status"]) for c in cells] == [
        ("colab", "ok"),
        ("pi5-64", "ok"),
        ("pi4-64", "ok"),
        ("pi32-pip", "no-wheel"),
        ("pi32-apt", "ok"),
    ]
    assert default_run.results["matrix"] == "matrix/default.toml"  # the checkout's own, as `make matrix` runs
    assert all(c["inputs"]["source"].startswith("Colab: googlecolab/backend-info a724079") for c in cells)


def test_colab_pins_install_and_import_on_python_313(default_run: CliRun) -> None:
    cell = default_run.cell("colab")
    probe = cell["probe"]
    assert probe["python"]["version"].startswith("3.13.")
    assert probe["numpy"]["version"] == "2.1.3"
    assert probe["numpy"]["install"]["source"] == "wheel"
    assert _imports(cell) == dict.fromkeys(COLAB_STACK, True)


def test_pi5_and_pi4_run_the_same_pins_as_their_own_cpus(default_run: CliRun) -> None:
    for name, model in (("pi5-64", "cortex-a76"), ("pi4-64", "cortex-a72")):
        cell = default_run.cell(name)
        assert cell["placement"]["qemu_cpu"] == model and cell["probe"]["env"].get("QEMU_CPU") == model
        assert cell["probe"]["platform"]["machine"] == "aarch64"
        assert cell["probe"]["numpy"]["version"] == "2.1.3"
        assert any(t.endswith("aarch64") for t in cell["probe"]["numpy"]["install"]["wheel_tags"])
        assert _imports(cell) == dict.fromkeys(COLAB_STACK, True)


def test_pi4_reuses_the_pi5_build_layers(default_run: CliRun) -> None:
    # The two cells differ only by name and CPU model, and the template puts the name last: unless both
    # images existed already, the second build takes its pip install from BuildKit's cache.
    pi4 = default_run.cell("pi4-64")
    # It starts after every other cell (schedule.start_order: the same build steps as pi5-64), so its build
    # finds pi5-64's layers instead of building them beside it.
    lines = default_run.stderr.splitlines()
    started = [line.split("]")[1].split()[0] for line in lines if ": building npmatrix-cell:" in line]
    assert sorted(started) == sorted(c["name"] for c in default_run.results["cells"]) and started[-1] == "pi4-64"
    log = Path(pi4["logs"]["build"]).read_text()
    if not pi4["image"]["reused"]:
        pip_step = next(line for line in log.splitlines() if "pip install" in line and "[" in line)
        step_id = pip_step.split()[0]
        assert f"{step_id} CACHED" in log, log[-2000:]


def test_the_32_bit_pi_cannot_get_colabs_numpy_from_pypi(default_run: CliRun) -> None:
    cell = default_run.cell("pi32-pip")
    assert "NumPy==2.1.3 wheel for linux_armv7l" in cell["reason"]
    assert "python3-numpy" in cell["fix"] and "piwheels" in cell["fix"]


def test_debians_numpy_works_on_the_32_bit_pi_but_is_another_version(default_run: CliRun) -> None:
    cell = default_run.cell("pi32-apt")
    probe = cell["probe"]
    assert probe["python"]["version"].startswith("3.13.")
    assert (probe["numpy"]["version"], probe["numpy"]["install"]["source"]) == ("2.2.4", "debian")
    assert _imports(cell) == dict.fromkeys(COLAB_STACK, True)


def test_explain_says_the_surprise_in_its_first_line(default_run: CliRun) -> None:
    results = default_run.out_dir / "results.json"
    pip = npmatrix("explain", f"{results}:colab", f"{results}:pi32-pip", out_dir=default_run.out_dir)
    assert pip.returncode == 0, pip.stderr
    verdict = pip.stdout.strip().splitlines()[-1]
    assert verdict.startswith("colab works and pi32-pip does not (no-wheel): PyPI has no NumPy==2.1.3 wheel")
    apt = npmatrix("explain", f"{results}:colab", f"{results}:pi32-apt", out_dir=default_run.out_dir)
    assert (
        apt.stdout.strip()
        .splitlines()[-1]
        .startswith(
            "Both colab and pi32-apt work, but not with the same NumPy: "
            "colab has 2.1.3 (wheel), pi32-apt has 2.2.4 (debian)."
        )
    )


def test_the_32_bit_pi_os_cells_say_what_could_not_be_asked(default_run: CliRun) -> None:
    # Whether piwheels answers is this machine's fact, asked as the run asked it: on ours it has no DNS.
    piwheels = boards.profiles().raspios.piwheels_index
    unreached = reach.unreached([piwheels])
    pip_cell, apt_cell = default_run.cell("pi32-pip"), default_run.cell("pi32-apt")
    assert [n["source"] for n in apt_cell["not_asked"]] == ["Raspberry Pi OS's apt archive"]
    assert "Debian's armhf packages stood in" in apt_cell["not_asked"][0]["why"]
    for name in ("colab", "pi5-64", "pi4-64"):
        assert "not_asked" not in default_run.cell(name), name
    log = Path(pip_cell["logs"]["build"]).read_text()
    if piwheels not in unreached:  # a machine that reaches piwheels: the image has Pi OS's pip.conf
        assert "not_asked" not in pip_cell and f"extra-index-url={piwheels}" in log
        return
    (gap,) = pip_cell["not_asked"]
    assert gap["source"] == "piwheels" and gap["url"] == piwheels
    assert "piwheels, which 32-bit Raspberry Pi OS also asks, could not be reached from here" in gap["why"]
    assert "on a real Pi, pip may find a wheel there; this answer is PyPI's alone" in gap["why"]
    assert "/etc/pip.conf" not in log  # built without it: pip spent no retries on an index that is not there
    assert "no-wheel (expected) (incomplete: piwheels not reached)" in default_run.stdout
    assert "incomplete (a real Pi asks more): pi32-pip, pi32-apt" in default_run.stdout
    assert f"{piwheels} could not be reached" in default_run.stderr
    results = default_run.out_dir / "results.json"
    explained = npmatrix("explain", f"{results}:colab", f"{results}:pi32-pip", out_dir=default_run.out_dir)
    assert "pi32-pip: incomplete: piwheels, which 32-bit Raspberry Pi OS also asks" in explained.stdout
    report = npmatrix("report", str(results), "--format", "md", out_dir=default_run.out_dir)
    assert report.returncode == 0, report.stderr
    markdown = report.stdout
    assert "#### Incomplete: what a real Pi asks, not asked here" in markdown and "**pi32-apt**" in markdown
