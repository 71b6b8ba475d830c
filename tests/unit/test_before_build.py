"""ARMv6 said at once (issue 17): a Pi Zero / Pi 1 on Debian's armhf ends cpu-unsupported from its plan alone,
with the reason and the fix, before any base image, build or container; other cells are not touched."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEngine, fake_builds

from npmatrix.config import matrix
from npmatrix.judge.before import before_build
from npmatrix.plan import cellplan
from npmatrix.run import runner
from npmatrix.verdict import Status


def _plan(body: str) -> cellplan.CellPlan:
    text = f'[[cell]]\nname = "c"\nnumpy = "==2.3.5"\n{body}\n'
    return cellplan.place(cellplan.plan_cell(matrix.loads(text, source="m.toml").cells[0]), "amd64")


@pytest.mark.parametrize(
    ("body", "base"),
    [
        ('platform = "arm/v7"\nboard = "pi0"', "Debian's armhf is built for ARMv7"),
        ('platform = "arm/v7"\ncpu = "pi1"', "Debian's armhf is built for ARMv7"),
        # arm/v6 records the image as ARMv6, but without a rootfs its base is Debian's armhf all the same.
        (
            'platform = "arm/v6"\nboard = "pi0"',
            "platform arm/v6 without a rootfs is Debian's armhf, which is built for ARMv7",
        ),
    ],
)
def test_an_armv6_cpu_on_debian_armhf_is_cpu_unsupported_with_the_fix(body: str, base: str) -> None:
    verdict = before_build(_plan(body))
    assert verdict is not None and verdict.status is Status.CPU_UNSUPPORTED
    assert "ARMv6" in verdict.reason and base in verdict.reason
    assert "nothing was built or started" in verdict.reason
    assert verdict.fix is not None and "Raspberry Pi OS" in verdict.fix and "Raspbian" in verdict.fix
    assert any("arm1176" in line for line in verdict.evidence)


def test_the_board_is_named_in_the_reason() -> None:
    verdict = before_build(_plan('platform = "arm/v7"\nboard = "pi0"'))
    assert verdict is not None and verdict.reason.startswith("board pi0 (Raspberry Pi Zero")


@pytest.mark.parametrize(
    "body",
    [
        'platform = "arm/v7"\nboard = "pi4"',  # ARMv8 running armhf: fine
        'platform = "arm/v7"\ncpu = "pi2"',  # Cortex-A7: ARMv7
        'platform = "arm/v7"',  # QEMU's default model
    ],
)
def test_cells_that_can_run_are_left_to_build(body: str) -> None:
    assert before_build(_plan(body)) is None


def test_the_runner_ends_it_before_any_base_build_or_container(
    fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bases_asked: list[Any] = []
    monkeypatch.setattr(runner, "ensure_bases", lambda recipes, **k: bases_asked.extend(recipes) or {})
    built = fake_builds(monkeypatch, fake_engine, failing={}, image_id="sha256:cell")
    plans = (_plan('platform = "arm/v7"\nboard = "pi0"\nexpect = "cpu-unsupported"'),)
    started = time.monotonic()
    (result,) = runner.run(plans, runner.RunOptions(out_dir=tmp_path), progress=lambda message: None)
    assert time.monotonic() - started < 2
    assert result.status is Status.CPU_UNSUPPORTED and result.as_expected
    assert "ARMv6" in result.verdict.reason
    assert built == [] and fake_engine.created == [] and bases_asked == []
