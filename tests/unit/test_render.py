"""Rendered Dockerfiles: deterministic, equal to the golden files, strict about undefined names.

The golden files are tests/golden/<matrix>/<cell>.Dockerfile, one per cell of the built-in default and
bookworm matrices. After an
intended change to dockerfiles/*.j2 (or to anything that reaches a Dockerfile, such as a base recipe),
regenerate them and review the diff:

    NPMATRIX_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_render.py
    git diff tests/golden/
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import jinja2
import pytest

from npmatrix.config import matrix
from npmatrix.config.platforms import presets
from npmatrix.plan import raspios, render
from npmatrix.plan.cellplan import plan_cell

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
GOLDEN_MATRICES = ("default", "bookworm")
DEFAULT = matrix.load(REPO / "matrix" / "bookworm.toml")  # the cells the content tests below name
CELLS = {c.name: c for c in DEFAULT.cells}
GOLDEN_CELLS = [(m, c) for m in GOLDEN_MATRICES for c in matrix.load(REPO / "matrix" / f"{m}.toml").cells]
UPDATE = os.environ.get("NPMATRIX_UPDATE_GOLDEN") == "1"


def _render_cell(cell: matrix.Cell) -> str:
    # A Raspberry Pi OS cell as where its piwheels answers: with Pi OS's pip.conf (plan/raspios.py).
    pip_conf = raspios.pip_conf(cell, {})
    return render.cell_dockerfile(
        cell, presets().platforms[cell.platform], plan_cell(cell).base_image, pip_conf=pip_conf
    )


def _render(name: str) -> str:
    return _render_cell(CELLS[name])


@pytest.mark.parametrize(("matrix_name", "cell"), GOLDEN_CELLS, ids=[f"{m}:{c.name}" for m, c in GOLDEN_CELLS])
def test_render_is_deterministic(matrix_name: str, cell: matrix.Cell) -> None:
    first, second = _render_cell(cell), _render_cell(cell)
    assert first.encode() == second.encode()
    assert first == plan_cell(cell).dockerfile


@pytest.mark.parametrize(("matrix_name", "cell"), GOLDEN_CELLS, ids=[f"{m}:{c.name}" for m, c in GOLDEN_CELLS])
def test_render_matches_golden(matrix_name: str, cell: matrix.Cell) -> None:
    name = cell.name
    golden = GOLDEN / matrix_name / f"{name}.Dockerfile"
    rendered = _render_cell(cell)
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(rendered.encode())
    assert golden.is_file(), f"{golden} is missing: run with NPMATRIX_UPDATE_GOLDEN=1"
    assert rendered.encode() == golden.read_bytes(), (
        f"{name}: rendered Dockerfile differs from {golden}; if intended, rerun with NPMATRIX_UPDATE_GOLDEN=1"
    )


def test_golden_directory_has_exactly_the_matrices_cells() -> None:
    # A renamed or removed cell must not leave a stale golden file behind.
    found = sorted(f"{p.parent.name}:{p.stem}" for p in GOLDEN.glob("*/*.Dockerfile"))
    assert found == sorted(f"{m}:{c.name}" for m, c in GOLDEN_CELLS)
    assert list(GOLDEN.glob("*.Dockerfile")) == []


def test_cells_that_differ_only_in_name_and_cpu_share_every_layer_but_the_label() -> None:
    # pi5-64 and pi4-64 pin the same stack: BuildKit reuses the first one's layers for the second.
    default = {c.name: c for c in matrix.load(REPO / "matrix" / "default.toml").cells}
    pi5, pi4 = (_instructions(_render_cell(default[n])) for n in ("pi5-64", "pi4-64"))
    assert pi5[:-1] == pi4[:-1]
    assert pi5[-1].startswith("LABEL") and pi5[-1] != pi4[-1]


@pytest.mark.parametrize(
    ("name", "from_pattern", "install_pattern"),
    [
        (
            "colab-like",
            r"^FROM npmatrix-base:bookworm-amd64-[0-9a-f]{12}$",
            r'pip install --only-binary=:all: "numpy==2\.3\.5"',
        ),
        (
            "pi64",
            r"^FROM npmatrix-base:bookworm-arm64-[0-9a-f]{12}$",
            r'pip install --only-binary=:all: "numpy==2\.3\.5"',
        ),
        ("pi32-pip", r"^FROM npmatrix-base:bookworm-arm-v7-[0-9a-f]{12}$", r'"numpy==2\.3\.5"'),
        (
            "pi32-apt",
            r"^FROM npmatrix-base:bookworm-arm-v7-[0-9a-f]{12}$",
            r"apt-get install -y --no-install-recommends python3-numpy",
        ),
    ],
)
def test_rendered_dockerfile_content(name: str, from_pattern: str, install_pattern: str) -> None:
    text = _render(name)
    assert re.search(from_pattern, text, re.MULTILINE)
    assert re.search(install_pattern, text)
    assert f'org.npmatrix.cell="{name}"' in text
    assert text.endswith("\n")


def test_apt_cell_does_not_use_pip() -> None:
    assert "pip install" not in _render("pi32-apt")
    assert "numpy==" not in _render("pi32-apt")


# --- StrictUndefined -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("FROM {{ base_image }}\nRUN echo {{ no_such_variable }}\n", id="undefined-variable"),
        pytest.param("FROM {{ base_image }}\nRUN echo {{ cell.no_such_field }}\n", id="undefined-attribute"),
        pytest.param("FROM {{ base_imgae }}\n", id="typo"),
    ],
)
def test_undefined_name_in_template_is_an_error(tmp_path: Path, template: str) -> None:
    # _environment is functools.cache'd on the directory; tmp_path is new per test, so no stale loader.
    (tmp_path / "pip.Dockerfile.j2").write_text(template)
    with pytest.raises(jinja2.UndefinedError):
        render.cell_dockerfile(CELLS["colab-like"], presets().platforms["amd64"], "base:x", template_dir=tmp_path)


def test_template_dir_is_used(tmp_path: Path) -> None:
    # The positive control for the test above: the same directory with only defined names renders.
    (tmp_path / "pip.Dockerfile.j2").write_text("FROM {{ base_image }}\n# {{ cell.name }} {{ platform.oci }}\n")
    text = render.cell_dockerfile(CELLS["colab-like"], presets().platforms["amd64"], "base:x", template_dir=tmp_path)
    assert text == "FROM base:x\n# colab-like linux/amd64\n"


# --- secrets stay in RUN --mount=type=secret ----------------------------------------------------------


def _instructions(dockerfile: str) -> list[str]:
    """Logical Dockerfile instructions: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


