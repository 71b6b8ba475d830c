"""Matrix files: parsing, validation and expansion, table-driven. Nothing here touches an engine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from npmatrix.config import matrix
from npmatrix.errors import ConfigError, ExitCode
from npmatrix.verdict import Status

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MATRIX = REPO / "matrix" / "bookworm.toml"


def _pip(name: str = "c", **extra: Any) -> dict[str, Any]:
    return {"name": name, "platform": "amd64", "numpy": "2.3.5", **extra}


def _config_error(raw: dict[str, Any], source: str = "m.toml") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        matrix.parse(raw, source=source)
    return info.value


# --- the default matrix ------------------------------------------------------------------------------


DEFAULT_CELLS = [
    # name, platform, install, numpy, cpu, expect
    ("colab-like", "amd64", "pip", "==2.3.5", None, Status.OK),
    ("pi64", "arm64", "pip", "==2.3.5", "pi4", Status.OK),
    ("pi32-pip", "arm/v7", "pip", "==2.3.5", "pi4", Status.NO_WHEEL),
    ("pi32-apt", "arm/v7", "apt", None, "pi4", Status.OK),
]


def test_default_matrix_has_the_four_expected_cells_in_order() -> None:
    m = matrix.load(DEFAULT_MATRIX)
    assert m.source == str(DEFAULT_MATRIX)
    assert [(c.name, c.platform, c.install, c.numpy, c.cpu, c.expect) for c in m.cells] == DEFAULT_CELLS
    # [defaults] reached every cell
    assert {c.suite for c in m.cells} == {"bookworm"}


# --- [axes] ------------------------------------------------------------------------------------------


AXES_CASES = [
    pytest.param(
        {"platform": ["amd64", "arm64"], "numpy": ["1.26.4", "2.3.5"]},
        {"np1.26.4-amd64": {}, "np2.3.5-amd64": {}, "np1.26.4-arm64": {}, "np2.3.5-arm64": {}},
        id="product",
    ),
    pytest.param(
        {
            "platform": ["amd64", "arm64"],
            "numpy": ["1.26.4", "2.3.5"],
            "exclude": [{"platform": "arm64", "numpy": "1.26.4"}],
        },
        {"np1.26.4-amd64": {}, "np2.3.5-amd64": {}, "np2.3.5-arm64": {}},
        id="exclude-one-combo",
    ),
    pytest.param(
        {"platform": ["amd64", "arm64"], "numpy": ["1.26.4", "2.3.5"], "exclude": [{"platform": "arm64"}]},
        {"np1.26.4-amd64": {}, "np2.3.5-amd64": {}},
        id="exclude-partial-key-drops-all-matches",
    ),
    pytest.param(
        {
            "platform": ["amd64", "arm64"],
            "numpy": ["2.3.5"],
            "include": [{"platform": "arm64", "cpu": "pi4", "expect": "crashed"}],
        },
        {
            "np2.3.5-amd64": {"cpu": None, "expect": Status.OK},
            "np2.3.5-arm64": {"cpu": "pi4", "expect": Status.CRASHED},
        },
        id="include-extends-matching-combo",
    ),
    pytest.param(
        {
            "platform": ["amd64", "arm64"],
            "numpy": ["1.26.4", "2.3.5"],
            "include": [{"platform": "arm/v7", "numpy": "1.26.4", "expect": "no-wheel"}],
        },
        {
            "np1.26.4-amd64": {},
            "np2.3.5-amd64": {},
            "np1.26.4-arm64": {},
            "np2.3.5-arm64": {},
            "np1.26.4-arm-v7": {"platform": "arm/v7", "expect": Status.NO_WHEEL},
        },
        id="include-adds-new-cell",
    ),
    pytest.param(
        {"platform": ["arm/v7"], "numpy": ["2.3.5"], "suite": "trixie", "timeout": 99},
        {"np2.3.5-arm-v7": {"platform": "arm/v7", "suite": "trixie", "timeout": 99}},
        id="fixed-keys-reach-every-cell",
    ),
]


@pytest.mark.parametrize(("axes", "expected"), AXES_CASES)
def test_axes_expand(axes: dict[str, Any], expected: dict[str, dict[str, Any]]) -> None:
    m = matrix.parse({"axes": {"name": "np{numpy}-{platform}", **axes}})
    cells = {c.name: c for c in m.cells}
    assert list(cells) == list(expected)
    for name, attrs in expected.items():
        for key, value in attrs.items():
            assert getattr(cells[name], key) == value, (name, key)


@pytest.mark.parametrize(
    ("template", "combo", "expected"),
    [
        ("np{numpy}-{platform}", {"numpy": "2.3.5", "platform": "arm/v7"}, "np2.3.5-arm-v7"),
        ("np{numpy}-{platform}", {"numpy": "==2.3.5", "platform": "arm/v7"}, "np-2.3.5-arm-v7"),
        ("NP {numpy} on {platform}", {"numpy": ">=1.26,<2", "platform": "arm64"}, "np-1.26-2-on-arm64"),
    ],
)
def test_name_template_is_sanitised(template: str, combo: dict[str, str], expected: str) -> None:
    axes = {"name": template, **{k: [v] for k, v in combo.items()}}
    (cell,) = matrix.parse({"axes": axes}).cells
    assert cell.name == expected


def test_name_template_with_a_key_that_is_not_an_axis() -> None:
    err = _config_error({"axes": {"name": "np{numpy}-{cpu}", "platform": ["amd64"], "numpy": ["2.3.5"]}})
    assert "not an axis" in str(err)
    assert "m.toml: axes" in str(err)


def test_axes_without_a_name_template() -> None:
    err = _config_error({"axes": {"platform": ["amd64"], "numpy": ["2.3.5"]}})
    assert str(err).startswith("m.toml: axes.name:")


def test_cells_and_axes_combine_with_defaults() -> None:
    m = matrix.parse(
        {
            "defaults": {"suite": "trixie"},
            "cell": [_pip("explicit")],
            "axes": {"name": "ax-{platform}", "platform": ["arm64"], "numpy": "2.3.5"},
        }
    )
    assert [(c.name, c.platform, c.suite) for c in m.cells] == [
        ("explicit", "amd64", "trixie"),
        ("ax-arm64", "arm64", "trixie"),
    ]


# --- unknown keys: "did you mean" and where ----------------------------------------------------------


UNKNOWN_KEY_CASES = [
    pytest.param({"cel": [_pip()]}, "'cel'", "'cell'", "m.toml:", id="top-level"),
    pytest.param(
        {"defaults": {"siute": "bookworm"}, "cell": [_pip()]}, "'siute'", "'suite'", "m.toml: defaults:", id="defaults"
    ),
    pytest.param(
        {"cell": [_pip("first"), _pip("second", numpyy="2.3.5")]},
        "'numpyy'",
        "'numpy'",
        "m.toml: cell[1] (second):",
        id="cell",
    ),
    pytest.param(
        {"cell": [_pip("x", expected="ok")]},
        "'expected'",
        "'expect'",
        "m.toml: cell[0] (x):",
        id="cell-expected-vs-expect",
    ),
    pytest.param(
        {"axes": {"name": "n{platform}", "platform": ["amd64"], "numpy": "2.3.5", "exclud": []}},
        "'exclud'",
        "'exclude'",
        "m.toml: axes:",
        id="axes",
    ),
    pytest.param(
        {
            "axes": {
                "name": "n{platform}",
                "platform": ["amd64"],
                "numpy": "2.3.5",
                "include": [{"platform": "amd64", "cpuu": "colab"}],
            }
        },
        "'cpuu'",
        "'cpu'",
        "m.toml: axes.include[0]:",
        id="axes-include-entry",
    ),
]


@pytest.mark.parametrize(("raw", "key", "suggestion", "where"), UNKNOWN_KEY_CASES)
def test_unknown_key_gets_did_you_mean_and_location(raw: dict[str, Any], key: str, suggestion: str, where: str) -> None:
    err = _config_error(raw)
    message = str(err)
    assert message.startswith(where), message
    assert f"unknown key {key}" in message
    assert f"did you mean {suggestion}?" in message
    assert "\n" not in message


def test_unknown_key_without_a_close_match_has_no_suggestion() -> None:
    message = str(_config_error({"cell": [_pip(zzzzzz=1)]}))
    assert "unknown key 'zzzzzz'" in message
    assert "did you mean" not in message


def test_name_is_not_a_default() -> None:
    message = str(_config_error({"defaults": {"name": "x"}, "cell": [_pip()]}))
    assert message.startswith("m.toml: defaults:")
    assert "unknown key 'name'" in message


def test_typo_in_exclude_entry_is_an_error() -> None:
    err = _config_error(
        {
            "axes": {
                "name": "np{numpy}-{platform}",
                "platform": ["amd64", "arm64"],
                "numpy": ["2.3.5"],
                "exclude": [{"platfrom": "arm64"}],
            }
        }
    )
    assert "did you mean 'platform'?" in str(err)


# --- other invalid matrices --------------------------------------------------------------------------


INVALID_CASES = [
    pytest.param(
        {"cell": [_pip("same"), _pip("same", platform="arm64")]},
        "m.toml",
        r"two cells are named 'same'",
        id="duplicate-names",
    ),
    pytest.param(
        {"axes": {"name": "fixed", "platform": ["amd64", "arm64"], "numpy": "2.3.5"}},
        "m.toml",
        r"two cells are named 'fixed'",
        id="duplicate-names-from-axes",
    ),
    pytest.param(
        {"cell": [{"name": "p", "platform": "amd64"}]},
        "m.toml: cell[0] (p).numpy",
        r"pip cell needs a NumPy pin",
        id="pip-without-numpy",
    ),
    pytest.param(
        {"cell": [{"name": "a", "platform": "arm/v7", "install": "apt", "numpy": "1.24.2"}]},
        "m.toml: cell[0] (a).numpy",
        r"apt cells take the suite's python3-numpy",
        id="apt-with-numpy",
    ),
    pytest.param(
        {"cell": [_pip("c", platform="arm64", cpu="pi2")]},
        "m.toml: cell[0] (c).cpu",
        r"CPU model 'pi2' is for arm/v7, not arm64",
        id="cpu-for-another-platform",
    ),
    pytest.param(
        {"cell": [_pip("c", platform="arm/v7", cpu="colab")]},
        "m.toml: cell[0] (c).cpu",
        r"CPU model 'colab' is for amd64, not arm/v7",
        id="amd64-cpu-on-arm",
    ),
    pytest.param(
        {"cell": [_pip("c", cpu="pi9")]},
        "m.toml: cell[0] (c).cpu",
        r"unknown CPU model 'pi9' \(did you mean 'pi\d'\?\)",
        id="unknown-cpu",
    ),
    pytest.param(
        {"cell": [_pip("c", expect="nowheel")]},
        "m.toml: cell[0] (c).expect",
        r"unknown status 'nowheel' \(did you mean 'no-wheel'\?\)",
        id="expect-typo",
    ),
    pytest.param(
        {"cell": [_pip("c", expect="engine-error")]},
        "m.toml: cell[0] (c).expect",
        r"unknown status 'engine-error'",
        id="expect-engine-error-is-never-expected",
    ),
    pytest.param(
        {"cell": [_pip("c", platform="arm64v8")]},
        "m.toml: cell[0] (c).platform",
        r"unknown platform 'arm64v8' \(did you mean 'arm64'\?\)",
        id="unknown-platform",
    ),
    pytest.param(
        {"cell": [_pip("c", suite="bookwrom")]},
        "m.toml: cell[0] (c).suite",
        r"did you mean 'bookworm'\?",
        id="unknown-suite",
    ),
    pytest.param(
        {"cell": [{"name": "c", "numpy": "2.3.5"}]},
        "m.toml: cell[0] (c)",
        r"missing required key 'platform'",
        id="missing-platform",
    ),
    pytest.param({"cell": [_pip("c", timeout=0)]}, "m.toml: cell[0] (c).timeout", r"whole seconds", id="zero-timeout"),
    pytest.param(
        {"cell": [_pip("c", only_binary="yes")]},
        "m.toml: cell[0] (c).only_binary",
        r"expected true or false",
        id="string-bool",
    ),
    pytest.param(
        {"cell": [_pip("Bad Name")]}, "m.toml: cell[0] (Bad Name).name", r"not a valid cell name", id="bad-cell-name"
    ),
    pytest.param(
        {"cell": [_pip("c", numpy="2.3.5; rm -rf /")]},
        "m.toml: cell[0] (c).numpy",
        r"not a version specifier",
        id="injection-in-numpy",
    ),
    pytest.param({"defaults": {"suite": "bookworm"}}, "m.toml", r"no cells", id="no-cells"),
    pytest.param({"cell": {"name": "c"}}, "m.toml: cell", r"expected an array of tables", id="cell-not-array"),
]


@pytest.mark.parametrize(("raw", "where", "pattern"), INVALID_CASES)
def test_invalid_matrix(raw: dict[str, Any], where: str, pattern: str) -> None:
    err = _config_error(raw)
    assert err.where == where
    assert str(err).startswith(f"{where}: ")
    assert re.search(pattern, str(err)), str(err)
    assert err.exit_code is ExitCode.BAD_INPUT
    assert int(err.exit_code) == 2


def test_load_reports_invalid_toml_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[[cell]\nname = 1\n")
    with pytest.raises(ConfigError) as info:
        matrix.load(path)
    assert info.value.where == str(path)
    assert "invalid TOML" in str(info.value)
    assert info.value.exit_code == 2


def test_load_reports_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        matrix.load(path)
    assert str(info.value) == f"{path}: cannot read matrix file: No such file or directory"
    assert info.value.exit_code == 2


def test_load_names_the_file_and_cell(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[[cell]]\nname = "x"\nplatform = "amd64"\nnumpy = "2.3.5"\nnumpi = "1"\n')
    with pytest.raises(ConfigError) as info:
        matrix.load(path)
    assert str(info.value).startswith(f"{path}: cell[0] (x): unknown key 'numpi'")
    assert "did you mean 'numpy'?" in str(info.value)


# --- Matrix.select ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default() -> matrix.Matrix:
    return matrix.load(DEFAULT_MATRIX)


SELECT_CASES = [
    pytest.param({}, ["colab-like", "pi64", "pi32-pip", "pi32-apt"], id="everything"),
    pytest.param({"arches": ["arm/v7"]}, ["pi32-pip", "pi32-apt"], id="one-arch"),
    pytest.param({"arches": ["amd64", "arm64"]}, ["colab-like", "pi64"], id="two-arches"),
    pytest.param({"names": ["pi32-*"]}, ["pi32-pip", "pi32-apt"], id="glob"),
    pytest.param({"names": ["pi64", "colab-like"]}, ["colab-like", "pi64"], id="names-keep-matrix-order"),
    pytest.param({"arches": ["arm/v7"], "names": ["*-apt"]}, ["pi32-apt"], id="arch-and-glob"),
]


@pytest.mark.parametrize(("filters", "expected"), SELECT_CASES)
def test_select(default: matrix.Matrix, filters: dict[str, list[str]], expected: list[str]) -> None:
    selected = default.select(**filters)
    assert [c.name for c in selected.cells] == expected
    assert selected.source == default.source


@pytest.mark.parametrize(
    ("filters", "where", "pattern"),
    [
        pytest.param(
            {"arches": ["arm/v8"]},
            "--arch",
            r"unknown platform 'arm/v8' \(did you mean 'arm/v7'\?\)",
            id="unknown-arch",
        ),
        pytest.param(
            {"arches": ["x86_64"]},
            "--arch",
            r"unknown platform 'x86_64'.*one of amd64, arm64",
            id="machine-name-is-not-a-platform",
        ),
        pytest.param(
            {"names": ["pi32"]}, str(DEFAULT_MATRIX), r"no cell named 'pi32' \(did you mean 'pi32-p", id="unknown-cell"
        ),
        pytest.param({"names": ["colab"]}, str(DEFAULT_MATRIX), r"did you mean 'colab-like'\?", id="cell-prefix"),
    ],
)
def test_select_rejects_unknowns(
    default: matrix.Matrix, filters: dict[str, list[str]], where: str, pattern: str
) -> None:
    with pytest.raises(ConfigError) as info:
        default.select(**filters)
    assert info.value.where == where
    assert re.search(pattern, str(info.value)), str(info.value)
    assert info.value.exit_code == 2


def test_filters_that_select_nothing_are_an_error_not_an_empty_run() -> None:
    # A nightly job with a stale --arch must not exit 0 having run nothing.
    with pytest.raises(ConfigError, match="no cell matches"):
        matrix.load(DEFAULT_MATRIX).select(arches=["arm/v6"])


# --- which matrix --matrix means: files, built-in names, the default ----------------------------------------

OWN_MATRIX = '[[cell]]\nname = "mine"\nplatform = "amd64"\nnumpy = "2.3.5"\n'


def test_builtin_names_are_the_packaged_matrices() -> None:
    assert matrix.builtin_names() == ("bookworm", "default", "gallery")


@pytest.mark.parametrize(
    ("spec", "files", "expected"),
    [
        pytest.param(None, [], "builtin:default", id="no-spec-empty-cwd"),
        pytest.param(None, ["matrix/default.toml"], "matrix/default.toml", id="no-spec-cwd-has-its-own"),
        pytest.param(None, ["matrix/other.toml"], "builtin:default", id="no-spec-other-file-ignored"),
        pytest.param("gallery", [], "builtin:gallery", id="bare-name"),
        pytest.param("builtin:gallery", ["gallery"], "builtin:gallery", id="prefixed-name-wins-over-file"),
        pytest.param("gallery", ["gallery"], "gallery", id="existing-file-wins-over-name"),
        pytest.param("default", ["default/x"], "builtin:default", id="directory-is-no-file"),
        pytest.param("gallery.toml", [], "gallery.toml", id="toml-ending-is-a-path"),
        pytest.param("sub/gallery", [], "sub/gallery", id="slash-is-a-path"),
        pytest.param("/abs/m.toml", [], "/abs/m.toml", id="absolute-path"),
    ],
)
def test_resolve(tmp_path: Path, spec: str | None, files: list[str], expected: str) -> None:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(OWN_MATRIX)
    assert matrix.resolve(spec, cwd=tmp_path) == expected


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (
            "galery",
            "no built-in matrix 'galery' (did you mean 'gallery'?); the built-in ones are bookworm, default, gallery",
        ),
        ("builtin:defualt", "no built-in matrix 'defualt' (did you mean 'default'?)"),
        ("builtin:../matrices/default", "no built-in matrix '../matrices/default'"),
        ("", "no built-in matrix ''"),
    ],
)
def test_resolve_unknown_name_is_a_config_error(tmp_path: Path, spec: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        matrix.resolve(spec, cwd=tmp_path)
    assert info.value.where == "--matrix"
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == ExitCode.BAD_INPUT


def test_load_spec_reads_builtins_and_relative_files(tmp_path: Path) -> None:
    gallery = matrix.load_spec("gallery", cwd=tmp_path)
    assert gallery.source == "builtin:gallery"
    assert gallery.cells == matrix.load(REPO / "matrix" / "gallery.toml").cells
    (tmp_path / "matrix").mkdir()
    (tmp_path / "matrix" / "default.toml").write_text(OWN_MATRIX)
    own = matrix.load_spec(None, cwd=tmp_path)
    assert (own.source, [c.name for c in own.cells]) == ("matrix/default.toml", ["mine"])


def test_load_spec_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^nope\.toml: cannot read matrix file"):
        matrix.load_spec("nope.toml", cwd=tmp_path)


def test_checkout_matrix_dir_is_the_packaged_one() -> None:
    # The top-level matrix/ and dockerfiles/ are symlinks, so `make matrix` and the README's paths run what ships.
    package = REPO / "src" / "npmatrix"
    assert (REPO / "matrix").resolve() == package / "matrices"
    assert (REPO / "dockerfiles").resolve() == package / "dockerfiles"


# --- the starter matrix of `npmatrix init` -----------------------------------------------------------------


def test_starter_parses_into_cells() -> None:
    m = matrix.loads(matrix.starter_text(), source="starter")
    assert [(c.name, c.platform, c.install) for c in m.cells] == [
        ("x86", "amd64", "pip"),
        ("pi-64bit", "arm64", "pip"),
        ("pi-32bit-apt", "arm/v7", "apt"),
    ]


def test_starter_commented_axes_example_is_valid_when_uncommented() -> None:
    # The example in comments must not rot: uncomment the [axes] block and it adds the four cells it promises.
    text = re.sub(
        r"^# (\[axes\]|name =|platform =|numpy =|exclude =|include =)", r"\1", matrix.starter_text(), flags=re.M
    )
    assert "\n[axes]\n" in text
    names = [c.name for c in matrix.loads(text, source="starter").cells]
    assert names[3:] == ["np1.26.4-amd64", "np2.3.5-amd64", "np2.3.5-arm64", "np1.26.4-arm-v7"]


# --- venv = false (pip into the system Python) -----------------------------------------------------------


def test_venv_false_installs_into_the_system_python() -> None:
    cell = matrix.parse({"cell": [_pip(venv=False)]}).cells[0]
    assert cell.venv is False


def test_venv_false_renders_pip_into_the_system_python_and_probes_it() -> None:
    from npmatrix.plan.cellplan import plan_cell

    plan = plan_cell(matrix.parse({"cell": [_pip(venv=False)]}).cells[0])
    assert "venv" not in plan.dockerfile and "/opt/venv" not in plan.dockerfile
    assert 'python3 -m pip install --only-binary=:all: "numpy==2.3.5"' in plan.dockerfile
    assert plan.python == "/usr/bin/python3"
    assert plan_cell(matrix.parse({"cell": [_pip()]}).cells[0]).python == "/opt/venv/bin/python3"


def test_venv_false_with_system_site_packages_is_refused() -> None:
    error = _config_error({"cell": [_pip(venv=False, system_site_packages=True)]})
    assert "cell[0] (c).system_site_packages" in str(error)
    assert "venv = false installs into the system Python" in str(error)


def test_venv_on_an_apt_cell_is_refused() -> None:
    error = _config_error({"cell": [{"name": "a", "platform": "amd64", "install": "apt", "venv": False}]})
    assert "a).venv" in str(error) and "only pip cells use it" in str(error)


@pytest.mark.parametrize("value", ["false", 0, 1, "yes"])
def test_venv_takes_a_boolean_only(value: object) -> None:
    error = _config_error({"cell": [_pip(venv=value)]})
    assert "expected true or false" in str(error)


# --- the user's own stack: requirements and find_links ---------------------------------------------------


def _stack(tmp_path: Path, requirements: str = "six==1.17.0\n", wheels: dict[str, bytes] | None = None) -> Path:
    (tmp_path / "requirements.txt").write_text(requirements)
    folder = tmp_path / "wheels"
    folder.mkdir()
    for name, data in (wheels if wheels is not None else {"demo-0.1-py3-none-any.whl": b"zip"}).items():
        (folder / name).write_bytes(data)
    return tmp_path / "m.toml"


def _with_stack(source: Path, **extra: Any) -> matrix.Matrix:
    return matrix.parse({"cell": [_pip(**extra)]}, source=str(source))


def test_requirements_and_find_links_resolve_against_the_matrix_files_folder(tmp_path: Path) -> None:
    source = _stack(tmp_path)
    cell = _with_stack(source, requirements="requirements.txt", find_links="wheels").cells[0]
    assert cell.requirements is not None and cell.find_links is not None
    assert cell.requirements.path == str(tmp_path / "requirements.txt")
    assert cell.find_links.path == str(tmp_path / "wheels")
    assert cell.find_links.files == ("demo-0.1-py3-none-any.whl",)


def test_their_content_is_in_the_image_tag(tmp_path: Path) -> None:
    from npmatrix.plan.cellplan import plan_cell

    source = _stack(tmp_path)
    first = plan_cell(_with_stack(source, requirements="requirements.txt", find_links="wheels").cells[0])
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    second = plan_cell(_with_stack(source, requirements="requirements.txt", find_links="wheels").cells[0])
    (tmp_path / "wheels" / "demo-0.1-py3-none-any.whl").write_bytes(b"another zip")
    third = plan_cell(_with_stack(source, requirements="requirements.txt", find_links="wheels").cells[0])
    assert len({first.image_tag, second.image_tag, third.image_tag}) == 3
    assert "-r /run/npmatrix-user/requirements.txt" in first.dockerfile
    assert "--find-links /run/npmatrix-user/find-links" in first.dockerfile
    assert "--mount=type=bind,source=npmatrix-user,target=/run/npmatrix-user" in first.dockerfile
    # Nothing of the files is copied into a layer: they reach pip through the bind mount only.
    assert "COPY" not in first.dockerfile and "ADD" not in first.dockerfile
    assert "six" not in first.dockerfile


@pytest.mark.parametrize(
    "line",
    [
        "--index-url https://pypi.example/simple",
        "--extra-index-url=https://user:secret@pypi.example/simple",
        "--trusted-host pypi.example",
        "--cert /etc/ssl/ca.pem",
        "-r other.txt",
        "-e .",
    ],
)
def test_pip_options_in_a_requirements_file_are_refused(tmp_path: Path, line: str) -> None:
    source = _stack(tmp_path, requirements=f"six==1.17.0\n{line}\n")
    with pytest.raises(ConfigError) as info:
        _with_stack(source, requirements="requirements.txt")
    message = str(info.value)
    assert "line 2: pip options are not taken from a requirements file" in message
    assert "(c).requirements" in message
    assert "user:secret" not in message  # the line itself is not echoed


@pytest.mark.parametrize(
    "line", ["six==1.17.0; python_version>'3'", "six @ https://example/six.whl", 'six=="1"', "six==1.0 $(id)"]
)
def test_requirement_lines_are_validated_like_packages(tmp_path: Path, line: str) -> None:
    source = _stack(tmp_path, requirements=f"# a comment\n\n{line}\n")
    with pytest.raises(ConfigError, match="line 3: "):
        _with_stack(source, requirements="requirements.txt")


def test_comments_and_blank_lines_are_fine(tmp_path: Path) -> None:
    source = _stack(tmp_path, requirements="# my stack\n\nsix==1.17.0  # pinned\n")
    assert _with_stack(source, requirements="requirements.txt").cells[0].requirements is not None


@pytest.mark.parametrize(
    ("wheels", "message"),
    [
        ({}, "holds no wheel or source archive"),
        ({"notes.txt": b"x"}, "'notes.txt' is not a wheel or source archive"),
        ({"evil\nname.whl": b"x"}, "is not a wheel or source archive"),
        ({"demo 0.1.whl": b"x"}, "is not a wheel or source archive"),
    ],
)
def test_a_wheel_folder_holds_distributions_only(tmp_path: Path, wheels: dict[str, bytes], message: str) -> None:
    source = _stack(tmp_path, wheels=wheels)
    with pytest.raises(ConfigError, match=message):
        _with_stack(source, find_links="wheels")


def test_a_missing_requirements_file_is_one_line(tmp_path: Path) -> None:
    error = _config_error({"cell": [_pip(requirements="nope.txt")]}, source=str(tmp_path / "m.toml"))
    assert "cannot read requirements file" in str(error) and "\n" not in str(error)


def test_find_links_must_be_a_folder(tmp_path: Path) -> None:
    source = _stack(tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        _with_stack(source, find_links="requirements.txt")


@pytest.mark.parametrize("value", ["", "a\nb", "a\x1bb", "\x00"])
def test_paths_are_plain_text(tmp_path: Path, value: str) -> None:
    error = _config_error({"cell": [_pip(requirements=value)]}, source=str(tmp_path / "m.toml"))
    assert "(c).requirements" in str(error)


def test_an_apt_cell_installs_requirements_next_to_debians_numpy(tmp_path: Path) -> None:
    from npmatrix.plan.cellplan import plan_cell

    source = _stack(tmp_path)
    raw = {"name": "a", "platform": "arm/v7", "install": "apt", "requirements": "requirements.txt"}
    plan = plan_cell(matrix.parse({"cell": [{**raw, "find_links": "wheels"}]}, source=str(source)).cells[0])
    assert "RUN python3 -m venv --system-site-packages /opt/venv" in plan.dockerfile  # sees Debian's NumPy
    assert "--find-links /run/npmatrix-user/find-links -r /run/npmatrix-user/requirements.txt" in plan.dockerfile
    assert "python3-numpy" in plan.dockerfile and '"numpy' not in plan.dockerfile  # NumPy stays Debian's
    assert plan.python == "/opt/venv/bin/python3"


def test_an_apt_cell_takes_find_links_only_with_something_to_install(tmp_path: Path) -> None:
    source = _stack(tmp_path)
    raw = {"name": "a", "platform": "amd64", "install": "apt", "find_links": "wheels"}
    with pytest.raises(ConfigError, match="an apt cell uses it only for its `packages` or `requirements`"):
        matrix.parse({"cell": [raw]}, source=str(source))
