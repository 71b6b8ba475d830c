"""Install methods are one registry (config/install.py): every place that knows the methods derives from it.

A new method is one entry in `install.METHODS` and one template; the conda stub below shows one going through
parse, plan and render with no other module edited, and the derived-places test fails when a method is
missing from any of them (the Literal, the results schema, the templates, the matrix checks, the labels).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_args

import pytest
import synthetic

from npmatrix.config import install, matrix
from npmatrix.config.install import PythonKind
from npmatrix.config.matrix import Cell
from npmatrix.errors import ConfigError
from npmatrix.plan import cellplan
from npmatrix.present import labels
from npmatrix.records import schemas

PACKAGE_TEMPLATES = Path(str(resources.files("npmatrix").joinpath("dockerfiles")))
SAMPLES = {"numpy": "==2.3.5"}  # a value for each key some method requires


def _cell(method: str, name: str = "c", **extra: Any) -> dict[str, Any]:
    """A matrix file's cell installed by `method`, with the keys that method requires."""
    required = install.METHODS[method].required if method in install.METHODS else {}
    return {"name": name, "platform": "amd64", "install": method, **{k: SAMPLES[k] for k in required}, **extra}


def _one_cell(method: str, **extra: Any) -> dict[str, Any]:
    return {"cell": [_cell(method, **extra)]}


def _accepted_by_the_matrix() -> list[str]:
    return [m for m in install.METHODS if matrix.parse(_one_cell(m)).cells[0].install == m]


def _schema_enum() -> list[str]:
    cell = schemas.schema("results")["definitions"]["cell"]
    return list(cell["properties"]["inputs"]["properties"]["install"]["enum"])


def _with_a_template() -> list[str]:
    return [name for name, m in install.METHODS.items() if (PACKAGE_TEMPLATES / m.template).is_file()]


def _planned() -> list[str]:
    plans = cellplan.plan(matrix.parse({"cell": [_cell(m, name=f"c-{m}") for m in install.METHODS]}))
    return [p.cell.install for p in plans if p.dockerfile.startswith("# Rendered by npmatrix") and p.python]


def _labelled() -> list[str]:
    found = []
    for name, m in install.METHODS.items():
        cell = matrix.parse(_one_cell(name)).cells[0]
        if all((m.package(cell), m.asks_for(cell), m.not_installed(cell))):
            found.append(name)
    return found


DERIVED: dict[str, Callable[[], list[str]]] = {
    "InstallName Literal": lambda: list(get_args(install.InstallName)),
    "results schema enum": _schema_enum,
    "package templates": _with_a_template,
    "matrix install values": _accepted_by_the_matrix,
    "plan and render": _planned,
    "labels": _labelled,
}


@pytest.mark.parametrize("place", DERIVED)
def test_every_derived_place_names_exactly_the_registered_methods(place: str) -> None:
    assert DERIVED[place]() == list(install.METHODS), f"{place} and install.METHODS disagree"


def test_the_shipped_results_schema_enum_is_the_registry() -> None:
    # data/results.schema.json is static JSON: this is the check that it was updated with the registry.
    assert _schema_enum() == ["pip", "apt"] == list(install.METHODS)


def test_an_unknown_method_is_an_error_everywhere_never_labelled_apt() -> None:
    with pytest.raises(ConfigError, match=r"unknown install method 'conda'; one of pip, apt"):
        install.method("conda")
    with pytest.raises(ConfigError, match=r"cell\[0\] \(c\)\.install: unknown install method 'cnoda'.*one of pip, apt"):
        matrix.parse(_one_cell("cnoda"))
    # A cell that somehow carries an unknown name (a hand-built Cell) must not fall through to another method.
    result = synthetic.cell_result("x")
    stranger = dataclasses.replace(result, cell=dataclasses.replace(result.cell, install="conda"))
    for label in (labels.installed, labels.numpy, lambda r: cellplan.plan_cell(r.cell).python):
        with pytest.raises(ConfigError, match="unknown install method 'conda'"):
            label(stranger)


