"""Engine selection (npmatrix.config.engine_choice), the build command line per engine, native vs emulated
placement, and a run whose arm64 cells go to a second engine: all with fakes, no engine."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fakes import FakeEngine
from hypothesis import given
from hypothesis import strategies as st

from npmatrix.cli import cli
from npmatrix.config import engine_choice as engines
from npmatrix.config import matrix
from npmatrix.config.engine_choice import PODMAN_SOCKET, EngineChoice, EngineTarget
from npmatrix.errors import ConfigError, EngineUnavailable, ExitCode
from npmatrix.host import engine, process
from npmatrix.host.engine import Builder, CallResult, Lockdown
from npmatrix.host.process import Completed
from npmatrix.judge import classify
from npmatrix.judge.outcomes import BuildOutcome, ProbeRun
from npmatrix.plan import cellplan as plan
from npmatrix.present import labels
from npmatrix.records import results
from npmatrix.run import build, runner
from npmatrix.verdict import Status

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
REMOTE = "unix:///run/npm-remote.sock"
DETECT_BUILDER = engine.detect_builder  # the real one: the unit-tier guard replaces it during each test


# --- PLATFORM=ENGINE ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("arm64=ssh://pi@raspberrypi", ("arm64", "ssh://pi@raspberrypi")),
        ("arm64=ssh://pi@10.0.0.7:2222", ("arm64", "ssh://pi@10.0.0.7:2222")),
        ("arm/v7=tcp://192.168.1.5:2375", ("arm/v7", "tcp://192.168.1.5:2375")),
        ("amd64=unix:///run/npm-remote.sock", ("amd64", "unix:///run/npm-remote.sock")),
        ("arm64=my-pi.local", ("arm64", "my-pi.local")),
        ("arm64=default", ("arm64", "default")),
    ],
)
def test_engine_for_accepts_urls_and_context_names(value: str, expected: tuple[str, str]) -> None:
    assert engines.parse_engine_for(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("arm64", "is not PLATFORM=ENGINE"),
        ("=ssh://pi@host", "is not PLATFORM=ENGINE"),
        ("arm64=", "is not PLATFORM=ENGINE"),
        ("arm46=ssh://pi@host", "unknown platform 'arm46'; did you mean 'arm64'?"),
        ("arm64=http://pi:2375", "has scheme 'http'; use unix://, tcp:// or ssh://"),
        ("arm64=ssh://", "is malformed"),
        ("arm64=-context", "is not a valid name"),
        ("arm64=my context", "is not a valid name"),
    ],
)
def test_malformed_engine_for_is_one_line_naming_the_option(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        engines.parse_engine_for(value)
    assert message in str(raised.value)
    assert str(raised.value).startswith("--engine-for: ")
    assert "\n" not in str(raised.value)


# Each character that would change a command line, a URL or a shell's reading of one, on its own.
@pytest.mark.parametrize("ch", [*"\"'`\\$;&|<> \t\n\r\x00\x7f", "\u202e"])
def test_each_dangerous_character_in_an_engine_url_is_refused(ch: str) -> None:
    with pytest.raises(ConfigError, match="malformed"):
        engines.check_target(f"ssh://pi@host{ch}x", where="--engine-for")


@given(st.text(max_size=40))
def test_a_target_is_either_refused_or_a_url_or_name_without_blanks(text: str) -> None:
    try:
        checked = engines.check_target(text, where="w")
    except ConfigError as exc:
        assert str(exc).startswith("w: ") and "\n" not in str(exc)
        return
    assert checked == text and text.isprintable() and not any(c.isspace() for c in text)
    assert text.split("://")[0] in engines.URL_SCHEMES if "://" in text else engines.NAME_PATTERN.fullmatch(text)


def test_a_platform_sent_to_two_engines_is_refused() -> None:
    with pytest.raises(ConfigError, match="arm64 is sent to both 'a' and 'b'"):
        engines.parse_engine_for_options(["arm64=a", "arm64=b"])
    assert engines.parse_engine_for_options(["arm64=a", "arm64=a"]) == {"arm64": "a"}


# --- DOCKER_HOST and docker contexts, as the docker CLI decides ----------------------------------------------


def _context(config: Path, name: str, host: str) -> None:
    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}}))


def test_docker_host_wins_over_docker_context_and_the_current_context(tmp_path: Path) -> None:
    _context(tmp_path, "pi", "ssh://pi@raspberrypi")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "pi"}))
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert engines.docker_default({**env, "DOCKER_HOST": REMOTE}) == EngineTarget(host=REMOTE)
    assert engines.docker_default({**env, "DOCKER_CONTEXT": "pi"}) == EngineTarget(
        host="ssh://pi@raspberrypi", context="pi"
    )
    assert engines.docker_default(env).context == "pi"  # config.json's currentContext
    assert engines.docker_default({"DOCKER_CONFIG": str(tmp_path / "none")}) == EngineTarget()


def test_a_context_name_resolves_through_the_docker_cli_store(tmp_path: Path) -> None:
    _context(tmp_path, "arm-box", "tcp://10.0.0.9:2375")
    choice = engines.choose(engine_for={"arm64": "arm-box"}, environ={"DOCKER_CONFIG": str(tmp_path)})
    assert choice.for_platform("arm64") == EngineTarget(host="tcp://10.0.0.9:2375", context="arm-box")
    assert choice.for_platform("amd64") == EngineTarget()


def test_an_unknown_context_says_how_to_make_one_and_which_exist(tmp_path: Path) -> None:
    _context(tmp_path, "arm-box", "tcp://10.0.0.9:2375")
    with pytest.raises(ConfigError) as raised:
        engines.choose(engine_for={"arm64": "arm-bux"}, environ={"DOCKER_CONFIG": str(tmp_path)})
    message = str(raised.value)
    assert "no docker context 'arm-bux'; did you mean 'arm-box'? (contexts: arm-box)" in message
    assert "docker context create arm-bux --docker host=ssh://USER@HOST" in message


def test_podman_uses_its_socket_or_container_host_and_has_no_buildx_builder() -> None:
    assert engines.choose("podman", environ={}).default == EngineTarget(kind="podman", host=PODMAN_SOCKET)
    custom = engines.choose("podman", environ={"CONTAINER_HOST": "unix:///run/user/1000/podman/podman.sock"})
    assert custom.default.host == "unix:///run/user/1000/podman/podman.sock"
    with pytest.raises(ConfigError, match="podman builds with `podman build`"):
        engines.choose("podman", builder="remote", environ={})


def test_a_matrix_file_sends_platforms_and_the_command_line_wins(tmp_path: Path) -> None:
    text = '[engine_for]\narm64 = "ssh://pi@raspberrypi"\n\n[[cell]]\nname = "a"\nplatform = "arm64"\nnumpy = "2.3.5"\n'
    loaded = matrix.loads(text, source="m.toml")
    assert loaded.select(arches=["arm64"]).engine_for == {"arm64": "ssh://pi@raspberrypi"}
    from npmatrix.app.inputs import EngineOptions

    assert EngineOptions(kind="docker").choose(loaded).for_platform("arm64").host == "ssh://pi@raspberrypi"
    assert EngineOptions(engine_for={"arm64": REMOTE}).choose(loaded).for_platform("arm64").host == REMOTE
    with pytest.raises(ConfigError, match=r"m.toml: engine_for.arm65: unknown platform 'arm65'; did you mean"):
        matrix.loads(
            '[engine_for]\narm65 = "x"\n[[cell]]\nname = "a"\nplatform = "arm64"\nnumpy = "2"\n', source="m.toml"
        )
    with pytest.raises(ConfigError, match=r"m.toml: engine_for.arm64: expected a string"):
        matrix.loads(
            '[engine_for]\narm64 = 3\n[[cell]]\nname = "a"\nplatform = "arm64"\nnumpy = "2"\n', source="m.toml"
        )


# --- builders: the command line per engine ---------------------------------------------------------------


def _argv(builder: Builder) -> list[str]:
    secrets = {"pipcert": Path("/s/pipcert"), "pipconf": Path("/s/pipconf")}
    return builder.build_argv(context=Path("/ctx"), tag="t:1", oci_platform="linux/arm64", secrets=secrets)


def test_podman_builds_with_podman_build_and_the_same_secrets() -> None:
    argv = _argv(Builder(kind="podman", cli="/usr/bin/podman"))
    assert argv == [
        "/usr/bin/podman",
        "build",
        "--platform",
        "linux/arm64",
        "--network",
        "host",
        "--tag",
        "t:1",
        "--secret",
        "id=pipcert,src=/s/pipcert",
        "--secret",
        "id=pipconf,src=/s/pipconf",
        "/ctx",
    ]
    assert Builder(kind="podman", cli="/usr/bin/podman").env == {}
    remote = _argv(Builder(kind="podman", cli="podman", host="ssh://core@fedora/run/podman/podman.sock"))
    assert remote[:4] == ["podman", "--url", "ssh://core@fedora/run/podman/podman.sock", "build"]


def test_a_named_buildx_builder_builds_there_and_loads_into_the_engine() -> None:
    builder = Builder(kind="buildx", cli="/usr/bin/docker", builder="arm-nodes")
    assert _argv(builder)[:6] == ["/usr/bin/docker", "buildx", "build", "--builder", "arm-nodes", "--load"]
    assert builder.describe() == "docker buildx build --builder arm-nodes --load (/usr/bin/docker)"


def test_a_docker_build_for_another_engine_targets_it_through_docker_host() -> None:
    builder = Builder(kind="buildkit", cli="/usr/bin/docker", host=REMOTE)
    assert builder.env == {"DOCKER_BUILDKIT": "1", "DOCKER_HOST": REMOTE}
    assert Builder(kind="buildkit", cli="/usr/bin/docker").env == {"DOCKER_BUILDKIT": "1"}


def _fake_clis(monkeypatch: pytest.MonkeyPatch, *, buildx: bool) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(argv: list[str], **kwargs: Any) -> Completed:
        calls.append(list(argv))
        ok = (argv[1] == "buildx" and buildx) or argv[1] == "build"
        return Completed(argv=tuple(argv), exit_code=0 if ok else 1, output="--secret" if ok else "", duration_s=0.0)

    monkeypatch.setattr(engine, "_docker_clis", lambda: ["/usr/bin/docker"])
    monkeypatch.setattr(process, "run", run)
    monkeypatch.setattr(engine.process, "run", run)
    return calls


def test_builder_without_the_buildx_plugin_is_an_engine_error_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_clis(monkeypatch, buildx=False)
    with pytest.raises(EngineUnavailable) as raised:
        DETECT_BUILDER(EngineTarget(), builder="arm-nodes")
    assert "--builder arm-nodes needs the docker buildx plugin" in str(raised.value)
    assert "install docker-buildx" in str(raised.value)
    assert DETECT_BUILDER(EngineTarget(host=REMOTE)) == Builder(kind="buildkit", cli="/usr/bin/docker", host=REMOTE)


def test_builder_with_the_buildx_plugin_is_used_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_clis(monkeypatch, buildx=True)
    assert DETECT_BUILDER(EngineTarget(), builder="arm-nodes") == Builder(
        kind="buildx", cli="/usr/bin/docker", builder="arm-nodes"
    )


def test_podman_builder_needs_podman(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    with pytest.raises(EngineUnavailable, match="podman is not installed: run scripts/podman-up"):
        DETECT_BUILDER(EngineTarget(kind="podman", host=PODMAN_SOCKET))
    monkeypatch.setattr(engine.shutil, "which", lambda name: "/usr/bin/podman")
    local = DETECT_BUILDER(EngineTarget(kind="podman", host=PODMAN_SOCKET))
    assert local == Builder(kind="podman", cli="/usr/bin/podman")  # the local service: no --url


def test_podman_containers_get_explicit_open_file_and_process_limits() -> None:
    config = Lockdown(ulimits=engine.podman_ulimits()).host_config()
    limits = {u["Name"]: (u["Soft"], u["Hard"]) for u in config["ulimits"]}  # type: ignore[attr-defined]
    assert set(limits) == {"nofile", "nproc"}
    assert limits["nofile"][0] == limits["nofile"][1] <= 20000
    assert Lockdown().host_config()["ulimits"] == []  # docker keeps its defaults


def test_podman_step_lines_are_progress(tmp_path: Path) -> None:
    seen: list[str] = []
    on_line = build._build_steps(seen.append)
    assert on_line is not None
    for line in ["STEP 1/6: FROM npmatrix-base:x", "STEP 1/6: FROM npmatrix-base:x", "--> 1f2f7da85f9"]:
        on_line(line)
    assert seen == ["step 1/6: FROM npmatrix-base:x"]


# --- native or emulated, per engine --------------------------------------------------------------------------

DEFAULT = plan.plan(matrix.load(REPO / "matrix" / "default.toml"))
PI5 = next(p for p in DEFAULT if p.cell.name == "pi5-64")
COLAB = next(p for p in DEFAULT if p.cell.name == "colab")


def test_an_arm64_cell_on_an_arm64_engine_is_native_and_its_cpu_model_not_applied() -> None:
    assert (
        PI5.placement.emulator == "binfmt" and PI5.placement.qemu_cpu == "cortex-a76"
    )  # on this x86 host: QEMU as a Pi 5
    native = plan.place(PI5, "arm64")
    assert not native.placement.under_qemu and native.placement.qemu_cpu is None and native.placement.cpu_not_applied
    assert native.environment == {} and native.bench_sizes == plan.NATIVE_SIZES
    assert labels.emulated_cpu(native.placement) is None
    assert plan.place(PI5, "amd64") == PI5  # an x86 engine emulates it, as a Pi 5
    assert plan.place(PI5, None).placement.under_qemu  # an engine of no known platform: not native


def test_an_amd64_cpu_model_still_applies_natively_through_the_x86_emulator() -> None:
    x86 = plan.plan(matrix.load(REPO / "matrix" / "gallery.toml"))
    model = next(p for p in x86 if p.platform.name == "amd64" and p.placement.qemu_cpu)
    placed = plan.place(model, "amd64")
    assert placed.placement.emulator == "qemu-x86_64" and placed.placement.qemu_cpu == model.placement.qemu_cpu
    assert not placed.placement.cpu_not_applied


def test_a_failing_native_cell_with_a_cpu_model_says_the_model_was_not_applied() -> None:
    native = plan.place(PI5, "arm64")
    failed = BuildOutcome.reused(native.image_tag, "sha256:1")
    ran = ProbeRun(exit_code=132, facts=None, stdout="", stderr="Illegal instruction", duration_s=1.0)
    verdict = classify.classify(native, failed, ran)
    assert "cpu = 'pi5' not applied (no QEMU on a native engine)" in verdict.reason
    assert "Raspberry Pi 5" not in verdict.reason


# --- a run with arm64 sent to a second engine --------------------------------------------------------------


BUILT: list[tuple[str, str | None]] = []  # (cell, the engine its build CLI targeted), per test


@pytest.fixture
def two_engines(fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeEngine]:
    remote = fake_engine.connect(EngineTarget(host=REMOTE))
    remote.arch = "arm64"  # a native ARM machine
    monkeypatch.setattr(runner, "ensure_bases", lambda *a, **k: {})
    BUILT.clear()

    def fake_build(p: plan.CellPlan, *, engine: Any, builder: Builder, **kwargs: Any) -> BuildOutcome:
        BUILT.append((p.cell.name, builder.host))
        engine.images[p.image_tag] = "sha256:cell"
        return BuildOutcome.reused(p.image_tag, "sha256:cell")

    monkeypatch.setattr(build, "build_cell", fake_build)
    facts = (DATA / "probe-host-amd64-numpy-ok.json").read_text()
    for fake in (fake_engine, remote):
        fake.respond = lambda image, command: CallResult(exit_code=0, stdout=facts, stderr="", duration_s=1.0)
    return {"local": fake_engine, "remote": remote}


def test_arm64_cells_build_and_run_on_their_engine_and_results_say_where(
    two_engines: dict[str, FakeEngine], tmp_path: Path
) -> None:
    plans = [COLAB, PI5]
    choice = EngineChoice(per_platform={"arm64": EngineTarget(host=REMOTE)})
    ran = runner.run(plans, runner.RunOptions(out_dir=tmp_path, engines=choice), progress=lambda m: None)
    local, remote = two_engines["local"], two_engines["remote"]
    assert [b.image for b in local.created] == [COLAB.image_tag]
    assert [b.image for b in remote.created] == [plan.place(PI5, "arm64").image_tag]
    assert BUILT == [("colab", None), ("pi5-64", REMOTE)]
    assert local.containers == {} and remote.containers == {}  # removed on both engines
    read = results.load(tmp_path / "results.json")
    colab, pi5 = read.cells
    assert colab.engine == results.EngineRecord(kind="docker", host=None, context=None, architecture="amd64")
    assert pi5.engine == results.EngineRecord(kind="docker", host=REMOTE, context=None, architecture="arm64")
    assert (pi5.placement.under_qemu, pi5.placement.qemu_cpu) == (False, None)
    assert labels.placement(pi5) == f"arm64 (native, cpu pi5 not applied) on docker {REMOTE}"
    assert labels.placement(colab) == "amd64 (native)"
    assert len(read.host["engines"]) == 2
    assert [r.status for r in ran] == [Status.OK, Status.OK]


def test_the_same_cell_emulated_on_an_x86_engine_says_qemu_and_its_model(
    two_engines: dict[str, FakeEngine], tmp_path: Path
) -> None:
    two_engines["remote"].arch = "amd64"  # a second x86 daemon: the arm64 cell is emulated there
    choice = EngineChoice(per_platform={"arm64": EngineTarget(host=REMOTE)})
    runner.run([PI5], runner.RunOptions(out_dir=tmp_path, engines=choice), progress=lambda m: None)
    (pi5,) = results.load(tmp_path / "results.json").cells
    assert (pi5.placement.under_qemu, pi5.placement.qemu_cpu) == (True, "cortex-a76")
    assert labels.placement(pi5) == f"arm64 (qemu cortex-a76) on docker {REMOTE}"
    assert two_engines["remote"].created[0].environment["QEMU_CPU"] == "cortex-a76"


def test_old_results_without_engines_still_read_and_label_as_before() -> None:
    document = json.loads((DATA / "results-default.json").read_text())
    assert all("engine" not in c for c in document["cells"])  # written before engines were recorded
    read = results.from_json(document, where="old")
    assert all(c.engine is None for c in read.cells)
    placements = [labels.placement(c) for c in read.cells]
    assert placements == [
        "amd64 (native)",
        "arm64 (qemu cortex-a72)",
        "arm/v7 (qemu cortex-a15)",
        "arm/v7 (qemu cortex-a15)",
    ], placements


def test_clean_goes_through_every_engine(two_engines: dict[str, FakeEngine]) -> None:
    two_engines["remote"].containers["npmatrix-left"] = {"org.npmatrix": "1", "org.npmatrix.host.owner": "host:1:0"}
    two_engines["local"].containers["npmatrix-here"] = {"org.npmatrix": "1", "org.npmatrix.host.owner": "host:1:0"}
    result = CliRunner().invoke(
        cli, ["clean", "--matrix", "default", "--engine-for", f"arm64={REMOTE}", "--all"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert two_engines["remote"].containers == {} and two_engines["local"].containers == {}
    assert f"cleaning docker ({REMOTE})" in result.output


# --- the command line: one-line errors, exit codes ------------------------------------------------------------


def _npmatrix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "npmatrix", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "lxc"], "Invalid value for '--engine'"),
        (["--engine-for", "arm64"], "--engine-for: 'arm64' is not PLATFORM=ENGINE"),
        (["--engine-for", "arm64=http://x"], "has scheme 'http'"),
        (["--builder", "bad name"], "--builder: buildx builder 'bad name' is not a valid name"),
    ],
)
def test_bad_engine_options_exit_2_with_one_line(args: list[str], message: str) -> None:
    proc = _npmatrix("run", "--cell", "colab", *args, "--out", "/nonexistent-out")
    assert proc.returncode == ExitCode.BAD_INPUT, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_engine_that_does_not_answer_exits_3_naming_it() -> None:
    proc = _npmatrix("doctor", "--arch", "arm64", "--engine-for", "arm64=unix:///nonexistent/npm.sock")
    assert proc.returncode == ExitCode.ENGINE_UNAVAILABLE, proc.stderr + proc.stdout
    assert "no container engine answers at docker (unix:///nonexistent/npm.sock)" in proc.stdout
    run = _npmatrix("run", "--arch", "arm64", "--engine-for", "arm64=unix:///nonexistent/npm.sock", "--out", "/tmp/x")
    assert run.returncode == ExitCode.ENGINE_UNAVAILABLE
    assert run.stderr.strip().splitlines()[-1].startswith("npmatrix: error:")
    assert "unix:///nonexistent/npm.sock" in run.stderr and "Traceback" not in run.stderr


def test_doctor_says_per_platform_native_or_qemu_and_which_cpu_models_are_not_applied(
    two_engines: dict[str, FakeEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    from npmatrix.app import doctor

    monkeypatch.setattr(doctor, "BINFMT", Path("/nonexistent-binfmt"))
    for fake in two_engines.values():
        fake.images.update({p.base_image: "sha256:1" for p in (COLAB, PI5)})
    choice = EngineChoice(per_platform={"arm64": EngineTarget(host="ssh://pi@raspberrypi")})
    two_engines["local"].connect(EngineTarget(host="ssh://pi@raspberrypi")).arch = "arm64"
    two_engines["local"].connect(EngineTarget(host="ssh://pi@raspberrypi")).images[PI5.base_image] = "sha256:1"
    checks = {c.name: c for c in doctor.run_checks([COLAB, PI5], choice)}
    assert checks["amd64"].detail == "native on docker (default socket)"
    assert checks["arm64"].detail == "native on docker (ssh://pi@raspberrypi)"
    assert "cpu = 'pi5' not applied: arm64 runs natively" in checks["cpu pi5-64"].detail
    assert "engine [docker (ssh://pi@raspberrypi)]" in checks and "engine [docker (default socket)]" in checks


def test_doctor_cannot_read_a_remote_x86_engines_binfmt_and_says_so(two_engines: dict[str, FakeEngine]) -> None:
    from npmatrix.app import doctor

    choice = EngineChoice(per_platform={"arm64": EngineTarget(host="tcp://x86box:2375")})
    checks = {c.name: c for c in doctor.run_checks([PI5], choice)}
    assert checks["arm64"].ok
    assert checks["arm64"].detail == (
        "emulated (QEMU) on docker (tcp://x86box:2375), whose machine is amd64: its binfmt handlers are not "
        "readable from here, so --reuse-results probes its cells again"
    )
