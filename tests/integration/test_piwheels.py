"""piwheels end to end, with a local stand-in (issue 17): a linux_armv7l cp313 NumPy wheel linked to the system
BLAS/LAPACK, made by scripts/piwheels-standin from Debian's armhf python3-numpy and served on 127.0.0.1 as an
extra index. pip on a trixie arm/v7 cell picks it; without the libraries the import fails as piwheels' wheels
fail on a Pi without libopenblas0/libblas3, with them it works.

The cells are Raspberry Pi OS cells (`os = "raspios"`): their images get Pi OS's /etc/pip.conf, its piwheels URL
pointed at the stand-in (`piwheels_index`), so pip asks it as a Pi's pip asks piwheels, with no flag of ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CliRun, StandIn, npmatrix

from npmatrix.records import results

WITHOUT = "piwheels-standin"
WITH = "piwheels-standin-libs"
ORIGIN = "piwheels-style wheel (linux_armv7l)"


def _matrix(standin: StandIn) -> str:
    cell = f"""platform = "arm/v7"
suite = "trixie"
numpy = "{standin.version}"
only_binary = true
os = "raspios"
piwheels_index = "{standin.url}"
cpu = "pi4"
"""
    apt = ", ".join(f'"{p}"' for p in standin.packages)
    return (
        f'[[cell]]\nname = "{WITHOUT}"\n{cell}expect = "missing-shared-library"\n\n'
        f'[[cell]]\nname = "{WITH}"\n{cell}apt = [{apt}]\n'
    )


@pytest.fixture(scope="module")
def standin_run(
    piwheels_standin: StandIn, tmp_path_factory: pytest.TempPathFactory, docker_client: Any
) -> Iterator[CliRun]:
    out = tmp_path_factory.mktemp("piwheels-standin-run")
    (out / "matrix.toml").write_text(_matrix(piwheels_standin))
    run = npmatrix("run", "--matrix", str(out / "matrix.toml"), "--out", str(out), out_dir=out)
    yield run
    # The port, and so the image tags, are new each session: remove what this run built, nothing else.
    for cell in run.results["cells"] if (out / "results.json").exists() else []:
        if not cell["image"]["reused"]:
            docker_client.images.remove(cell["image"]["tag"])


def test_both_cells_end_as_expected(standin_run: CliRun) -> None:
    got = {c["name"]: c["status"] for c in standin_run.results["cells"]}
    assert got == {WITHOUT: "missing-shared-library", WITH: "ok"}, standin_run.stdout
    assert standin_run.returncode == 0


def test_pip_picked_the_standin_wheel_from_the_piwheels_of_pi_oss_pip_conf(
    standin_run: CliRun, piwheels_standin: StandIn
) -> None:
    for name in (WITHOUT, WITH):
        install = standin_run.cell(name)["probe"]["numpy"]["install"]
        assert install["wheel_tags"] == [piwheels_standin.record["tag"]]
        assert install["wheel_generator"] == "npmatrix scripts/piwheels-standin"  # not PyPI's, not a source build
        assert install["origin"] == "local-wheel"  # results.json keeps the probe's machine name
        log = Path(standin_run.cell(name)["logs"]["build"]).read_text()
        # The index reached pip through the image's /etc/pip.conf, as on a Pi, not through a pip option of ours.
        assert f"'extra-index-url={piwheels_standin.url}' > /etc/pip.conf" in log
        assert "--extra-index-url" not in log
        assert "not_asked" not in standin_run.cell(name)  # the stand-in answered: nothing left unasked
        assert f"Downloading {piwheels_standin.url}/numpy/{piwheels_standin.wheel_name}" in log
        # pip takes plain http from 127.0.0.1 without --trusted-host: loopback is one of its secure origins.
        assert "not a trusted or secure host" not in log
    assert f"GET /simple/numpy/{piwheels_standin.wheel_name} 200" in piwheels_standin.requests


def test_the_origin_says_piwheels_style_wheel(standin_run: CliRun) -> None:
    cells = {c.name: c for c in results.load(standin_run.out_dir / "results.json").cells}
    for name in (WITHOUT, WITH):
        summary = cells[name].summary
        assert summary is not None and summary.origin is not None and summary.origin.label == ORIGIN
        row = next(line for line in standin_run.stdout.splitlines() if line.startswith(f"{name} "))
        assert ORIGIN in row  # the table's "installed" column


def test_without_the_libraries_the_verdict_names_them_and_their_packages(
    standin_run: CliRun, piwheels_standin: StandIn
) -> None:
    cell = standin_run.cell(WITHOUT)
    assert cell["as_expected"]
    libraries = piwheels_standin.libraries  # what readelf found the wheel's extensions link (standin.json)
    assert cell["summary"]["missing_libraries"] == libraries
    are = "is" if len(libraries) == 1 else "are"
    assert cell["reason"].startswith(f"NumPy needs {' and '.join(libraries)}, which {are} not installed"), cell[
        "reason"
    ]
    assert "built on a machine as piwheels builds them" in cell["reason"]
    assert cell["fix"].startswith(f"apt-get install {' '.join(piwheels_standin.packages)}, or"), cell["fix"]
    # The loader's own line, though NumPy re-raises it as "you should not try to import numpy from its source
    # directory" (the last lines of the probe's stderr).
    assert cell["evidence"][0].endswith(f"{libraries[0]}: cannot open shared object file: No such file or directory")


def test_with_the_libraries_installed_it_works(standin_run: CliRun, piwheels_standin: StandIn) -> None:
    cell = standin_run.cell(WITH)
    assert cell["inputs"]["apt"] == piwheels_standin.packages
    assert cell["summary"]["missing_libraries"] == []
    # Debian's libblas3 is netlib's reference BLAS: it works, and the run says it is slow.
    assert [a["kind"] for a in cell.get("advisories", [])] == ["reference-blas"]