def test_key_refusals_name_the_method_that_reads_the_key() -> None:
    apt, pip = install.METHODS["apt"], install.METHODS["pip"]
    assert install.refusal(apt, "venv") == 'only pip cells use it; remove it or use install = "pip"'
    assert (
        install.refusal(apt, "numpy")
        == 'apt cells take the suite\'s python3-numpy; remove numpy or use install = "pip"'
    )
    assert install.refusal(apt, "index_url") == (
        'an apt cell uses it only for its `packages` or `requirements`; remove it or use install = "pip"'
    )
    assert set(install.method_keys()) == set(pip.keys)  # today every method key is one pip reads


# --- a method added by a test alone: conda ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Conda:
    """A test-only method: NumPy from conda-forge by micromamba. Nothing outside this test knows it."""

    name: str = "conda"
    template: str = "micromamba.Dockerfile.j2"  # not "conda.": the name comes from here
    apt_packages: tuple[str, ...] = ("micromamba",)
    keys: tuple[str, ...] = ("numpy",)
    package_keys: tuple[str, ...] = ()
    required: Mapping[str, str] = field(default_factory=lambda: {"numpy": 'a NumPy pin, e.g. numpy = "2.3.5"'})
    refusals: Mapping[str, str] = field(default_factory=dict)

    def python(self, cell: Cell) -> PythonKind:
        return "venv"

    def package(self, cell: Cell) -> str:
        return f"conda-forge::numpy{cell.numpy}"

    def asks_for(self, cell: Cell) -> str:
        return f"conda-forge's numpy{cell.numpy}"

    def not_installed(self, cell: Cell) -> str:
        return str(cell.numpy).lstrip("=")


CONDA_TEMPLATE = """{% extends "cell.Dockerfile.j2" %}
{%- block install -%}
RUN micromamba create -y -p /opt/venv "numpy{{ cell.numpy }}"
{%- endblock %}
"""


@pytest.fixture
def conda(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The stub registered for one test, and a template folder: the shared layout plus conda's own template."""
    monkeypatch.setitem(install.METHODS, "conda", Conda())
    shutil.copy(PACKAGE_TEMPLATES / "cell.Dockerfile.j2", tmp_path / "cell.Dockerfile.j2")
    (tmp_path / "micromamba.Dockerfile.j2").write_text(CONDA_TEMPLATE)
    return tmp_path


def test_a_registered_method_flows_through_parse_plan_and_render(conda: Path) -> None:
    m = matrix.parse(_one_cell("conda", apt=["curl"]))
    assert m.cells[0].install == "conda"
    (plan,) = cellplan.plan(m, template_dir=conda)
    assert 'RUN micromamba create -y -p /opt/venv "numpy==2.3.5"' in plan.dockerfile
    assert "apt-get install -y --no-install-recommends micromamba curl" in plan.dockerfile  # its packages first
    assert "pip install" not in plan.dockerfile and "python3-numpy" not in plan.dockerfile
    assert plan.python == "/opt/venv/bin/python3"
    result = dataclasses.replace(synthetic.cell_result("c"), cell=m.cells[0])
    assert labels.installed(result) == "conda"
    assert labels.numpy(result) == "2.3.5 (not installed)"


def test_a_registered_method_gets_the_key_checks_without_other_edits(conda: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(c\)\.venv: only pip cells use it; remove it or use install = \"pip\""):
        matrix.parse(_one_cell("conda", venv=False))
    with pytest.raises(ConfigError, match=r"\(c\)\.numpy: a conda cell needs a NumPy pin"):
        matrix.parse({"cell": [{"name": "c", "platform": "amd64", "install": "conda"}]})
    with pytest.raises(ConfigError, match=r"unknown install method 'mamba'.*one of pip, apt, conda"):
        matrix.parse(_one_cell("mamba"))
    # numpy is now read by two methods, and a refusal says so.
    assert install.refusal(install.METHODS["apt"], "numpy").endswith('remove numpy or use install = "pip"')
    assert install.refusal(Conda(), "pip") == 'only pip cells use it; remove it or use install = "pip"'
