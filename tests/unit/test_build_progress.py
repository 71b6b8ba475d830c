"""Progress lines for long builds, read from BuildKit's plain output and mmdebstrap's log."""

from __future__ import annotations

from npmatrix import build, platforms
from npmatrix.base_image import BaseRecipe

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
