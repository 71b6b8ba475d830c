"""The command line, in process with click's CliRunner and for real through `python -m npmatrix`.

CliRunner calls `cli` directly, so a FatalError arrives as an exception; only `main()` turns it into a
one-line message and an exit code, which the subprocess tests check. Only commands that need no engine
run here (list, render, init, --help); `run` is checked to stop at the engine guard of conftest.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from goldens import default_dockerfile

from npmatrix.cli import cli
from npmatrix.config import matrix
from npmatrix.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "default"
DEFAULT_CELLS = ["colab", "pi5-64", "pi4-64", "pi32-pip", "pi32-apt"]

BAD_MATRIX = '[[cell]]\nname = "x"\nplatform = "amd64"\nnumpy = "2.3.5"\nexpcet = "ok"\n'


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    # Without --matrix, ./matrix/default.toml is used when the working directory has one, as the checkout does.
    monkeypatch.chdir(REPO)
    return REPO


@pytest.fixture
def elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    # A working directory with no matrix/: without --matrix, the built-in default.
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def _names(output: str) -> list[str]:
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def npmatrix(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "npmatrix", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


# --- in process ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], DEFAULT_CELLS),
        (["--arch", "arm/v7"], ["pi32-pip", "pi32-apt"]),
        (["--arch", "amd64", "--arch", "arm64"], ["colab", "pi5-64", "pi4-64"]),
        (["--cell", "pi32-*"], ["pi32-pip", "pi32-apt"]),
    ],
)
def test_list(in_repo: Path, args: list[str], expected: list[str]) -> None:
    result = CliRunner().invoke(cli, ["list", *args])
    assert result.exit_code == 0, result.output
    assert _names(result.output) == expected


def test_list_line_shows_platform_install_and_expectation(in_repo: Path) -> None:
    result = CliRunner().invoke(cli, ["list", "--cell", "pi32-pip"])
    (line,) = result.output.splitlines()
    assert line.split() == ["pi32-pip", "arm/v7", "trixie", "pip", "numpy==2.1.3", "expect=no-wheel", "cpu=pi4"]


@pytest.mark.parametrize(
    ("args", "where", "fragment"),
    [
        (["list", "--arch", "arm/v8"], "--arch", "did you mean 'arm/v7'?"),
        (["list", "--cell", "pi33-pip"], "matrix/default.toml", "did you mean 'pi32-pip'?"),
        (["render", "--arch", "armv7"], "--arch", "did you mean"),
    ],
)
def test_bad_filter_raises_config_error(in_repo: Path, args: list[str], where: str, fragment: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, ConfigError), result.output
    assert result.exception.where == where
    assert fragment in str(result.exception)
    assert result.exception.exit_code == 2


def test_matrix_with_unknown_key_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(BAD_MATRIX)
    result = CliRunner().invoke(cli, ["list", "--matrix", str(path)])
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith(f"{path}: cell[0] (x): unknown key 'expcet'")


def test_list_outside_the_checkout_shows_the_builtin_default(elsewhere: Path) -> None:
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0, result.output
    assert _names(result.output) == DEFAULT_CELLS
    unknown = CliRunner().invoke(cli, ["list", "--cell", "nope"])
    assert isinstance(unknown.exception, ConfigError)
    assert unknown.exception.where == "builtin:default"


def test_list_own_matrix_default_toml_wins_over_the_builtin(elsewhere: Path) -> None:
    (elsewhere / "matrix").mkdir()
    (elsewhere / "matrix" / "default.toml").write_text('[[cell]]\nname = "mine"\nplatform = "arm64"\nnumpy = "2.3.5"\n')
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0, result.output
    assert _names(result.output) == ["mine"]


def test_list_builtin_gallery_by_name(elsewhere: Path) -> None:
    result = CliRunner().invoke(cli, ["list", "--matrix", "gallery"])
    assert result.exit_code == 0, result.output
    gallery = [c.name for c in matrix.load(REPO / "matrix" / "gallery.toml").cells]
    assert len(gallery) > len(DEFAULT_CELLS)
    assert _names(result.output) == gallery


def test_unknown_builtin_name_raises_config_error(elsewhere: Path) -> None:
    result = CliRunner().invoke(cli, ["list", "--matrix", "galery"])
    assert isinstance(result.exception, ConfigError), result.output
    assert result.exception.where == "--matrix"
    assert "did you mean 'gallery'?" in str(result.exception)
    assert "default, gallery" in str(result.exception)


def test_list_other_matrix_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[axes]\nname = "np{numpy}-{platform}"\nplatform = ["amd64", "arm/v7"]\nnumpy = ["2.3.5"]\n')
    result = CliRunner().invoke(cli, ["list", "--matrix", str(path)])
    assert result.exit_code == 0, result.output
    assert _names(result.output) == ["np2.3.5-amd64", "np2.3.5-arm-v7"]


def test_render_writes_the_golden_dockerfiles(in_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "dockerfiles"
    result = CliRunner().invoke(cli, ["render", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.Dockerfile" for n in DEFAULT_CELLS)
    assert result.output.splitlines() == [str(out / f"{n}.Dockerfile") for n in DEFAULT_CELLS]
    for name in DEFAULT_CELLS:
        assert (out / f"{name}.Dockerfile").read_bytes() == (GOLDEN / f"{name}.Dockerfile").read_bytes(), name


def test_render_with_filter_writes_only_selected(in_repo: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["render", "--out", str(tmp_path), "--cell", "pi5-64"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["pi5-64.Dockerfile"]


def test_run_goes_through_the_engine_guard(in_repo: Path, tmp_path: Path) -> None:
    # The conftest guard is active, and `run` reaches for the engine before writing anything.
    result = CliRunner().invoke(cli, ["run", "--out", str(tmp_path / "results")])
    assert isinstance(result.exception, AssertionError)
    assert "unit tests must not touch the engine" in str(result.exception)
    assert not (tmp_path / "results" / "results.json").exists()


def test_group_help_lists_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Exit codes:" in result.output
    for code in ("0", "1", "2", "3"):
        assert f"  {code}  " in result.output


@pytest.mark.parametrize("command", ["list", "render", "run", "doctor", "clean"])
def test_matrix_help_names_every_builtin(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert f"({', '.join(matrix.builtin_names())})" in " ".join(result.output.split())


def test_run_help_mentions_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["run", "--help"])
    assert result.exit_code == 0
    assert "Exit codes" in result.output


# --- for real: python -m npmatrix --------------------------------------------------------------------------


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("npmatrix: error: ")
    return lines[0]


def test_subprocess_list() -> None:
    proc = npmatrix("list")
    assert proc.returncode == 0, proc.stderr
    assert _names(proc.stdout) == DEFAULT_CELLS


def test_subprocess_list_arch() -> None:
    proc = npmatrix("list", "--arch", "arm/v7")
    assert proc.returncode == 0, proc.stderr
    assert _names(proc.stdout) == ["pi32-pip", "pi32-apt"]


def test_subprocess_bad_arch_exits_2_with_one_line() -> None:
    line = _one_line_error(npmatrix("list", "--arch", "arm/v8"))
    assert "--arch: unknown platform 'arm/v8'" in line
    assert "did you mean 'arm/v7'?" in line


def test_subprocess_unknown_key_exits_2_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(BAD_MATRIX)
    line = _one_line_error(npmatrix("list", "--matrix", str(path)))
    assert str(path) in line
    assert "cell[0] (x)" in line
    assert "did you mean 'expect'?" in line


def test_subprocess_missing_matrix_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    line = _one_line_error(npmatrix("list", "--matrix", str(path)))
    assert f"{path}: cannot read matrix file" in line


def test_subprocess_render_outside_the_checkout_uses_the_builtin_default(tmp_path: Path) -> None:
    proc = npmatrix("render", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in DEFAULT_CELLS:
        assert (tmp_path / "out" / f"{name}.Dockerfile").read_text() == default_dockerfile(name, proc.stderr), name


def test_subprocess_unknown_builtin_exits_2_with_one_line(tmp_path: Path) -> None:
    line = _one_line_error(npmatrix("list", "--matrix", "galery", cwd=tmp_path))
    assert line.startswith("npmatrix: error: --matrix: no built-in matrix 'galery' (did you mean 'gallery'?)")


def test_subprocess_unknown_option_exits_2() -> None:
    proc = npmatrix("list", "--archh", "amd64")
    assert proc.returncode == 2
    assert "No such option" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_subprocess_render_matches_golden(tmp_path: Path) -> None:
    proc = npmatrix("render", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for name in DEFAULT_CELLS:
        assert (tmp_path / f"{name}.Dockerfile").read_text() == default_dockerfile(name, proc.stderr), name


def test_subprocess_run_help_exits_0() -> None:
    proc = npmatrix("run", "--help")
    assert proc.returncode == 0
    assert "results.json" in proc.stdout


# --- npmatrix init -----------------------------------------------------------------------------------------


def test_init_writes_a_starter_that_lists(elsewhere: Path) -> None:
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    written = elsewhere / "matrix" / "default.toml"
    assert written.read_text() == matrix.starter_text()
    assert matrix.load(written).cells  # parses and validates into cells
    # matrix/default.toml is the path the other commands use without --matrix.
    listed = CliRunner().invoke(cli, ["list"])
    assert _names(listed.output) == ["x86", "pi-64bit", "pi-32bit-apt"]


def test_init_to_a_path_then_list_it(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "mine.toml"
    assert CliRunner().invoke(cli, ["init", str(path)]).exit_code == 0
    result = CliRunner().invoke(cli, ["list", "--matrix", str(path)])
    assert result.exit_code == 0, result.output
    assert _names(result.output) == ["x86", "pi-64bit", "pi-32bit-apt"]


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("precious\n")
    result = CliRunner().invoke(cli, ["init", str(path)])
    assert isinstance(result.exception, ConfigError)
    assert result.exception.where == str(path)
    assert "--force" in str(result.exception)
    assert path.read_text() == "precious\n"
    assert CliRunner().invoke(cli, ["init", "--force", str(path)]).exit_code == 0
    assert path.read_text() == matrix.starter_text()


def test_init_refuses_a_dangling_symlink(tmp_path: Path) -> None:
    path = tmp_path / "link.toml"
    path.symlink_to(tmp_path / "nowhere.toml")
    result = CliRunner().invoke(cli, ["init", str(path)])
    assert isinstance(result.exception, ConfigError)


def test_subprocess_init_overwrite_exits_2_with_one_line(tmp_path: Path) -> None:
    assert npmatrix("init", "npmatrix.toml", cwd=tmp_path).returncode == 0
    line = _one_line_error(npmatrix("init", "npmatrix.toml", cwd=tmp_path))
    assert line == "npmatrix: error: npmatrix.toml: exists already; pass --force to replace it, or give another PATH"
