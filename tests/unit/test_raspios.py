"""os = "raspios": Raspberry Pi OS's pip.conf in the image where piwheels answers, and an answer marked incomplete,
in every view, where it does not (issue 17)."""

from __future__ import annotations

import dataclasses
import http.server
import socket
import threading
from collections.abc import Iterator

import pytest
from synthetic import cell_result, run

from npmatrix.config import matrix
from npmatrix.errors import ConfigError
from npmatrix.host import reach
from npmatrix.judge import classify
from npmatrix.plan import cellplan, raspios
from npmatrix.present import explain, labels, table
from npmatrix.present.reports.cells import key_facts
from npmatrix.present.reports.junit import render_junit
from npmatrix.present.reports.markdown import render_markdown
from npmatrix.records import results as results_io
from npmatrix.records.results import CellResult

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
