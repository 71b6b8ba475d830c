"""classify_build on real build logs (tests/data/buildlogs, captured from the gallery cells that made them):
the reason quotes the build's key line and the fix answers that cause. Pure: no engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from npmatrix.config import matrix
from npmatrix.judge.classify import classify_build
from npmatrix.judge.outcomes import BuildOutcome
from npmatrix.plan.cellplan import CellPlan, plan_cell
from npmatrix.verdict import Status

LOGS = Path(__file__).resolve().parents[1] / "data" / "buildlogs"


def _plan(**extra: Any) -> CellPlan:
    raw = {"name": "cell", "platform": "amd64", "numpy": "2.3.5", **extra}
    (cell,) = matrix.parse({"cell": [raw]}).cells
    return plan_cell(cell)


def _failed(log: str, *, timed_out: bool = False) -> BuildOutcome:
    return BuildOutcome(
        tag="npmatrix-cell:cell-0123456789ab",
        ok=False,
        image_id=None,
        cached=False,
        exit_code=None if timed_out else 1,
        timed_out=timed_out,
        duration_s=240.0,
        log_path=Path("/results/logs/cell.build.log"),
        output=(LOGS / log).read_text(),
    )


def test_pep668_is_build_failed_with_the_venv_apt_and_override_fixes() -> None:
    verdict = classify_build(_plan(venv=False), _failed("pep668-bookworm-amd64.build.log"))
    assert verdict.status is Status.BUILD_FAILED
    assert verdict.reason == (
        "image build failed: pip refused to install into Debian's system Python (PEP 668: the environment is "
        "externally managed by apt): error: externally-managed-environment"
    )
    assert verdict.fix is not None
    assert "python3 -m venv" in verdict.fix
    assert "apt install python3-numpy" in verdict.fix
    assert "--break-system-packages" in verdict.fix
    assert verdict.evidence == ("#5 6.153 error: externally-managed-environment",)


def test_a_source_build_that_ran_out_of_time_says_so_and_points_to_a_wheel() -> None:
    plan = _plan(suite="trixie", numpy="1.26.4", only_binary=False, build_timeout=240)
    verdict = classify_build(plan, _failed("sdist-timeout-trixie-amd64.build.log", timed_out=True))
    assert verdict.status is Status.TIMEOUT
    assert verdict.reason.startswith("the image build was still running after 240 s: pip was building numpy 1.26.4 ")
    assert "from source, a build that did not finish" in verdict.reason
    assert "no wheel of it fits cp313 on linux_x86_64" in verdict.reason
    assert verdict.fix is not None
    for fix in ("pin a release with a wheel", "only_binary = true", "python3-numpy", "piwheels", "build_timeout"):
        assert fix in verdict.fix


def test_a_build_timeout_without_a_source_build_keeps_the_plain_reason() -> None:
    build = BuildOutcome(
        tag="t",
        ok=False,
        image_id=None,
        cached=False,
        exit_code=None,
        timed_out=True,
        duration_s=30.0,
        log_path=None,
        output="#5 1.0 Reading package lists",
    )
    verdict = classify_build(_plan(build_timeout=30), build)
    assert verdict.status is Status.TIMEOUT
    assert verdict.reason == "the image build took longer than 30 s"


def test_a_source_build_without_a_compiler_quotes_meson_and_says_why_pip_built() -> None:
    plan = _plan(suite="trixie", numpy="1.26.4", only_binary=False)
    verdict = classify_build(plan, _failed("sdist-no-compiler-trixie-amd64.build.log"))
    assert verdict.status is Status.BUILD_FAILED
    assert verdict.reason == (
        "pip fell back to building numpy 1.26.4 from source (no wheel of it fits cp313 on linux_x86_64) and the "
        "build failed: there is no C compiler (meson found none of cc, gcc, clang): ERROR: Unknown compiler(s): "
        "[['cc'], ['gcc'], ['clang'], ['nvc'], ['pgcc'], ['icc'], ['icx']]"
    )
    assert verdict.fix is not None
    assert verdict.fix.startswith("install a wheel instead of building one: pin a NumPy release with a wheel")
    assert "apt-get install gcc g++ python3-dev" in verdict.fix
    assert verdict.fix.endswith("the whole build log: /results/logs/cell.build.log")
    assert "subprocess-exited-with-error" not in " ".join(verdict.evidence)