SECRET_WORDS = re.compile(r"pipconf|pipcert|cert|secrets", re.IGNORECASE)


def _secret_cells() -> list[matrix.Cell]:
    extra = matrix.parse(
        {
            "cell": [
                {
                    "name": "pip-all",
                    "platform": "arm/v7",
                    "numpy": "1.26.4",
                    "pip": "==23.3",
                    "packages": ["scipy==1.11.4"],
                    "apt": ["libopenblas0"],
                    "index_url": "https://pypi.example.org/simple",
                    "extra_index_url": ["https://www.piwheels.org/simple"],
                },
                {"name": "apt-packages", "platform": "arm/v7", "install": "apt", "packages": ["scipy==1.10.1"]},
            ]
        }
    ).cells
    return [*DEFAULT.cells, *extra]


@pytest.mark.parametrize("cell", _secret_cells(), ids=lambda c: c.name)
def test_pip_settings_and_ca_reach_builds_only_as_secret_mounts(cell: matrix.Cell) -> None:
    text = plan_cell(cell).dockerfile
    instructions = _instructions(text)
    for instruction in instructions:
        keyword = instruction.split()[0].upper()
        if keyword in ("COPY", "ADD", "ENV", "ARG", "LABEL"):
            assert not SECRET_WORDS.search(instruction), instruction
        if "pip install" in instruction:
            assert instruction.startswith("RUN --mount=type=secret,id=pipconf --mount=type=secret,id=pipcert "), (
                instruction
            )
            assert "PIP_CONFIG_FILE=/run/secrets/pipconf" in instruction
        if re.search(r"pipconf|pipcert", instruction):
            assert keyword == "RUN" and "--mount=type=secret" in instruction, instruction
    if cell.install == "pip" or cell.packages:
        assert any("pip install" in i for i in instructions)


def test_every_pip_option_reaches_the_dockerfile() -> None:
    (cell,) = [c for c in _secret_cells() if c.name == "pip-all"]
    text = " ".join(_instructions(plan_cell(cell).dockerfile))
    for fragment in (
        '"pip==23.3"',
        '"numpy==1.26.4"',
        '"scipy==1.11.4"',
        "--index-url https://pypi.example.org/simple",
        "--extra-index-url https://www.piwheels.org/simple",
        "--only-binary=:all:",
        "libopenblas0",
    ):
        assert fragment in text, fragment


@pytest.mark.parametrize(("platform", "arg"), [("arm64", "ARG QEMU_CPU=cortex-a72"), ("arm/v7", None), ("amd64", None)])
def test_builds_run_as_the_platforms_build_cpu_without_keeping_it(platform: str, arg: str | None) -> None:
    # trixie's arm64 binaries use pointer authentication, which QEMU's default CPU emulates 8x slower.
    raw = {"name": "c", "platform": platform, "numpy": "2.1.3", "suite": "trixie"}
    instructions = _instructions(plan_cell(matrix.parse({"cell": [raw]}).cells[0]).dockerfile)
    assert [i for i in instructions if "QEMU_CPU" in i] == ([arg] if arg else [])
    if arg:
        assert instructions.index(arg) == 1  # right after FROM: every RUN runs as it
