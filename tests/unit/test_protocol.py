"""What the host and the container scripts must agree on: one definition (npmatrix.plan.protocol), checked here
against the copies the standalone scripts carry, and the command line built on one side parsed on the other."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npmatrix.plan import protocol

CONTAINER = Path(protocol.__file__).parents[1] / "container"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"npmatrix_container_{name}", CONTAINER / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PROBE = _script("probe")
BENCH = _script("bench")


@pytest.mark.parametrize(
    ("host", "script", "name"),
    [
        (protocol.PROBE_VERSION, PROBE, "PROBE_VERSION"),
        (protocol.CHILD_FLAG, PROBE, "CHILD_FLAG"),
        (protocol.CHILD_MARKER, PROBE, "MARKER"),
        (protocol.BENCH_RESULT_MARKER, PROBE, "BENCH_RESULT_MARKER"),
        (protocol.BENCH_RESULT_MARKER, BENCH, "RESULT_MARKER"),
        (protocol.BENCH_VERSION, BENCH, "BENCH_VERSION"),
        (protocol.EXEC_PREFIX_VAR, PROBE, "EXEC_PREFIX_VAR"),
        (protocol.BENCH_DEFERRED, PROBE, "BENCH_DEFERRED"),
    ],
)
def test_the_scripts_carry_the_hosts_values(host: object, script: ModuleType, name: str) -> None:
    assert getattr(script, name) == host


def test_the_scripts_shipped_are_the_scripts_tested() -> None:
    files = protocol.script_files()
    assert set(files) == set(protocol.SCRIPTS)
    for name, data in files.items():
        assert data == (CONTAINER / name).read_bytes()


_modules = st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}(\.[A-Za-z_][A-Za-z0-9_]{0,8}){0,2}", fullmatch=True))


@given(
    bench=st.booleans(),
    sizes=st.lists(st.integers(1, 4096), min_size=1, max_size=4).map(tuple),
    repeats=st.integers(1, 50),
    child_timeout=st.one_of(st.integers(1, 10_000), st.floats(0.5, 10_000, allow_nan=False)),
    bench_timeout=st.integers(1, 100_000),
    imports=_modules.map(tuple),
    stage=st.sampled_from(["inline", "later", "only"]),
)
def test_the_command_line_built_here_is_the_one_probe_py_parses(
    bench: bool,
    stage: protocol.BenchStage,
    sizes: tuple[int, ...],
    repeats: int,
    child_timeout: float,
    bench_timeout: int,
    imports: tuple[str, ...],
) -> None:
    command = protocol.ProbeCommand(
        python="/usr/bin/python3",
        bench=bench,
        sizes=sizes,
        repeats=repeats,
        child_timeout=child_timeout,
        bench_timeout=bench_timeout,
        imports=imports,
        bench_stage=stage,
    )
    argv = command.argv()
    assert argv[:2] == ["/usr/bin/python3", f"{protocol.PROBE_DIR}/probe.py"]
    parsed = PROBE.parse_args(argv[2:])
    assert parsed.bench is bench
    assert parsed.timeout == pytest.approx(child_timeout)
    assert parsed.bench_timeout == bench_timeout
    assert parsed.imports == list(imports)
    if bench:
        assert (tuple(parsed.sizes), parsed.repeats) == (sizes, repeats)
    assert parsed.bench_later is (bench and stage == "later")
    assert parsed.bench_only is (bench and stage == "only")
