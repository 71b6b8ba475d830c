"""Progress lines for long builds, read from BuildKit's plain output and mmdebstrap's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from npmatrix.config import platforms
from npmatrix.plan.base_image import BaseRecipe
from npmatrix.run import build

BUILDKIT = """\
#1 [internal] load build definition from Dockerfile
#5 [1/3] FROM docker.io/library/npmatrix-base:bookworm-arm64-8dce2e7c03da
#6 [2/3] RUN python3 -m venv /opt/venv
#6 DONE 12.3s
#7 [3/3] RUN --mount=type=secret,id=pipconf python3 -m pip install "numpy==2.3.5"
#7 12.9 Collecting numpy==2.3.5
#7 [3/3] RUN --mount=type=secret,id=pipconf python3 -m pip install "numpy==2.3.5"
#8 [linux/arm64 2/2] RUN true
"""


def test_each_dockerfile_step_is_reported_once_as_it_starts() -> None:
    seen: list[str] = []
    on_line = build._build_steps(seen.append)
    assert on_line is not None
    for line in BUILDKIT.splitlines():
        on_line(line)
    assert seen == [
        "step 1/3: FROM docker.io/library/npmatrix-base:bookworm-arm64-8dce2e7c03da",
        "step 2/3: RUN python3 -m venv /opt/venv",
        'step 3/3: RUN --mount=type=secret,id=pipconf python3 -m pip install "numpy==2.3.5"',
        "step 2/2: RUN true",  # buildx prefixes the platform
    ]


def test_no_progress_callback_means_no_line_handler() -> None:
    assert build._build_steps(None) is None


def test_mmdebstrap_stages_are_reported() -> None:
    recipe = BaseRecipe(suite="bookworm", platform=platforms.presets().platforms["arm/v7"])
    seen: list[str] = []
    on_line = build._mmdebstrap_steps(recipe, seen.append)
    for line in ["I: automatically chosen mode: root", "I: downloading packages with apt...", "W: noise"]:
        on_line(line)
    assert seen == ["base arm/v7: downloading packages with apt"]


def test_base_images_of_arm64_are_made_as_the_build_cpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from npmatrix.host import process

    seen: dict[str, object] = {}

    def fake_run(argv: list[str], **kwargs: object) -> process.Completed:
        seen.update(argv=argv, env=kwargs.get("env"))
        return process.Completed(argv=tuple(argv), exit_code=1, output="E: stop here", duration_s=0.0)

    monkeypatch.setattr(process, "run", fake_run)
    monkeypatch.setattr(build.shutil, "which", lambda name: "/usr/bin/mmdebstrap")

    class NoImages:
        def image_id(self, tag: str) -> None:
            return None

    for name, env in (("arm64", {"QEMU_CPU": "cortex-a72"}), ("arm/v7", None)):
        recipe = BaseRecipe(suite="trixie", platform=platforms.presets().platforms[name])
        outcome = build.ensure_base(
            recipe, builder=None, engine=NoImages(), log_path=tmp_path / "b.log", progress=lambda m: None
        )
        assert not outcome.ok and seen["env"] == env
