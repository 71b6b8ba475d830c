"""os = "raspios": Raspberry Pi OS's pip.conf in the image where piwheels answers, and an answer marked incomplete,
in every view, where it does not (issue 17)."""

from __future__ import annotations

import dataclasses
import http.server
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeEngine
from synthetic import cell_result, run

from npmatrix.cli import cli
from npmatrix.config import matrix
from npmatrix.errors import ConfigError
from npmatrix.host import reach
from npmatrix.judge import classify
from npmatrix.plan import cellplan, raspios
from npmatrix.present import diff, explain, labels, table
from npmatrix.present.reports.cells import key_facts
from npmatrix.present.reports.junit import render_junit
from npmatrix.present.reports.markdown import render_markdown
from npmatrix.records import results as results_io
from npmatrix.records.results import CellResult
from npmatrix.run import build, runner, wheel_check

REPO = Path(__file__).resolve().parents[2]
PIWHEELS = "https://www.piwheels.org/simple"
UNREACHED = {PIWHEELS: "DNS: Name or service not known"}
PIP_CONF_LINE = "RUN printf '%s\\n' '[global]' 'extra-index-url=https://www.piwheels.org/simple' > /etc/pip.conf"


def _cell(body: str, name: str = "c") -> matrix.Cell:
    if "numpy" not in body and 'install = "apt"' not in body:
        body += '\nnumpy = "==2.1.3"'
    return matrix.loads(f'[[cell]]\nname = "{name}"\nsuite = "trixie"\n{body}\n', source="m.toml").cells[0]


PI32 = 'platform = "arm/v7"\nos = "raspios"\nnumpy = "==2.1.3"'
PI32_APT = 'platform = "arm/v7"\nos = "raspios"\ninstall = "apt"'


def test_a_reached_piwheels_is_in_the_images_pip_conf_as_pi_os_has_it() -> None:
    plan = cellplan.plan_cell(_cell(PI32))
    assert PIP_CONF_LINE in plan.dockerfile.splitlines()
    assert plan.not_asked == ()


def test_an_unreached_piwheels_is_left_out_and_said() -> None:
    plan = cellplan.plan_cell(_cell(PI32), unreached=UNREACHED)
    assert "/etc/pip.conf" not in plan.dockerfile
    (gap,) = plan.not_asked
    assert (gap.source, gap.url) == ("piwheels", PIWHEELS)
    assert "piwheels, which 32-bit Raspberry Pi OS also asks, could not be reached from here" in gap.why
    assert "(DNS: Name or service not known)" in gap.why
    assert "on a real Pi, pip may find a wheel there; this answer is PyPI's alone" in gap.why


def test_reachability_changes_the_image_tag() -> None:
    # An image built without piwheels must not be reused once piwheels answers (its tag is its Dockerfile's hash).
    assert cellplan.plan_cell(_cell(PI32)).image_tag != cellplan.plan_cell(_cell(PI32), unreached=UNREACHED).image_tag


def test_a_64_bit_cell_says_piwheels_has_no_aarch64_wheels() -> None:
    (gap,) = cellplan.plan_cell(_cell('platform = "arm64"\nos = "raspios"'), unreached=UNREACHED).not_asked
    assert "64-bit Raspberry Pi OS also asks" in gap.why and "builds no aarch64 wheels" in gap.why


def test_a_debian_cell_asks_no_piwheels() -> None:
    cell = _cell('platform = "arm/v7"\nnumpy = "==2.1.3"')
    assert raspios.piwheels_url(cell) is None
    plan = cellplan.plan_cell(cell, unreached=UNREACHED)
    assert "/etc/pip.conf" not in plan.dockerfile and plan.not_asked == ()


def test_an_own_extra_index_replaces_piwheels_as_pips_command_line_does_on_a_pi() -> None:
    cell = _cell(PI32 + '\nextra_index_url = ["https://example.org/simple"]')
    assert raspios.piwheels_url(cell) is None
    assert cellplan.plan_cell(cell, unreached=UNREACHED).not_asked == ()


def test_piwheels_index_points_pip_conf_elsewhere() -> None:
    cell = _cell(PI32 + '\npiwheels_index = "http://127.0.0.1:8765/simple"')
    assert raspios.indexes_to_check([cell, cell]) == ("http://127.0.0.1:8765/simple",)
    assert "'extra-index-url=http://127.0.0.1:8765/simple' > /etc/pip.conf" in cellplan.plan_cell(cell).dockerfile


