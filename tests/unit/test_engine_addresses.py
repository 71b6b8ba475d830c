"""Issue 20: an engine address (DOCKER_HOST, --engine-for, [engine_for], a docker context) is checked by one
parser, config/engine_choice.check_target: what it accepts the Docker SDK can parse, what it refuses is one
line naming where the address came from, exit 2, in every command that connects."""

from __future__ import annotations

import docker
import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

from npmatrix.cli import cli
from npmatrix.config import engine_choice
from npmatrix.errors import ConfigError

BAD = [
    ("tcp://127.0.0.1:abc", "is malformed"),
    ("tcp://127.0.0.1:70000", "is malformed"),
    ("tcp://[::1", "is malformed"),
    ("tcp://127.0.0.1", "needs a port of 1-65535"),
    ("tcp://127.0.0.1:0", "needs a port of 1-65535"),
    ("tcp://:2375", "names no host"),
    ("ssh://pi@raspberrypi/var/run", "no path"),
    ("tcp://u:secret@host:2375", "no query, fragment or password"),
    ("tcp://host:2375?x=1", "no query, fragment or password"),
]


@pytest.mark.parametrize(("address", "fragment"), BAD)
def test_a_bad_address_is_one_line_naming_where(address: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as refused:
        engine_choice.check_target(address, where="DOCKER_HOST")
    message = str(refused.value)
    assert message.startswith("DOCKER_HOST: engine URL") and fragment in message and "\n" not in message


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:2375", "tcp://[::1]:2376", "ssh://pi@raspberrypi", "ssh://pi@host:2222"]
)
def test_good_addresses_pass(address: str) -> None:
    assert engine_choice.check_target(address, where="DOCKER_HOST") == address
    assert engine_choice.check_target("unix:///var/run/docker.sock", where="x") == "unix:///var/run/docker.sock"


_HOSTS = st.sampled_from(["127.0.0.1", "[::1]", "[::1", "::1]", "pi@host", "", "host", "a:b@host", "h%41"])
_PORTS = st.one_of(st.just(""), st.integers(-5, 70000).map(lambda p: f":{p}"), st.text(max_size=6).map(":".__add__))
_TAILS = st.sampled_from(["", "/", "/path", "?q=1", "#frag", "/x?y"])


@given(
    address=st.one_of(
        st.builds(lambda s, h, p, t: f"{s}://{h}{p}{t}", st.sampled_from(["tcp", "ssh"]), _HOSTS, _PORTS, _TAILS),
        st.text(max_size=40).map("tcp://".__add__),
        st.text(max_size=40).map("ssh://".__add__),
    )
)
@example(address="tcp://127.0.0.1:abc")
@example(address="tcp://[::1")
def test_what_the_parser_accepts_the_docker_sdk_parses(address: str) -> None:
    try:
        accepted = engine_choice.check_target(address, where="--engine-for arm64")
    except ConfigError as refused:
        assert "\n" not in str(refused) and str(refused).startswith("--engine-for arm64: ")
        return
    assert accepted == address
    docker.utils.parse_host(address, False)  # neither DockerException nor ValueError: it connects, or not


@pytest.mark.parametrize(
    "args",
    [
        ("doctor", "--matrix", "bookworm", "--arch", "amd64"),
        ("clean", "--matrix", "bookworm", "--arch", "amd64"),
        ("run", "--matrix", "bookworm", "--arch", "amd64"),
        ("base", "build", "--arch", "amd64"),
    ],
)
@pytest.mark.parametrize("address", ["tcp://127.0.0.1:abc", "tcp://127.0.0.1:70000", "tcp://[::1"])
def test_every_command_that_connects_refuses_a_bad_docker_host(args: tuple[str, ...], address: str) -> None:
    done = CliRunner().invoke(cli, list(args), env={"DOCKER_HOST": address, "DOCKER_CONTEXT": None})
    assert isinstance(done.exception, ConfigError), (done.exception, done.output)
    assert str(done.exception).startswith(f"DOCKER_HOST: engine URL {address!r} is malformed")
