"""`npmatrix freeze-to-matrix`: a pip freeze as matrix cells, tested on Colab's published freeze.

tests/data/colab/pip-freeze.txt is Colab's runtime of 2026-08-19 (tests/data/colab/SOURCE.md): 646 lines, a
5-line comment header, numpy==2.1.3, torch and kin as URL pins to download.pytorch.org +cpu wheels, a file://
and a git+ pin, nvidia-nccl-cu13, tensorflow, jax.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from npmatrix.cli import cli
from npmatrix.config import freeze, matrix, validators
from npmatrix.config.freeze import Options, Pin, Unusable
from npmatrix.config.platforms import presets
from npmatrix.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
COLAB = REPO / "tests" / "data" / "colab" / "pip-freeze.txt"
ALL_PLATFORMS = ("amd64", "arm64", "arm/v7")
NVIDIA = "needs an NVIDIA GPU/CUDA, and a container here has none"
NO_ARM32 = "PyPI has no 32-bit ARM wheel of it and no sdist"


@pytest.fixture(scope="module")
def colab() -> freeze.Freeze:
    return freeze.parse_freeze(COLAB.read_text(), path="pip-freeze.txt")


@pytest.fixture(scope="module")
def whole(colab: freeze.Freeze) -> freeze.Conversion:
    return freeze.convert(colab, Options(name="colab"))


def _cell(conversion: freeze.Conversion, platform: str) -> freeze.FreezeCell:
    return next(c for c in conversion.cells if c.platform == platform)


def _kept(conversion: freeze.Conversion, platform: str) -> dict[str, str]:
    return {p.name: p.requirement for p in _cell(conversion, platform).packages}


def _reasons(conversion: freeze.Conversion, platform: str) -> dict[str, str]:
    return {left.pin.name: left.reason for left in _cell(conversion, platform).left_out}


# --- the Colab freeze ------------------------------------------------------------------------------------------


def test_colab_freeze_becomes_a_matrix_the_parser_accepts(whole: freeze.Conversion) -> None:
    parsed = matrix.parse(tomllib.loads(freeze.render(whole)))
    assert [(c.name, c.platform) for c in parsed.cells] == [
        ("colab-amd64", "amd64"),
        ("colab-arm64", "arm64"),
        ("colab-arm-v7", "arm/v7"),
    ]
    for cell in parsed.cells:
        assert cell.numpy == "==2.1.3"
        assert cell.pip == "==24.1.2"
        assert cell.suite == "trixie"
        assert cell.source == "pip freeze pip-freeze.txt"
        assert cell.imports == ("scipy", "pandas", "sklearn", "matplotlib")
        assert all(validators.requirement(r) == r for r in cell.packages)
    amd64, arm64, arm32 = parsed.cells
    assert (amd64.cpu, arm64.cpu, arm32.cpu) == (None, "pi4", "pi4")
    assert (amd64.only_binary, arm64.only_binary, arm32.only_binary) == (False, False, True)
    assert (amd64.expect.value, arm64.expect.value, arm32.expect.value) == ("ok", "ok", "no-wheel")
    assert "no linux_armv7l NumPy wheel" in arm32.note


def test_every_package_line_is_kept_or_left_out_with_a_reason(whole: freeze.Conversion) -> None:
    lines = COLAB.read_text().splitlines()
    package_lines = {n for n, text in enumerate(lines, start=1) if text.strip() and not text.startswith("#")}
    assert len(package_lines) == 641
    accounted = {u.line for u in whole.unusable} | {whole.freeze.pin("numpy").line, whole.freeze.pin("pip").line}  # type: ignore[union-attr]
    for pin in whole.freeze.pins:
        if pin.name in ("numpy", "pip"):
            continue
        for cell in whole.cells:
            kept = pin in cell.packages
            reasons = [left.reason for left in cell.left_out if left.pin is pin]
            assert kept != bool(reasons), f"{pin.text} on {cell.platform}: kept={kept}, reasons={reasons}"
            assert all(reasons)
        accounted.add(pin.line)
    assert accounted == package_lines
    assert whole.unselected == ()


def test_every_package_is_named_in_the_rendered_file(whole: freeze.Conversion) -> None:
    text = freeze.render(whole)
    assert 'numpy = "==2.1.3"  # from line 347 of the freeze' in text
    assert 'pip = "==24.1.2"' in text
    for pin in whole.freeze.pins:
        if pin.name not in ("numpy", "pip"):
            assert f'"{pin.requirement}",' in text or f"{pin.requirement}," in text or f"{pin.requirement}\n" in text
    for unusable in whole.unusable:
        assert f"(line {unusable.line})" in text


def test_torch_url_pin_becomes_the_pypi_release_with_a_comment(colab: freeze.Freeze) -> None:
    torch = colab.pin("torch")
    assert torch is not None and torch.line == 583
    assert torch.requirement == "torch==2.11.0"
    assert "torch-2.11.0+cpu-cp313-cp313-manylinux_2_28_x86_64.whl on download.pytorch.org" in torch.rewritten
    assert "+cpu builds exist only on that index" in torch.rewritten
    assert {p.name: p.requirement for p in colab.pins if p.name.startswith("torch")} == {
        "torch": "torch==2.11.0",
        "torchao": "torchao==0.10.0",
        "torchaudio": "torchaudio==2.11.0",
        "torchcodec": "torchcodec==0.11.0",
        "torchdata": "torchdata==0.11.0",
        "torchsummary": "torchsummary==1.5.1",
        "torchtune": "torchtune==0.6.1",
        "torchvision": "torchvision==0.26.0",
    }


def test_rewritten_pins_carry_their_comment_into_the_file(whole: freeze.Conversion) -> None:
    text = freeze.render(whole)
    comment = text.split('    "torch==2.11.0",')[0].splitlines()[-3:]
    assert comment[0] == (
        "    # torch: line 583: the freeze has a URL pin to torch-2.11.0+cpu-cp313-cp313-manylinux_2_28_x86_64.whl on"
    )
    assert all(line.startswith("    # ") for line in comment)


def test_spacy_model_wheel_url_becomes_a_pin(colab: freeze.Freeze) -> None:
    model = colab.pin("en-core-web-sm")
    assert model is not None
    assert model.requirement == "en_core_web_sm==3.8.0"
    assert "en_core_web_sm-3.8.0-py3-none-any.whl on github.com" in model.rewritten


def test_local_file_and_git_pins_are_left_out_everywhere_with_reasons(whole: freeze.Conversion) -> None:
    by_name = {u.name: u for u in whole.unusable}
    assert by_name["google-colab"].line == 170
    assert by_name["google-colab"].reason == "a file on the machine that made the freeze; no other machine can fetch it"
    assert by_name["jupyter-kernel-gateway"].reason.startswith("a git checkout, not a release on PyPI")
    text = freeze.render(whole)
    assert "#   on every platform: a file on the machine that made the freeze" in text
    assert "google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz (line 170)" in text


def test_nvidia_packages_are_left_out_on_every_platform(whole: freeze.Conversion) -> None:
    for platform in ALL_PLATFORMS:
        assert _reasons(whole, platform)["nvidia-nccl-cu13"] == NVIDIA
    assert f"#   on every platform: {NVIDIA}:\n#     nvidia-nccl-cu13==2.31.2\n" in freeze.render(whole)


def test_tensorflow_jax_torch_are_left_out_on_arm32_only(whole: freeze.Conversion) -> None:
    for platform in ("amd64", "arm64"):
        kept = _kept(whole, platform)
        assert kept["tensorflow"] == "tensorflow==2.20.0"
        assert kept["torch"] == "torch==2.11.0"
        assert "jax" in kept and "flax" in kept and "keras-nlp" in kept
    arm32 = _reasons(whole, "arm/v7")
    for name in ("tensorflow", "tensorflow-text", "jaxlib", "torch", "torchcodec"):
        assert arm32[name] == NO_ARM32
    assert arm32["jax"] == f"requires jaxlib; jaxlib: {NO_ARM32}"
    assert arm32["flax"] == f"requires jaxlib (through jax); jaxlib: {NO_ARM32}"
    assert arm32["keras-nlp"] == f"requires tensorflow-text (through keras-hub); tensorflow-text: {NO_ARM32}"
    assert arm32["torchvision"] == f"requires torch; torch: {NO_ARM32}"
    assert arm32["tf-keras"] == f"requires tensorflow; tensorflow: {NO_ARM32}"
    # These install without tensorflow (they ask the user for it): not left out.
    for name in ("tensorflow-datasets", "tensorflow-probability", "tensorflow-metadata", "tensorboard"):
        assert name in _kept(whole, "arm/v7")


def test_intel_runtime_is_left_out_on_arm_only(whole: freeze.Conversion) -> None:
    assert "mkl" in _kept(whole, "amd64")
    for platform in ("arm64", "arm/v7"):
        assert _reasons(whole, platform)["mkl"] == "Intel oneAPI runtime: PyPI has wheels for x86_64 only"


def test_only_keeps_exactly_those_and_numpy(colab: freeze.Freeze) -> None:
    conversion = freeze.convert(colab, Options(name="colab", only=("numpy", "scipy", "pandas", "scikit-learn")))
    for cell in conversion.cells:
        assert [p.requirement for p in cell.packages] == ["pandas==2.2.3", "scikit-learn==1.6.1", "scipy==1.16.3"]
        assert cell.left_out == ()
        assert cell.imports == ("scipy", "pandas", "sklearn")
    assert len(conversion.unselected) == 641 - 5  # numpy, pip and the three
    assert conversion.unusable == ()  # google-colab and the git pin were not asked for
    text = freeze.render(conversion)
    assert "# Not selected (--only): 636 more packages of the freeze" in text
    assert "build_timeout" not in text  # three packages need no hour
    cells = matrix.parse(tomllib.loads(text)).cells
    assert {c.numpy for c in cells} == {"==2.1.3"}


def test_only_names_are_normalised_and_unknown_ones_refused(colab: freeze.Freeze) -> None:
    conversion = freeze.convert(colab, Options(name="colab", only=("Scikit_Learn",)))
    assert [p.requirement for p in conversion.cells[0].packages] == ["scikit-learn==1.6.1"]
    with pytest.raises(ConfigError, match=r"'scikit-lern' is not in the freeze \(did you mean 'scikit-learn'\?\)"):
        freeze.convert(colab, Options(name="colab", only=("scikit-lern",)))


def test_only_a_left_out_package_still_says_why(colab: freeze.Freeze) -> None:
    conversion = freeze.convert(colab, Options(name="colab", only=("google-colab", "tensorflow")))
    assert [u.name for u in conversion.unusable] == ["google-colab"]
    assert _reasons(conversion, "arm/v7") == {"tensorflow": NO_ARM32}


# --- options ---------------------------------------------------------------------------------------------------


def test_platforms_cpus_suite_and_source(colab: freeze.Freeze) -> None:
    options = Options(
        name="mine",
        platforms=("arm64", "arm/v6"),
        suite="bookworm",
        cpus={"arm64": "pi5", "arm/v6": "none"},
        source="my laptop, 2026-11-20",
        only=("scipy",),
    )
    parsed = matrix.parse(tomllib.loads(freeze.render(freeze.convert(colab, options)))).cells
    assert [(c.name, c.platform, c.cpu, c.suite, c.source) for c in parsed] == [
        ("mine-arm64", "arm64", "pi5", "bookworm", "my laptop, 2026-11-20"),
        ("mine-arm-v6", "arm/v6", None, "bookworm", "my laptop, 2026-11-20"),
    ]
    assert freeze.command_line("f.txt", options) == (
        "npmatrix freeze-to-matrix f.txt --name mine --platform arm64 --platform arm/v6 --suite bookworm "
        "--cpu arm64=pi5 --cpu arm/v6=none --only scipy --source 'my laptop, 2026-11-20'"
    )


@pytest.mark.parametrize(
    ("options", "where", "fragment"),
    [
        (Options(name="x", platforms=("arm/v8",)), "--platform", "unknown platform 'arm/v8' (did you mean 'arm/v7'?)"),
        (Options(name="x", suite="bokworm"), "--suite", "did you mean 'bookworm'?"),
        (Options(name="x", cpus={"arm64": "pi9"}), "--cpu", "unknown CPU model 'pi9'"),
        (Options(name="x", cpus={"amd64": "pi4"}), "--cpu", "CPU model 'pi4' is for arm64, arm/v7, not amd64"),
        (Options(name="x", cpus={"arm/v6": "pi1"}), "--cpu", "arm/v6 is not one of the --platform values"),
        (Options(name="Colab!"), "--name", "is not a valid cell name"),
        (Options(name="x", numpy="latest"), "--numpy", "is not a version specifier"),
        (Options(name="x", source="two\nlines"), "--source", "control character U+000A"),
    ],
)
def test_bad_options_are_config_errors(colab: freeze.Freeze, options: Options, where: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        freeze.convert(colab, options)
    assert caught.value.where == where
    assert fragment in str(caught.value)


def test_a_freeze_without_numpy_needs_numpy_option() -> None:
    no_numpy = freeze.parse_freeze("scipy==1.16.3\n", path="f.txt")
    with pytest.raises(ConfigError, match=r"^f.txt: the freeze pins no NumPy .*give one with --numpy$"):
        freeze.convert(no_numpy, Options(name="x"))
    conversion = freeze.convert(no_numpy, Options(name="x", numpy="2.3.5"))
    assert conversion.numpy == "==2.3.5"
    assert 'numpy = "==2.3.5"  # from --numpy' in freeze.render(conversion)


def test_a_numpy_line_pip_cannot_fetch_says_why() -> None:
    local = freeze.parse_freeze("numpy @ file:///wheels/numpy-2.1.3-cp313-cp313-linux_x86_64.whl\n", path="f.txt")
    with pytest.raises(ConfigError) as caught:
        freeze.convert(local, Options(name="x"))
    assert str(caught.value) == (
        "f.txt: NumPy's line 1 is a file on the machine that made the freeze; no other machine can fetch it; "
        "give a NumPy pin with --numpy"
    )


def test_name_from_path() -> None:
    assert freeze.name_from_path(Path("tests/data/colab/pip-freeze.txt")) == "pip-freeze"
    assert freeze.name_from_path(Path("My Colab (2026).txt")) == "my-colab-2026"
    assert freeze.name_from_path(Path("!!!.txt")) == "freeze"


# --- the line parser -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "requirement"),
    [
        ("numpy==2.1.3", "numpy==2.1.3"),
        ("Flask==3.1.3", "Flask==3.1.3"),
        ("foo == 1.0   # a comment", "foo==1.0"),
        ("legacy===1.0-custom", "legacy===1.0-custom"),
        ("torch==2.8.0+cu128", "torch==2.8.0"),
        ("pkg[extra]==1.0", "pkg[extra]==1.0"),
        ("demo @ https://example.org/d/demo-1.2.tar.gz", "demo==1.2"),
    ],
)
def test_pins(line: str, requirement: str) -> None:
    pin = freeze.parse_line(line, line=7)
    assert isinstance(pin, Pin)
    assert pin.requirement == requirement
    assert pin.line == 7


def test_a_local_version_says_why_it_was_stripped() -> None:
    pin = freeze.parse_line("torch==2.8.0+cu128", line=1)
    assert isinstance(pin, Pin)
    assert pin.rewritten == (
        "the freeze pins 2.8.0+cu128: local versions (+cu128) exist only on the index that built them, never on "
        "PyPI; PyPI's 2.8.0 instead, which may be another build of it"
    )


@pytest.mark.parametrize(
    ("line", "name", "reason"),
    [
        ("-e git+https://github.com/me/x.git@abc#egg=x", None, "an editable install of a local checkout (-e)"),
        ("--index-url https://example.org/simple", None, "a pip option, not a package"),
        ("x @ file:///home/me/x-1.0-py3-none-any.whl", "x", "a file on the machine that made the freeze"),
        ("x @ git+https://github.com/me/x@abc", "x", "a git checkout, not a release on PyPI"),
        ("x @ hg+https://example.org/x", "x", "a hg checkout"),
        ("x @ https://github.com/me/x/archive/main", "x", "a URL that is neither a wheel nor an sdist"),
        ('x==1.0 ; python_version < "3.9"', "x", "has an environment marker"),
        ("this is not a package", None, "not a requirement pip freeze writes ("),
        ("x==1.0$(rm -rf /)", None, "not a requirement pip freeze writes"),
    ],
)
def test_unusable_lines(line: str, name: str | None, reason: str) -> None:
    entry = freeze.parse_line(line, line=3)
    assert isinstance(entry, Unusable)
    assert entry.name == name
    assert entry.reason.startswith(reason)
    assert "\n" not in entry.reason


@pytest.mark.parametrize("line", ["", "   ", "# a comment", "  # indented comment"])
def test_comments_and_blank_lines_are_no_entries(line: str) -> None:
    assert freeze.parse_line(line, line=1) is None


def test_a_name_listed_twice_keeps_the_first_pin() -> None:
    parsed = freeze.parse_freeze("numpy==2.1.3\nNumPy==1.26.4\n")
    assert [p.requirement for p in parsed.pins] == ["numpy==2.1.3"]
    (again,) = parsed.unusable
    assert again.line == 2 and again.reason == "numpy is listed again (first on line 1); the first pin is used"


_NAMES = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True)
_VERSIONS = st.builds(
    lambda release, post, dev: (
        ".".join(map(str, release))
        + (f".post{post}" if post is not None else "")
        + (f".dev{dev}" if dev is not None else "")
    ),
    st.lists(st.integers(0, 2030), min_size=1, max_size=4),
    st.none() | st.integers(0, 9),
    st.none() | st.integers(0, 9),
)


@given(name=_NAMES, version=_VERSIONS)
def test_name_version_lines_round_trip(name: str, version: str) -> None:
    pin = freeze.parse_line(f"{name}=={version}", line=1)
    assert isinstance(pin, Pin)
    assert pin.name == canonicalize_name(name)
    assert pin.requirement == f"{name}=={version}"
    assert pin.specifier == f"=={version}"
    assert pin.rewritten == ""


@given(lines=st.lists(st.text(max_size=60), max_size=8))
def test_any_text_is_reported_never_crashed_on(lines: list[str]) -> None:
    text = "numpy==2.1.3\n" + "\n".join(lines)
    parsed = freeze.parse_freeze(text)
    entries = [*parsed.pins, *parsed.unusable]
    expected = [n for n, raw in enumerate(text.splitlines(), start=1) if freeze.parse_line(raw, line=n) is not None]
    assert sorted(e.line for e in entries) == expected
    for pin in parsed.pins:
        assert validators.requirement(pin.requirement) == pin.requirement
    for unusable in parsed.unusable:
        assert unusable.reason and "\n" not in unusable.reason
    # Whatever the lines hold, the output is TOML the matrix parser accepts.
    rendered = freeze.render(freeze.convert(parsed, Options(name="x", platforms=("amd64",))))
    matrix.parse(tomllib.loads(rendered))


# --- the data table --------------------------------------------------------------------------------------------


def test_data_table_names_known_platforms_and_canonical_names() -> None:
    rules = freeze.rules()
    known = set(presets().platforms)
    assert set(rules.cell_settings) <= known
    for rule in rules.leave_out:
        assert rule.reason
        assert rule.platforms is None or set(rule.platforms) <= known
        assert all(canonicalize_name(n.replace("*", "x")) == n.replace("*", "x") for n in rule.names)
    for name, required in rules.requires.items():
        assert canonicalize_name(name) == name
        assert all(canonicalize_name(r) == r for r in required)
    assert all(validators.module_name(m) == m for m in rules.imports.values())


def test_glob_rules_do_not_catch_lookalikes() -> None:
    # cufflinks (plotly for pandas) and curl-cffi start with "cu" but need no GPU.
    for name in ("cufflinks", "curl-cffi", "cuda-python", "cudf-cu12", "jax-cuda12-plugin", "cupy-cuda12x"):
        expected = None if name in ("cufflinks", "curl-cffi") else NVIDIA
        assert freeze.why_left_out(name, "amd64") == expected, name


# --- the command line ------------------------------------------------------------------------------------------


def npmatrix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "npmatrix", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


def test_cli_writes_a_file_list_accepts(tmp_path: Path) -> None:
    out = tmp_path / "colab.toml"
    args = ["freeze-to-matrix", str(COLAB), "--name", "colab", "--only", "numpy,scipy", "--only", "pandas"]
    result = CliRunner().invoke(cli, [*args, "--source", "Colab 2026-08-19", "--out", str(out)])
    assert result.exit_code == 0, result.output
    listed = CliRunner().invoke(cli, ["list", "--matrix", str(out)])
    assert [line.split()[:2] for line in listed.output.splitlines()] == [
        ["colab-amd64", "amd64"],
        ["colab-arm64", "arm64"],
        ["colab-arm-v7", "arm/v7"],
    ]
    assert matrix.load(out).cells[0].packages == ("pandas==2.2.3", "scipy==1.16.3")
    assert matrix.load(out).cells[0].source == "Colab 2026-08-19"


def test_cli_prints_to_stdout_by_default() -> None:
    result = CliRunner().invoke(cli, ["freeze-to-matrix", str(COLAB), "--only", "scipy", "--platform", "amd64"])
    assert result.exit_code == 0, result.output
    assert 'name = "pip-freeze-amd64"' in result.output
    assert 'source = "pip freeze pip-freeze.txt, modified 20' in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.txt"], "npmatrix: error: missing.txt: cannot read the freeze file: No such file or directory\n"),
        ([str(COLAB), "--platform", "armv7"], "npmatrix: error: --platform: unknown platform 'armv7'"),
        ([str(COLAB), "--only", "tensorflw"], "npmatrix: error: --only: 'tensorflw' is not in the freeze"),
        ([str(COLAB), "--cpu", "arm64"], "npmatrix: error: Invalid value for '--cpu': expected PLATFORM=MODEL"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = npmatrix("freeze-to-matrix", *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_freeze_without_numpy_exits_2(tmp_path: Path) -> None:
    mine = tmp_path / "mine.txt"
    mine.write_text("scipy==1.16.3\n")
    done = npmatrix("freeze-to-matrix", str(mine))
    assert done.returncode == 2
    assert done.stderr.strip().endswith("the freeze pins no NumPy (no numpy==... line); give one with --numpy")
    assert len(done.stderr.strip().splitlines()) == 1
    assert npmatrix("freeze-to-matrix", str(mine), "--numpy", "2.3.5").returncode == 0
