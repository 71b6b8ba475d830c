"""--reuse-results: what the reuse keys contain and ignore, when an earlier probe or no-wheel answer is taken,
what the package index's answer means, and the run that reuses (fake engine)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fakes import FakeEngine, fake_builds

from npmatrix.cli import cli
from npmatrix.config import matrix
from npmatrix.errors import ConfigError
from npmatrix.host import emulator
from npmatrix.host.engine import CallResult
from npmatrix.judge.outcomes import BuildOutcome
from npmatrix.plan import cellplan as plan
from npmatrix.plan import protocol
from npmatrix.records import results
from npmatrix.run import reuse, runner, wheel_check
from npmatrix.verdict import Status

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
FILES = {"probe.py": b"print(1)", "bench.py": b"print(2)"}


def _plan(**changes: Any) -> plan.CellPlan:
    given: dict[str, Any] = {"name": "c", "platform": "arm64", "cpu": "pi4", "numpy": "2.1.3", **changes}
    cell = {k: v for k, v in given.items() if v is not None}  # None: leave the key out
    (parsed,) = matrix.parse({"defaults": {"suite": "trixie"}, "cell": [cell]}).cells
    return plan.plan_cell(parsed)


KEY = reuse.probe_key(_plan(), image_id="sha256:a", files=FILES)


@pytest.mark.parametrize(
    ("changes", "image_id", "files"),
    [
        ({}, "sha256:b", FILES),  # another image
        ({}, "sha256:a", {**FILES, "probe.py": b"print(3)"}),  # another probe script
        ({}, "sha256:a", {**FILES, "bench.py": b"print(4)"}),  # another benchmark script
        ({}, "sha256:a", {**FILES, "qemu-x86_64-static": b"\x7fELF"}),  # an emulator copied in
        ({"cpu": "pi5"}, "sha256:a", FILES),  # another CPU model: QEMU_CPU in the environment
        ({"imports": ["scipy"]}, "sha256:a", FILES),  # the command line
        ({"timeout": 999}, "sha256:a", FILES),  # the children's time limits
        ({"memory": "512m"}, "sha256:a", FILES),  # the container's limits
        ({"pids": 64}, "sha256:a", FILES),
    ],
)
def test_the_probe_key_changes_with_what_the_probe_can_see(
    changes: dict[str, Any], image_id: str, files: dict[str, bytes]
) -> None:
    assert reuse.probe_key(_plan(**changes), image_id=image_id, files=files) != KEY


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "renamed"},  # a name reaches the image (its LABEL), so the image id covers it
        {"note": "a note"},
        {"source": "somewhere, 2026"},
        {"expect": "no-wheel"},
        {"build_timeout": 99},
    ],
)
def test_the_probe_key_ignores_what_never_reaches_the_container(changes: dict[str, Any]) -> None:
    assert reuse.probe_key(_plan(**changes), image_id="sha256:a", files=FILES) == KEY


def test_the_probe_key_changes_with_the_emulator() -> None:
    under = reuse.probe_key(_plan(), image_id="sha256:a", files=FILES, emulator="qemu-aarch64 flags=PF sha256:72")
    upgraded = reuse.probe_key(_plan(), image_id="sha256:a", files=FILES, emulator="qemu-aarch64 flags=PF sha256:82")
    assert len({KEY, under, upgraded}) == 3


def test_the_probe_key_is_the_same_whatever_the_order_of_the_files() -> None:
    backwards = dict(reversed(list(FILES.items())))
    assert reuse.probe_key(_plan(), image_id="sha256:a", files=backwards) == KEY


BUILD_KEY = reuse.build_key(_plan(), base_id="sha256:base")


@pytest.mark.parametrize(
    ("changes", "base_id"),
    [({"numpy": "2.2.0"}, "sha256:base"), ({"packages": ["scipy"]}, "sha256:base"), ({}, "sha256:other-base")],
)
def test_the_build_key_changes_with_the_dockerfile_and_the_base(changes: dict[str, Any], base_id: str) -> None:
    assert reuse.build_key(_plan(**changes), base_id=base_id) != BUILD_KEY


@pytest.mark.parametrize("changes", [{"note": "n"}, {"expect": "no-wheel"}, {"timeout": 5}, {"memory": "1g"}])
def test_the_build_key_ignores_what_the_build_never_sees(changes: dict[str, Any]) -> None:
    assert reuse.build_key(_plan(**changes), base_id="sha256:base") == BUILD_KEY


# --- which earlier results may be reused ---------------------------------------------------------------------


def _earlier_cell(status: Status, *, key: str | None, image_id: str | None = "sha256:a") -> results.CellResult:
    facts = json.loads((DATA / "probe-host-amd64-numpy-ok.json").read_text())
    base = results.from_json(json.loads((DATA / "results-default.json").read_text()), where="x").cells[0]
    verdict = dataclasses.replace(base.verdict, status=status)
    image = dataclasses.replace(base.image, id=image_id)
    return dataclasses.replace(base, verdict=verdict, reuse_key=key, facts=facts, image=image)


@pytest.mark.parametrize(
    ("status", "key", "reusable"),
    [
        (Status.OK, KEY, True),
        (Status.OK, "sha256:other", False),
        (Status.OK, None, False),  # a results file from before reuse keys
        (Status.CRASHED, KEY, False),  # a crash may be load: probe again
        (Status.TIMEOUT, KEY, False),
    ],
)
def test_only_an_ok_probe_with_the_same_key_is_reused(status: Status, key: str | None, reusable: bool) -> None:
    cell = _earlier_cell(status, key=key)
    earlier = reuse.Earlier(source="old.json", cells={cell.name: cell})
    assert (earlier.probe(cell.name, KEY) is cell) is reusable
    assert earlier.probe("another-cell", KEY) is None


@pytest.mark.parametrize(
    ("status", "image_id", "reusable"),
    [(Status.NO_WHEEL, None, True), (Status.BUILD_FAILED, None, False), (Status.NO_WHEEL, "sha256:a", False)],
)
def test_only_a_no_wheel_build_failure_is_answered_again(status: Status, image_id: str | None, reusable: bool) -> None:
    cell = _earlier_cell(status, key=BUILD_KEY, image_id=image_id)
    earlier = reuse.Earlier(source="old.json", cells={cell.name: cell})
    assert (earlier.no_wheel(cell.name, BUILD_KEY) is cell) is reusable
    assert earlier.no_wheel(cell.name, "sha256:another") is None


@pytest.mark.parametrize(
    ("bench", "emulated", "reused"),
    [
        (None, False, False),
        (None, True, False),
        ("all", False, True),
        ("all", True, True),
        ("emulated", False, False),  # a native cell's GFLOP/s mean something: measured again
        ("emulated", True, True),
    ],
)
def test_whose_benchmark_is_reused(bench: reuse.ReuseBench | None, emulated: bool, reused: bool) -> None:
    earlier = reuse.Earlier(source="old.json", cells={}, bench=bench)
    native = _plan(cpu=None)
    assert earlier.reuses_bench(plan.place(native, None if emulated else native.platform.name)) is reused


def test_an_amd64_cell_run_as_an_older_cpu_counts_as_emulated_for_reuse_bench() -> None:
    old_x86 = plan.place(_plan(platform="amd64", cpu="x86-64-v1"), "amd64")
    assert old_x86.placement.emulator == "qemu-x86_64"  # native amd64, but the probe runs under the x86 QEMU it brings
    assert reuse.Earlier(source="old.json", cells={}, bench="emulated").reuses_bench(old_x86) is True
    native = plan.place(_plan(platform="amd64", cpu=None), "amd64")
    assert reuse.Earlier(source="old.json", cells={}, bench="emulated").reuses_bench(native) is False


def test_reused_facts_leave_the_benchmark_to_be_measured() -> None:
    facts = {"probe_version": 1, "bench": {"ran": True, "runs": [{"threads": "single"}]}, "numpy": {}}
    again = reuse.without_bench(facts)
    assert again["bench"] == {"ran": False, "skipped_reason": protocol.BENCH_DEFERRED, "runs": []}
    assert again["numpy"] == {} and facts["bench"]["ran"] is True  # the earlier facts are not changed


# --- the package index's answer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returncode", "output", "specifier", "answer"),
    [
        (1, "ERROR: No matching distribution found for numpy\n", "==2.1.3", "none"),
        (1, "ERROR: Could not fetch URL https://pypi.org/simple/numpy/: connection error\n", "==2.1.3", "unknown"),
        (0, "numpy (2.2.6)\nAvailable versions: 2.2.6, 2.1.3, 2.1.2\n", "==2.1.3", "offered"),
        (0, "numpy (2.2.6)\nAvailable versions: 2.2.6, 2.1.2\n", "==2.1.3", "none"),
        (0, "numpy (2.2.6)\nAvailable versions: 2.2.6, 2.1.2\n", ">=2.2", "offered"),
        (0, "numpy (2.2.6)\nAvailable versions: 2.2.6, 2.1.2\n", "", "offered"),
        (0, "numpy (2.3.0rc1)\nAvailable versions: 2.3.0rc1\n", "==2.3.0rc1", "offered"),
        (0, "something pip never printed before\n", "==2.1.3", "unknown"),
        (0, "Available versions: not-a-version\n", "==2.1.3", "unknown"),
    ],
)
def test_the_index_answer(returncode: int, output: str, specifier: str, answer: str) -> None:
    assert wheel_check.answer(returncode, output, specifier) == answer


def test_the_index_is_asked_for_every_tag_the_cell_could_accept() -> None:
    argv = wheel_check.target_argv(_plan(platform="arm/v7"))
    platforms = [argv[i + 1] for i, a in enumerate(argv) if a == "--platform"]
    assert "linux_armv7l" in platforms and "manylinux2014_armv7l" in platforms
    assert {f"manylinux_2_{v}_armv7l" for v in range(17, 51)} <= set(platforms)  # a superset: never a stale miss
    assert argv[argv.index("--python-version") + 1] == "3.13"  # trixie's Python
    abis = [argv[i + 1] for i, a in enumerate(argv) if a == "--abi"]
    assert abis == ["cp313", "abi3", "none"] and "--only-binary=:all:" in argv


def test_the_index_check_uses_the_cells_own_index_and_the_hosts_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    mine = _plan(index_url="https://pypi.example.org/simple", extra_index_url=["https://more.example.org/simple"])
    argv = wheel_check.index_argv(mine, {"PIP_CERT": str(ca), "PIP_INDEX_URL": "https://host.example/simple"})
    assert argv == [
        "--cert",
        str(ca),
        "--index-url",
        "https://pypi.example.org/simple",
        "--extra-index-url",
        "https://more.example.org/simple",
    ]
    hosts = wheel_check.index_argv(_plan(), {"PIP_CERT": str(ca), "PIP_INDEX_URL": "file:///opt/x https://h/simple"})
    assert hosts == ["--cert", str(ca), "--index-url", "https://h/simple"]  # a file:// index means nothing there


# --- a run that reuses ----------------------------------------------------------------------------------------

BOOKWORM = plan.plan(matrix.load(REPO / "matrix" / "bookworm.toml").select(names=["colab-like", "pi32-pip"]))
COLAB, PI32_PIP = BOOKWORM


def _facts(*, deferred: bool) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((DATA / "probe-host-amd64-numpy-ok.json").read_text())
    if deferred:
        facts["bench"] = {"ran": False, "skipped_reason": protocol.BENCH_DEFERRED, "runs": []}
    return facts


def _respond(calls: list[str]) -> Any:
    bench = _facts(deferred=False)["bench"]

    def respond(image: str, command: Sequence[str]) -> CallResult:
        if "--bench-only" in command:
            calls.append("bench")
            stdout = json.dumps({"probe_version": 1, "bench": bench, "probe_duration_s": 1.0, "probe_errors": []})
            return CallResult(exit_code=0, stdout=stdout, stderr="", duration_s=1.0)
        calls.append("probe")
        return CallResult(exit_code=0, stdout=json.dumps(_facts(deferred=True)), stderr="", duration_s=1.0)

    return respond


@pytest.fixture
def engine(fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    base = BuildOutcome.reused("base", "sha256:base")
    monkeypatch.setattr(runner, "ensure_bases", lambda recipes, **k: {r.tag: base for r in recipes})
    failing = {"pi32-pip": "#7 3.1 ERROR: No matching distribution found for numpy==2.3.5\n"}
    builds = fake_builds(monkeypatch, fake_engine, failing=failing, image_id="sha256:colab")
    fake_engine.builds = builds  # type: ignore[attr-defined]
    return fake_engine


def _run(tmp_path: Path, earlier: reuse.Earlier | None, name: str) -> list[results.CellResult]:
    options = runner.RunOptions(out_dir=tmp_path / name, jobs=2, earlier=earlier)
    return runner.run(BOOKWORM, options, progress=lambda m: None)


def _index(monkeypatch: pytest.MonkeyPatch, answer: wheel_check.Answer) -> list[str]:
    asked: list[str] = []

    def numpy_wheel(p: plan.CellPlan, *, timeout: float = 60) -> tuple[wheel_check.Answer, str]:
        asked.append(p.cell.name)
        return answer, ""

    monkeypatch.setattr(wheel_check, "numpy_wheel", numpy_wheel)
    return asked


def test_a_second_run_reuses_the_probe_and_measures_the_benchmark_again(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    engine.respond = _respond(calls)
    first = _run(tmp_path, None, "first")
    assert calls == ["probe", "bench"] and first[0].reuse_key and first[1].reuse_key
    calls.clear()
    _index(monkeypatch, "none")
    earlier = reuse.Earlier.of(results.load(tmp_path / "first" / "results.json"))
    colab, pi32 = _run(tmp_path, earlier, "second")
    assert calls == ["bench"]  # no probe call: its facts came from the first run
    assert colab.status is Status.OK and colab.reused == ("probe",) and colab.reused_from == earlier.source
    assert colab.facts is not None and colab.facts["bench"]["ran"] is True
    assert pi32.status is Status.NO_WHEEL and pi32.reused == ("no-wheel",)
    assert sorted(engine.builds) == ["colab-like", "colab-like", "pi32-pip"]  # type: ignore[attr-defined]
    read = results.load(tmp_path / "second" / "results.json")
    assert [c.reused for c in read.cells] == [("probe",), ("no-wheel",)]
    assert read.cells[0].reused_label == "probe reused"
    assert read.cells[1].reused_label == "no wheel on the index: build skipped"


def test_reuse_bench_takes_the_numbers_too(engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    engine.respond = _respond(calls)
    first = _run(tmp_path, None, "first")
    calls.clear()
    _index(monkeypatch, "none")
    earlier = reuse.Earlier.of(results.load(tmp_path / "first" / "results.json"), bench="all")
    colab, _ = _run(tmp_path, earlier, "second")
    assert calls == [] and colab.reused == ("probe", "bench")
    assert colab.facts == first[0].facts
    assert colab.bench_overlap == first[0].bench_overlap is not None  # how the reused numbers were timed


def test_reused_numbers_keep_what_their_benchmark_shared_the_machine_with(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.respond = _respond([])
    _run(tmp_path, None, "first")
    _index(monkeypatch, "none")
    old = results.load(tmp_path / "first" / "results.json")
    contended = {c.name: dataclasses.replace(c, bench_overlap=("pi64 build",)) for c in old.cells}
    colab, _ = _run(tmp_path, reuse.Earlier(source=old.source, cells=contended, bench="all"), "second")
    assert colab.bench_overlap == ("pi64 build",)  # so the table still marks them
    again, _ = _run(tmp_path, reuse.Earlier(source=old.source, cells=contended), "third")
    assert again.bench_overlap == ()  # timed again, alone this time: the old overlap is not carried over


# colab-like runs natively here, pi64 under QEMU
NATIVE_AND_EMULATED = plan.plan(matrix.load(REPO / "matrix" / "bookworm.toml").select(names=["colab-like", "pi64"]))


def _run_two(tmp_path: Path, earlier: reuse.Earlier | None, name: str, said: list[str]) -> list[results.CellResult]:
    options = runner.RunOptions(out_dir=tmp_path / name, jobs=1, earlier=earlier)
    return runner.run(NATIVE_AND_EMULATED, options, progress=said.append)


def test_reuse_bench_emulated_times_only_the_native_cell(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator, "identity", lambda platform, **kw: "qemu-aarch64 flags=PF sha256:72")
    calls: list[str] = []
    engine.respond = _respond(calls)
    _run_two(tmp_path, None, "first", [])
    calls.clear()
    earlier = reuse.Earlier.of(results.load(tmp_path / "first" / "results.json"), bench="emulated")
    colab, pi64 = _run_two(tmp_path, earlier, "second", [])
    assert calls == ["bench"]  # colab-like's: the only benchmark timed again
    assert colab.reused == ("probe",) and pi64.reused == ("probe", "bench")
    assert pi64.reused_label == "probe and bench reused"


def test_an_emulated_probe_is_not_reused_under_another_or_an_unseen_emulator(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qemu = {"id": "qemu-aarch64 flags=PF sha256:72"}
    monkeypatch.setattr(emulator, "identity", lambda platform, **kw: qemu["id"])
    calls: list[str] = []
    engine.respond = _respond(calls)
    _run_two(tmp_path, None, "first", [])
    earlier = reuse.Earlier.of(results.load(tmp_path / "first" / "results.json"))
    qemu["id"] = "qemu-aarch64 flags=PF sha256:82"  # qemu-user-static upgraded overnight
    calls.clear()
    colab, pi64 = _run_two(tmp_path, earlier, "upgraded", [])
    assert colab.reused == ("probe",) and pi64.reused == ()
    assert sorted(calls) == ["bench", "bench", "probe"]  # colab-like's benchmark; pi64's whole probe
    # An engine whose emulator cannot be seen (another machine): the keys of two such runs match, yet an
    # upgrade there would look the same, so the probe is made again and the run says why.
    qemu["id"] = None  # type: ignore[assignment]
    _run_two(tmp_path, None, "unseen-first", [])
    earlier = reuse.Earlier.of(results.load(tmp_path / "unseen-first" / "results.json"))
    said: list[str] = []
    calls.clear()
    colab, pi64 = _run_two(tmp_path, earlier, "unseen-second", said)
    assert pi64.reused == () and sorted(calls) == ["bench", "bench", "probe"]
    assert any("probing again: the QEMU that runs arm64 on docker local cannot be identified" in s for s in said)


@pytest.mark.parametrize("answer", ["offered", "unknown"])
def test_a_no_wheel_cell_is_built_when_the_index_offers_a_wheel_or_cannot_say(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: wheel_check.Answer
) -> None:
    engine.respond = _respond([])
    _run(tmp_path, None, "first")
    asked = _index(monkeypatch, answer)
    earlier = reuse.Earlier.of(results.load(tmp_path / "first" / "results.json"))
    _, pi32 = _run(tmp_path, earlier, "second")
    assert asked == ["pi32-pip"]
    assert engine.builds.count("pi32-pip") == 2  # type: ignore[attr-defined]
    assert pi32.reused == () and pi32.status is Status.NO_WHEEL


def test_a_changed_probe_key_probes_again(engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    engine.respond = _respond(calls)
    _run(tmp_path, None, "first")
    calls.clear()
    _index(monkeypatch, "none")
    old = results.load(tmp_path / "first" / "results.json")
    changed = {c.name: dataclasses.replace(c, reuse_key="sha256:older") for c in old.cells}
    colab, pi32 = _run(tmp_path, reuse.Earlier(source=old.source, cells=changed), "second")
    assert calls == ["probe", "bench"] and colab.reused == () and pi32.reused == ()


def test_reuse_bench_alone_is_refused_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["run", "--reuse-bench", "--matrix", "default"])
    assert isinstance(result.exception, ConfigError), result.output
    assert result.exception.where == "--reuse-bench" and "give --reuse-results too" in str(result.exception)


@pytest.mark.parametrize("named", ["missing-dir", "empty-dir"])
def test_a_named_earlier_run_without_results_is_refused_before_anything_runs(tmp_path: Path, named: str) -> None:
    directory = tmp_path / named
    if named == "empty-dir":
        directory.mkdir()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", "--matrix", "default", "--out", str(out), "--reuse-results", str(directory)]
    )
    assert isinstance(result.exception, ConfigError), result.output
    assert result.exception.where == f"--reuse-results {directory}" and "has no results.json" in str(result.exception)
    assert not out.exists()  # refused before the run began: nothing written, no engine asked


def test_reuse_from_out_without_an_earlier_run_runs_every_cell(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.respond = _respond([])
    out = tmp_path / "first-run"
    result = CliRunner().invoke(
        cli, ["run", "--matrix", "default", "--cell", "colab", "--out", str(out), "--reuse-results"]
    )
    assert result.exit_code == 0, result.output
    assert "no " in result.output and "every cell runs" in result.output
    assert (out / "results.json").is_file()


def test_reuse_bench_emulated_on_the_command_line_still_times_a_native_cell(
    engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    engine.respond = _respond(calls)
    out = tmp_path / "out"
    argv = ["run", "--matrix", "default", "--cell", "colab", "--out", str(out)]
    assert CliRunner().invoke(cli, argv).exit_code == 0
    calls.clear()
    again = CliRunner().invoke(cli, [*argv, "--reuse-results", "--reuse-bench", "emulated"])
    assert again.exit_code == 0, again.output
    assert calls == ["bench"] and "probe reused" in again.output and "bench reused" not in again.output
    calls.clear()
    bare = CliRunner().invoke(cli, [*argv, "--reuse-results", "--reuse-bench"])  # no value: every cell's
    assert bare.exit_code == 0 and calls == [] and "probe and bench reused" in bare.output
    before = CliRunner().invoke(cli, [*argv, "--reuse-results", "--reuse-bench", "--jobs", "1"])  # then an option
    assert before.exit_code == 0 and calls == [] and "probe and bench reused" in before.output


def test_reuse_bench_names_its_choices_when_given_another() -> None:
    result = CliRunner().invoke(cli, ["run", "--reuse-results", "--reuse-bench", "native"])
    assert result.exit_code == 2
    assert "'native' is not one of 'all', 'emulated'" in result.output
