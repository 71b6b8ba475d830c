"""A matrix's own CPU models ([cpu.NAME]), checked against what QEMU knows: `-cpu help` of qemu-user 7.2,
captured from this project's build machines (tests/data/qemu), parsed and used in place of the real binaries.

Parsing checks a model's syntax; the preflight of `run` and `doctor` (app/preflight.py) checks it against QEMU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npmatrix import cli
from npmatrix.app import preflight
from npmatrix.config import matrix
from npmatrix.errors import ConfigError
from npmatrix.host import qemucpu
from npmatrix.judge.classify import _with_cpu_context
from npmatrix.plan.cellplan import plan_cell
from npmatrix.verdict import Status, Verdict

QEMU = Path(__file__).resolve().parents[1] / "data" / "qemu"
CAPTURED = {"qemu-aarch64": "aarch64", "qemu-arm": "arm", "qemu-x86_64": "x86_64"}


def _captured(qemu: str) -> qemucpu.QemuCpus:
    text = (QEMU / f"qemu-{CAPTURED[qemu]}-cpu-help.txt").read_text()
    return qemucpu.parse_cpu_help(text, binary=f"{qemu}-static")


@pytest.fixture(autouse=True)
def captured_qemu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qemucpu, "known", _captured)


def test_arm_lists_are_parsed() -> None:
    aarch64 = _captured("qemu-aarch64")
    assert {"cortex-a53", "cortex-a72", "cortex-a76", "neoverse-n1", "a64fx", "max"} <= aarch64.models
    assert "Available" not in " ".join(aarch64.models) and not aarch64.flags
    arm = _captured("qemu-arm")
    assert {"arm1176", "cortex-a7", "cortex-a15"} <= arm.models
    assert "cortex-a72" not in arm.models  # qemu-arm knows no 64-bit cores


def test_x86_models_and_flags_are_parsed() -> None:
    x86 = _captured("qemu-x86_64")
    assert {"Nehalem", "Nehalem-v1", "Skylake-Server", "486"} <= x86.models
    assert {"sse4.2", "popcnt", "avx512f"} <= x86.flags
    assert "x86" not in x86.models and "(alias" not in " ".join(x86.models)


def test_every_built_in_preset_is_a_model_qemu_knows() -> None:
    from npmatrix.config.platforms import presets

    for cpu in presets().cpus.values():
        for platform, model in cpu.qemu.items():
            qemucpu.check_model(model, _captured(presets().platforms[platform].qemu))


def _board(**table: Any) -> dict[str, Any]:
    return {
        "cpu": {"my-board": table},
        "cell": [{"name": "c", "platform": "arm64", "numpy": "2.3.5", "cpu": "my-board"}],
    }


def test_a_matrix_cpu_reaches_the_plan_and_the_reasons() -> None:
    raw = _board(qemu={"arm64": "cortex-a53", "arm/v7": "cortex-a7"}, note="a Pi 3 clone with 1 GB")
    cell = matrix.parse(raw).cells[0]
    assert cell.cpu == "my-board" and cell.cpu_model is not None
    plan = plan_cell(cell)
    assert plan.placement.qemu_cpu == "cortex-a53"
    assert plan.environment == {"QEMU_CPU": "cortex-a53"}
    verdict = _with_cpu_context(plan, Verdict(status=Status.CRASHED, reason="import numpy died"))
    assert verdict.reason == "import numpy died (as my-board (defined in the matrix); a Pi 3 clone with 1 GB)"


def test_x86_flag_changes_are_checked_flag_by_flag() -> None:
    raw = _board(qemu={"amd64": "Nehalem,-sse4.2,-popcnt"})
    raw["cell"][0]["platform"] = "amd64"
    assert plan_cell(matrix.parse(raw).cells[0]).placement.qemu_cpu == "Nehalem,-sse4.2,-popcnt"
    raw = _board(qemu={"amd64": "Nehalem,-sse42"})
    raw["cell"][0]["platform"] = "amd64"
    parsed = matrix.parse(raw)  # parsing reads; the preflight asks QEMU
    with pytest.raises(ConfigError, match=r"qemu-x86_64-static knows no CPUID flag 'sse42'"):
        preflight.check_cpu_models(parsed)


@pytest.mark.parametrize(
    ("table", "where", "message"),
    [
        ({"qemu": {"arm64": "cortex-a53;id"}}, "cpu.my-board.qemu.arm64", "is not a QEMU CPU model"),
        ({"qemu": {"arm64": "cortex-a53 -d in_asm"}}, "cpu.my-board.qemu.arm64", "is not a QEMU CPU model"),
        ({"qemu": {"arm64": "$(id)"}}, "cpu.my-board.qemu.arm64", "is not a QEMU CPU model"),
        ({"qemu": {"arm64": 53}}, "cpu.my-board.qemu.arm64", "expected a string"),
        ({"qemu": {"risc-v": "rv64"}}, "cpu.my-board.qemu", "unknown platform 'risc-v'"),
        ({"qemu": {}}, "cpu.my-board.qemu", "names no platform"),
        ({"note": "x"}, "cpu.my-board", "missing required key 'qemu'"),
        ({"qemu": {"arm64": "cortex-a53"}, "notes": "x"}, "cpu.my-board", "unknown key 'notes' (did you mean 'note'?)"),
        ({"qemu": {"arm64": "cortex-a53"}, "note": "a\x1b[2Jb"}, "cpu.my-board.note", "control character"),
    ],
)
def test_bad_cpu_tables_are_one_line_errors(table: dict[str, Any], where: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        matrix.parse(_board(**table), source="m.toml")
    text = str(info.value)
    assert f"m.toml: {where}: " in text and message in text, text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("platform", "table", "where", "message"),
    [
        (
            "arm64",
            {"qemu": {"arm64": "cortex-a99"}},
            "cpu.my-board.qemu.arm64",
            "qemu-aarch64-static knows no CPU model 'cortex-a99' (did you mean 'cortex-a76'?)",
        ),
        (
            "arm/v7",
            {"qemu": {"arm/v7": "cortex-a72"}},
            "cpu.my-board.qemu.arm/v7",
            "qemu-arm-static knows no CPU model",
        ),
        ("arm64", {"qemu": {"arm64": "cortex-a53,+sve"}}, "cpu.my-board.qemu.arm64", "takes no flag changes"),
    ],
)
def test_models_qemu_does_not_know_are_one_line_errors_of_the_preflight(
    platform: str, table: dict[str, Any], where: str, message: str
) -> None:
    raw = _board(**table)
    raw["cell"][0]["platform"] = platform
    parsed = matrix.parse(raw, source="m.toml")  # well-formed: parsing alone accepts it
    with pytest.raises(ConfigError) as info:
        preflight.check_cpu_models(parsed)
    text = str(info.value)
    assert f"m.toml: {where}: " in text and message in text, text
    assert "\n" not in text


def test_the_preflight_checks_only_the_models_of_the_selected_cells() -> None:
    raw = _board(qemu={"arm64": "cortex-a99"})
    raw["cell"].append({"name": "d", "platform": "arm64", "numpy": "2.3.5"})
    parsed = matrix.parse(raw)
    preflight.check_cpu_models(parsed.select(names=["d"]))  # cell c, the one on my-board, does not run
    with pytest.raises(ConfigError, match="knows no CPU model 'cortex-a99'"):
        preflight.check_cpu_models(parsed)


def test_parsing_a_matrix_runs_no_qemu(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(qemu: str) -> qemucpu.QemuCpus:
        raise AssertionError(f"parsing asked {qemu}")

    monkeypatch.setattr(qemucpu, "known", refuse)
    cell = matrix.parse(_board(qemu={"arm64": "cortex-a99"})).cells[0]
    assert cell.cpu_model is not None and cell.cpu_model.qemu == {"arm64": "cortex-a99"}


def test_config_imports_nothing_from_host() -> None:
    import json
    import subprocess
    import sys

    code = "import json, sys, npmatrix.config.matrix; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert [m for m in json.loads(done.stdout) if m.startswith("npmatrix.host")] == []


def test_a_built_in_name_cannot_be_redefined() -> None:
    raw = {
        "cpu": {"pi4": {"qemu": {"arm64": "cortex-a53"}}},
        "cell": [{"name": "c", "platform": "amd64", "numpy": "1"}],
    }
    with pytest.raises(ConfigError, match="'pi4' is a built-in CPU model"):
        matrix.parse(raw)


def test_an_unknown_cpu_name_points_to_the_table_syntax() -> None:
    raw = _board(qemu={"arm64": "cortex-a53"})
    raw["cell"][0]["cpu"] = "my-bord"
    with pytest.raises(ConfigError, match=r"unknown CPU model 'my-bord' \(did you mean 'my-board'\?\).*\[cpu.NAME\]"):
        matrix.parse(raw)


def test_a_cpu_for_another_platform_is_refused() -> None:
    raw = _board(qemu={"arm/v7": "cortex-a7"})
    with pytest.raises(ConfigError, match="CPU model 'my-board' is for arm/v7, not arm64"):
        matrix.parse(raw)


@pytest.mark.parametrize("command", ["run", "doctor"])
def test_the_cli_says_it_in_one_line_with_exit_2(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        '[cpu.my-board]\nqemu = { arm64 = "cortex-a99" }\n\n'
        '[[cell]]\nname = "c"\nplatform = "arm64"\nnumpy = "2.3.5"\ncpu = "my-board"\n'
    )
    # Before any engine: the unit tier's guard (conftest.py) fails a test whose command reaches one.
    out = ["--out", str(tmp_path / "out")] if command == "run" else []
    monkeypatch.setattr("sys.argv", ["npmatrix", command, "--matrix", str(path), *out])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.count("\n") == 1 and "knows no CPU model 'cortex-a99'" in err
    assert f"{path}: cpu.my-board.qemu.arm64: " in err


def test_list_reads_the_file_and_asks_no_qemu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        '[cpu.my-board]\nqemu = { arm64 = "cortex-a99" }\n\n'
        '[[cell]]\nname = "c"\nplatform = "arm64"\nnumpy = "2.3.5"\ncpu = "my-board"\n'
    )
    monkeypatch.setattr("sys.argv", ["npmatrix", "list", "--matrix", str(path)])
    cli.main()
    assert capsys.readouterr().out.startswith("c ")


def test_the_model_survives_results_json() -> None:
    import dataclasses

    from npmatrix.records import results

    cell = matrix.parse(_board(qemu={"arm64": "cortex-a53"}, note="n")).cells[0]
    assert results.cell_from_json(results._jsonable(dataclasses.asdict(cell))) == cell


def test_without_the_binary_only_the_syntax_is_checked() -> None:
    assert qemucpu.check_model("cortex-a99", None) == "cortex-a99"
    with pytest.raises(ValueError, match="is not a QEMU CPU model"):
        qemucpu.check_model("a b", None)


@given(st.text(min_size=1, max_size=40))
def test_nothing_but_model_syntax_passes(value: str) -> None:
    # Whatever QEMU lists, a value with a space, quote, `$`, `;` or control character never reaches QEMU_CPU.
    try:
        qemucpu.check_model(value, None)
    except ValueError:
        return
    assert all(c.isascii() and (c.isalnum() or c in "_.,+-") for c in value), value
