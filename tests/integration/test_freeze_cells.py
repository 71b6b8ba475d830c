"""A pip freeze becomes a matrix whose cells build: Colab's published freeze, on the real engine."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO, npmatrix

FREEZE = REPO / "tests" / "data" / "colab" / "pip-freeze.txt"


def test_colabs_freeze_builds_on_amd64_and_says_why_not_on_a_32_bit_pi(tmp_path: Path) -> None:
    matrix = tmp_path / "colab.toml"
    made = npmatrix(
        "freeze-to-matrix",
        str(FREEZE),
        "--name",
        "colab",
        "--only",
        "numpy,scipy,pandas,scikit-learn",
        "--platform",
        "amd64",
        "--platform",
        "arm/v7",
        "--out",
        str(matrix),
        out_dir=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    out = tmp_path / "out"
    ran = npmatrix("run", "--matrix", str(matrix), "--out", str(out), out_dir=out)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    amd64, armv7 = ran.cell("colab-amd64"), ran.cell("colab-arm-v7")
    assert amd64["status"] == "ok", amd64["reason"]
    assert amd64["probe"]["numpy"]["version"] == "2.1.3"
    assert amd64["probe"]["pip"]["version"] == "24.1.2"  # the freeze's own pip
    assert {m["module"]: m["ok"] for m in amd64["probe"]["imports"]} == {"scipy": True, "pandas": True, "sklearn": True}
    assert armv7["status"] == "no-wheel"
    assert "linux_armv7l" in armv7["reason"]
