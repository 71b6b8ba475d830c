"""Integration tests: the real engine, real images, real QEMU. No skips: a missing engine is a failure.

`make test` runs scripts/engine-up first, so on a fresh Debian machine the engine, QEMU and (on first
use) the base images are created before these run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from npmatrix.host.engine import Engine

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    out_dir: Path

    @property
    def results(self) -> dict[str, Any]:
        return json.loads((self.out_dir / "results.json").read_text())

    def cell(self, name: str) -> dict[str, Any]:
        return next(c for c in self.results["cells"] if c["name"] == name)


# The CLI as the tests run it: unbuffered progress, and a terminal wide enough that the table never wraps a
# cell's text (the tests look for "ok (slow: reference BLAS)" whole; the wrapping has its own unit tests).
CLI_ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "400"}


def npmatrix(*args: str, out_dir: Path, timeout: float = 1800) -> CliRun:
    done = subprocess.run(
        [sys.executable, "-m", "npmatrix", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=CLI_ENV,
    )
    sys.stderr.write(done.stderr[-4000:])  # progress lines, shown by pytest when a test fails
    return CliRun(done.returncode, done.stdout, done.stderr, out_dir)


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.connect()  # raises EngineUnavailable (a failure, not a skip) when no engine answers


@pytest.fixture(scope="session")
def docker_client(engine: Engine) -> Any:
    """The Docker SDK itself, for checking from outside what npmatrix did (image history, labels)."""
    import docker

    return docker.from_env()


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """The default matrix (today's Colab and Raspberry Pi OS trixie), end to end, once for the whole session
    (cold: base images are built), run as `make matrix` runs it: no --matrix, from the checkout."""
    out = tmp_path_factory.mktemp("default-run")
    return npmatrix("run", "--out", str(out), out_dir=out)


@pytest.fixture(scope="session")
def bookworm_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """The built-in bookworm matrix (Debian 12, NumPy 2.3.5), end to end, once for the whole session."""
    out = tmp_path_factory.mktemp("bookworm-run")
    return npmatrix("run", "--matrix", "bookworm", "--out", str(out), out_dir=out)


@pytest.fixture(scope="session")
def gallery_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """matrix/gallery.toml end to end: every real-world failure, reproduced and classified."""
    out = tmp_path_factory.mktemp("gallery-run")
    return npmatrix("run", "--matrix", "matrix/gallery.toml", "--out", str(out), out_dir=out)


def containers_of(engine: Engine, run: dict[str, Any]) -> list[str]:
    """The containers a run left behind. Only this run's: another run may share the engine (and a second
    test session, or a user's run, is exactly what `clean` must not disturb)."""
    run_id = run["host"]["run_id"]
    return sorted(name for name, labels in engine.list_containers().items() if labels.get("org.npmatrix.run") == run_id)


@dataclass(frozen=True)
class StandIn:
    """scripts/piwheels-standin's index, served on 127.0.0.1 for the session: cell builds use the host network,
    so a cell's pip reaches it at `url` as it would reach piwheels."""

    url: str  # the PEP 503 index: http://127.0.0.1:PORT/simple
    record: dict[str, Any]  # standin.json: the wheel, its tag, the system libraries it links and their packages
    requests: list[str] = field(default_factory=list)  # "GET /simple/numpy/ 200", as served (appended to)

    @property
    def wheel_name(self) -> str:
        return Path(self.record["wheel"]).name

    @property
    def version(self) -> str:
        """NumPy's version: "2.2.4" of numpy-2.2.4-cp313-cp313-linux_armv7l.whl."""
        return self.wheel_name.split("-")[1]

    @property
    def libraries(self) -> list[str]:
        return list(self.record["system_libraries"])

    @property
    def packages(self) -> list[str]:
        """The apt packages of the libraries the wheel links, in one list for a cell's `apt`."""
        return list(dict.fromkeys(self.record["system_libraries"].values()))


def stand_in(script: str, *, timeout: float) -> Path:
    """What scripts/SCRIPT made (the path it prints), making it on first use and reusing its cache after; a
    failure fails the test with the script's stderr, never skips it (CI runs on clean clones)."""
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / script)], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/{script} failed ({done.returncode}): {done.stderr[-2000:]}")
    return Path(done.stdout.strip())


def make_standin() -> Path:
    """The stand-in's folder (holding simple/ and standin.json), made on first use: on a clean clone it
    fetches Debian's armhf python3-numpy from deb.debian.org; after that the cached wheel is reused."""
    return stand_in("piwheels-standin", timeout=900).parent


def _server(root: Path, requests: list[str]) -> ThreadingHTTPServer:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            requests.append(f"{self.command} {self.path} {code}")

    # Port 0: a free port each session, so parallel sessions never meet and no earlier image or pip cache
    # entry (both keyed by the URL) stands in for this session's download.
    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="session")
def piwheels_standin() -> Iterator[StandIn]:
    root = make_standin()
    record = json.loads((root / "standin.json").read_text())
    requests: list[str] = []
    server = _server(root, requests)
    thread = threading.Thread(target=server.serve_forever, name="piwheels-standin", daemon=True)
    thread.start()
    try:
        yield StandIn(url=f"http://127.0.0.1:{server.server_address[1]}/simple", record=record, requests=requests)
    finally:
        server.shutdown()
        server.server_close()