def test_an_apt_cell_says_raspbians_archive_was_not_asked() -> None:
    (gap,) = cellplan.plan_cell(_cell(PI32_APT)).not_asked
    assert gap.source == "Raspberry Pi OS's apt archive"
    assert gap.url == "http://raspbian.raspberrypi.com/raspbian"
    assert "Debian's armhf packages stood in" in gap.why
    (gap64,) = cellplan.plan_cell(_cell('platform = "arm64"\nos = "raspios"\ninstall = "apt"')).not_asked
    assert gap64.url == "http://archive.raspberrypi.com/debian"


@pytest.mark.parametrize(
    ("body", "where", "words"),
    [
        ('platform = "amd64"\nos = "raspios"', "(c).os", "Raspberry Pi OS runs on arm64, arm/v7 and arm/v6, not amd64"),
        ('platform = "arm/v7"\nos = "raspbian"', "(c).os", "unknown os 'raspbian'"),
        ('platform = "arm/v7"\npiwheels_index = "http://127.0.0.1:1/simple"', "(c).piwheels_index", 'os = "raspios"'),
        (PI32_APT + '\npiwheels_index = "http://127.0.0.1:1/simple"', "(c).piwheels_index", 'install = "pip"'),
        (PI32 + '\npiwheels_index = "https://u:p@host/simple"', "(c).piwheels_index", "without credentials"),
        (PI32 + '\npiwheels_index = "http://h/x\' > /etc/passwd"', "(c).piwheels_index", "not a plain http(s) URL"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(body: str, where: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _cell(body)
    assert where in str(caught.value.where) and words in str(caught.value)
    assert "\n" not in str(caught.value) and "u:p" not in str(caught.value)


def _incomplete_result(name: str = "pi32-pip") -> CellResult:
    plan = cellplan.plan_cell(_cell(PI32, name=name), unreached=UNREACHED)
    base = cell_result(name, emulated=True)
    return dataclasses.replace(base, cell=plan.cell, not_asked=plan.not_asked)


def test_results_json_keeps_what_was_not_asked_and_reads_it_back() -> None:
    night = run([_incomplete_result(), cell_result("colab")])
    document = night.to_json()
    record = document["cells"][0]["not_asked"]
    assert record[0]["source"] == "piwheels" and "could not be reached from here" in record[0]["why"]
    assert "not_asked" not in document["cells"][1]  # a complete cell's record is as before
    again = results_io.from_json(document, where="r.json")
    assert again.cells[0].not_asked == night.cells[0].not_asked and again.cells[0].incomplete
    assert not again.cells[1].incomplete


def test_the_reader_refuses_a_malformed_not_asked() -> None:
    document = run([_incomplete_result()]).to_json()
    document["cells"][0]["not_asked"] = [{"source": "piwheels", "url": PIWHEELS}]
    with pytest.raises(ConfigError, match="not_asked"):
        results_io.from_json(document, where="r.json")


def test_every_view_marks_the_answer_incomplete() -> None:
    gap, done = _incomplete_result(), cell_result("colab")
    assert labels.status(gap).endswith("(incomplete: piwheels not reached)")
    assert "incomplete" not in labels.status(done)
    assert table.summary_line([gap, done]).endswith("; incomplete (a real Pi asks more): pi32-pip")
    assert "pi32-pip: incomplete: piwheels, which 32-bit" in table.incomplete_lines([gap, done], wide=True)
    assert table.incomplete_lines([done]) == ""
    assert "could not be reached from here" in dict(key_facts(gap))["not asked here"]
    markdown = render_markdown(run([gap, done]))
    assert "#### Incomplete: what a real Pi asks, not asked here" in markdown and "**pi32-pip**" in markdown
    junit = render_junit(run([gap, done]))
    assert "incomplete: piwheels not reached" in junit and "not asked here: piwheels" in junit
    text = explain.render_text(explain.subject_from_result(gap), explain.subject_from_result(done))
    assert "pi32-pip: incomplete: piwheels, which 32-bit Raspberry Pi OS also asks" in text
    assert "colab: incomplete" not in text


@pytest.fixture
def local_index() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    server.shutdown()
    server.server_close()


def test_an_index_that_answers_is_reached_even_with_a_404(local_index: str) -> None:
    assert reach.unreached([local_index]) == {}


def test_a_closed_port_and_an_unknown_name_are_unreached_with_why() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/simple"
    found = reach.unreached([closed, "https://no-such-host.invalid/simple"], timeout=2)
    assert set(found) == {closed, "https://no-such-host.invalid/simple"}
    assert "refused" in found[closed].lower()
    assert found["https://no-such-host.invalid/simple"].startswith("DNS: ")


@pytest.mark.parametrize(
    ("body", "unreached", "reason_starts", "fix_has"),
    [
        ('platform = "arm/v7"\nnumpy = "==2.1.3"', {}, "PyPI has no NumPy==2.1.3 wheel", 'say os = "raspios"'),
        (PI32, UNREACHED, "PyPI has no NumPy==2.1.3 wheel", "ask piwheels from the Pi itself, where it answers"),
        (PI32, {}, f"neither PyPI nor piwheels ({PIWHEELS}) has a NumPy==2.1.3 wheel", "piwheels builds wheels"),
    ],
)
def test_no_wheel_on_32_bit_arm_says_what_was_asked(
    body: str, unreached: dict[str, str], reason_starts: str, fix_has: str
) -> None:
    plan = cellplan.plan_cell(_cell(body), unreached=unreached)
    reason, fix = classify._no_arm32_wheel(plan, "==2.1.3", "PyPI has no NumPy==2.1.3 wheel for linux_armv7l")
    assert reason.startswith(reason_starts) and fix_has in fix
    assert fix.startswith("use Debian's python3-numpy")
    if "ask piwheels from the Pi" in fix:
        assert 'pip download "numpy==2.1.3" --only-binary=:all: --no-deps' in fix


# --- what a hostile review found (the host's own extra index, the no-wheel re-check, odd servers) -------------


def test_a_hosts_own_extra_index_does_not_replace_piwheels(tmp_path: Path) -> None:
    conf = tmp_path / "pipconf"
    conf.write_text("[global]\ncert = /run/secrets/pipcert\nextra-index-url = https://mirror.example/simple\n")
    secrets = {"pipconf": conf, "pipcert": tmp_path / "pipcert"}
    mine = build.cell_secrets(secrets, PIWHEELS)
    # pip reads the secret after /etc/pip.conf: its extra-index-url must name piwheels too, or piwheels is gone.
    assert f"extra-index-url = https://mirror.example/simple {PIWHEELS}\n" in mine["pipconf"].read_text()
    assert mine["pipcert"] == secrets["pipcert"] and conf.read_text().count("piwheels") == 0  # the run's own kept
    assert build.cell_secrets(secrets, None) is secrets
    conf.write_text("[global]\ncert = /run/secrets/pipcert\n")
    assert build.cell_secrets(secrets, PIWHEELS) is secrets  # nothing of the host's to replace it


def test_the_plan_names_the_piwheels_pip_asks_and_the_no_wheel_check_asks_it_too() -> None:
    reached, unreached = cellplan.plan_cell(_cell(PI32)), cellplan.plan_cell(_cell(PI32), unreached=UNREACHED)
    assert (reached.piwheels, unreached.piwheels) == (PIWHEELS, None)
    argv = wheel_check.index_argv(reached, environ={})
    assert argv[argv.index("--extra-index-url") + 1] == PIWHEELS
    assert "--extra-index-url" not in wheel_check.index_argv(unreached, environ={})


class _Raw(socketserver.BaseRequestHandler):
    reply: bytes = b""
    pause: float = 0.0

    def handle(self) -> None:
        self.request.recv(4096)
        for line in self.reply.splitlines(keepends=True):
            self.request.sendall(line)
            time.sleep(self.pause)


def _serve(reply: bytes, pause: float = 0.0) -> tuple[socketserver.ThreadingTCPServer, str]:
    handler = type("Handler", (_Raw,), {"reply": reply, "pause": pause})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/simple"


@pytest.mark.parametrize(
    ("reply", "pause", "why"),
    [
        (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", 0.0, "HTTP 503"),
        (b"GARBAGE\x1b[31m\r\n\r\n", 0.0, "BadStatusLine"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Slow: 1\r\n" * 20 + b"\r\n", 0.4, "no answer within 2 s"),
        (b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/x\r\nContent-Length: 0\r\n\r\n", 0.0, None),
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0.0, None),
    ],
    ids=["5xx", "garbage", "slow", "redirect", "404"],
)
def test_odd_servers_are_answers_or_not_with_a_printable_why(reply: bytes, pause: float, why: str | None) -> None:
    server, url = _serve(reply, pause)
    try:
        found = reach.unreached([url], timeout=1)
    finally:
        server.shutdown()
        server.server_close()
    if why is None:
        assert found == {}  # the server is there: a redirect or a 404 is an answer
    else:
        assert why in found[url] and "\x1b" not in found[url]


def test_an_index_url_too_long_for_the_results_is_refused() -> None:
    with pytest.raises(ConfigError, match="an index URL has at most 1000") as caught:
        _cell(PI32 + f'\npiwheels_index = "http://127.0.0.1:1/{"a" * 1001}"')
    assert "\n" not in str(caught.value)


def test_a_symlink_loop_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    (tmp_path / "m.toml").write_text(
        '[[cell]]\nname = "t"\nplatform = "arm/v6"\nboard = "pi0"\ninstall = "apt"\nrootfs = "loop1"\n'
    )
    with pytest.raises(ConfigError, match="cannot resolve loop1") as caught:
        matrix.load(tmp_path / "m.toml")
    assert str(caught.value.where).endswith("(t).rootfs")


def test_a_choice_of_the_wrong_type_says_so() -> None:
    with pytest.raises(ConfigError, match="expected a string, got int"):
        _cell('platform = "arm/v7"\nos = 1')


def test_clean_keeps_a_raspios_cells_images_of_both_answers(fake_engine: FakeEngine) -> None:
    default = matrix.load(REPO / "matrix" / "default.toml")
    pip_cell = next(c for c in default.cells if c.name == "pi32-pip")
    with_piwheels = cellplan.plan_cell(pip_cell).image_tag
    without = cellplan.plan_cell(pip_cell, unreached=UNREACHED).image_tag
    stale = "npmatrix-cell:pi32-pip-000000000000"
    fake_engine.images.update({with_piwheels: "sha256:1", without: "sha256:2", stale: "sha256:3"})
    done = CliRunner().invoke(cli, ["clean", "--matrix", str(REPO / "matrix" / "default.toml")])
    assert done.exit_code == 0, done.output
    # Whether piwheels answers may change between a run and its clean: neither of its images is stale for it.
    assert fake_engine.removed_images == [stale]


def test_resume_refuses_a_cell_run_when_piwheels_answered_otherwise() -> None:
    plan = cellplan.plan_cell(_cell(PI32, name="pi32-pip"), unreached=UNREACHED)
    earlier = dataclasses.replace(_incomplete_result(), not_asked=())  # run when piwheels answered
    night = dataclasses.replace(run([earlier]), matrix="m.toml")
    with pytest.raises(ConfigError) as caught:
        runner.resumable(night, [plan], matrix_source="m.toml")
    assert "cell 'pi32-pip' was run when nothing was left unasked, and now piwheels" in str(caught.value)
    assert "start afresh with another --out" in str(caught.value)
    same = dataclasses.replace(run([_incomplete_result()]), matrix="m.toml")
    assert runner.resumable(same, [plan], matrix_source="m.toml") == same.cells


def test_diff_says_a_cell_became_incomplete_and_complete_again() -> None:
    complete = dataclasses.replace(_incomplete_result(), not_asked=())
    before, after = run([complete]), run([_incomplete_result()], started_at="2026-11-26T03:00:00+00:00")
    found = diff.diff(before, after)
    assert found.asked == ("pi32-pip: now incomplete: piwheels not reached",)
    assert found.exit_code() == 0  # no regression: the same verdict, on less
    assert "  pi32-pip: now incomplete: piwheels not reached" in diff.render_text(found)
    assert "- pi32-pip: now incomplete: piwheels not reached" in diff.render_markdown(found)
    assert diff.to_json(found)["asked"] == ["pi32-pip: now incomplete: piwheels not reached"]
    assert diff.diff(after, before).asked == ("pi32-pip: no longer incomplete",)
    assert diff.diff(after, after).asked == ()
