"""action.yml, the composite action other repositories `uses:`, checked as far as we can without GitHub.

- actionlint lints a workflow that uses the action (`uses: ./`), built from the example the manual shows: it
  reads action.yml's inputs, so a misspelt input in the example or an input the action lost fails here.
- Every npmatrix flag the action's script can pass exists on `npmatrix run`; every input reaches the script
  through the environment (none is spliced into shell code) and every one is used.
- Every action it uses is pinned to a full commit SHA.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from workflow_words import check_command, commands, shell_words

REPO = Path(__file__).resolve().parents[2]
ACTION = REPO / "action.yml"
MANUAL = REPO / "docs" / "github-action.md"


def _action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return loaded


def _steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _action()["runs"]["steps"]
    return steps


def _run_step() -> dict[str, Any]:
    return next(step for step in _steps() if step.get("id") == "run")


def _example_steps() -> str:
    """The steps of the manual's example, with the published action replaced by this checkout's."""
    block = re.search(r"```yaml\n(.*?)```", MANUAL.read_text(), re.S)
    assert block, "docs/github-action.md has no yaml example"
    return re.sub(r"uses: OWNER/npmatrix@\S+.*", "uses: ./", block[1])


def _workflow(steps: str) -> str:
    return f"on: push\njobs:\n  matrix:\n    runs-on: ubuntu-24.04\n    steps:\n{steps}"


def _actionlint(workflow: str, project: Path) -> subprocess.CompletedProcess[str]:
    """actionlint on `workflow` in a git project that holds this checkout's action.yml at its root.

    actionlint reads a local action (`uses: ./`) only for a workflow file inside a project: not from stdin.
    """
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert actionlint, "actionlint is not installed: pip install -e '.[test]'"
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    shutil.copy(ACTION, project / "action.yml")
    workflows = project / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "example.yml").write_text(workflow)
    return subprocess.run(
        [actionlint, "-shellcheck=", "-pyflakes=", "-no-color"], cwd=project, capture_output=True, text=True
    )


def test_actionlint_accepts_the_manuals_example(tmp_path: Path) -> None:
    done = _actionlint(_workflow(_example_steps()), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_reads_the_actions_inputs(tmp_path: Path) -> None:
    # If actionlint did not read action.yml, the test above would pass whatever inputs the example names.
    misspelt = _example_steps().replace("matrix: matrix/pi.toml", "matrixx: matrix/pi.toml")
    done = _actionlint(_workflow(misspelt), tmp_path)
    assert done.returncode == 1 and 'input "matrixx" is not defined' in done.stdout, done.stdout


def _script_flags() -> list[str]:
    return sorted({word for word in shell_words(_run_step()["run"]) if word.startswith("--")})


def test_the_script_runs_npmatrix_run() -> None:
    invocations = commands(shell_words(_run_step()["run"]), "npmatrix")
    assert [args[0] for args in invocations] == ["run"]
    # The parsing must see the flags, or the check below checks nothing.
    assert {"--out", "--matrix", "--report", "--shard", "--cell", "--arch"} <= set(_script_flags())


@pytest.mark.parametrize("flag", _script_flags())
def test_every_flag_the_action_passes_exists(flag: str) -> None:
    check_command(["run", flag])


def test_no_input_is_spliced_into_shell_code() -> None:
    for step in _steps():
        assert "${{" not in step.get("run", ""), f"{step.get('name')}: pass inputs through env, not ${{{{ }}}}"


def test_every_input_is_used() -> None:
    text = ACTION.read_text()
    for name in _action()["inputs"]:
        assert f"inputs.{name}" in text, f"input {name} is declared but never used"
    env = _run_step()["env"]
    for variable in env:
        assert f"${variable}" in _run_step()["run"] or f'"${variable}"' in _run_step()["run"], variable


def test_every_action_is_pinned_to_a_commit() -> None:
    uses = [step["uses"] for step in _steps() if "uses" in step]
    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{action}: pin a full commit SHA"


def test_the_step_summary_and_exit_code_come_from_the_run() -> None:
    script = _run_step()["run"]
    assert 'report.md" >> "$GITHUB_STEP_SUMMARY"' in script
    assert script.rstrip().endswith('exit "$rc"')
    upload = next(step for step in _steps() if step.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"].startswith("always()"), "a failed run's results must still be uploaded"
