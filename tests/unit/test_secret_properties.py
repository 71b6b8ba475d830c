"""Issue 20, redaction as a property of every output: a secret planted in any string field of a results file, a
matrix or a freeze never appears in any output of any command that reads it (stdout, stderr, every file written),
and no raw escape does either. The invariants are the corpus's (tests/unit/hostile_harness.py); the documents
are a real run's (tests/unit/hostile_strategies.py) with only secrets planted, in any string leaf, not only the
fields a report shows, each with arbitrary text glued on either side.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hostile import CHEAP_COMMANDS, EITHER, SECRETS, Command, Setup, command_args, real, run_dir, write
from hostile_harness import run_case
from hostile_strategies import _CLOSED, _SHOWN, _set, leaves
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_SECRET = st.sampled_from(SECRETS)
# What is glued to a secret: no quote or backslash, which would end it for the reader of the document first.
_GLUE = st.text(st.characters(blacklist_characters="\"'\\", blacklist_categories=("Cs",)), max_size=6)
_MATRIX_FIELDS = ("name", "note", "numpy", "index_url", "platform", "suite", "qemu_cpu", "expect")


def _run(args: tuple[str, ...], tmp: Path, secrets: tuple[str, ...], patch: pytest.MonkeyPatch) -> None:
    outcome = run_case(Setup(args=args, allowed=EITHER, secrets=secrets), tmp, patch)
    assert outcome.failures == (), outcome.explain()


@st.composite
def results_with_secrets(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[str, ...]]:
    document = real()
    strings = [p for p, v in leaves(document) if isinstance(v, str) and not _CLOSED & {k for k in p if k in _CLOSED}]
    # Half the secrets go where the outputs show strings (names, notes, reasons, the matrix source): the rest of
    # a real run's strings are mostly probe facts that only the JSON outputs carry.
    shown = [p for p in strings if {k for k in p[-2:] if isinstance(k, str)} & _SHOWN]
    secrets = []
    where = st.one_of(st.sampled_from(shown), st.sampled_from(strings))
    for path in draw(st.lists(where, min_size=1, max_size=4, unique=True)):
        secret = draw(_SECRET)
        _set(document, path, f"{draw(_GLUE)}{secret.text}{draw(_GLUE)}")
        secrets.append(secret.secret)
    return document, tuple(secrets)


@pytest.mark.parametrize("command", [*CHEAP_COMMANDS])
def test_a_secret_in_any_string_of_a_results_file_never_reaches_an_output(command: Command) -> None:
    @SETTINGS
    @given(planted=results_with_secrets())
    def run(planted: tuple[dict[str, Any], tuple[str, ...]]) -> None:
        document, secrets = planted
        with tempfile.TemporaryDirectory() as name, pytest.MonkeyPatch.context() as patch:
            tmp = Path(name)
            results = run_dir(tmp, json.dumps(document, indent=1))
            _run(command_args(command, tmp, results), tmp, secrets, patch)

    run()


@pytest.mark.parametrize("command", ["list", "render"])
def test_a_secret_in_any_field_of_a_matrix_never_reaches_an_output(command: str) -> None:
    @SETTINGS
    @given(field=st.sampled_from(_MATRIX_FIELDS), secret=_SECRET, before=_GLUE, after=_GLUE)
    def run(field: str, secret: Any, before: str, after: str) -> None:
        cell = {"name": "c", "platform": "amd64", "numpy": "==2.3.5", "expect": "ok"}
        cell[field] = f"{before}{secret.text}{after}"
        body = "[[cell]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in cell.items())
        with tempfile.TemporaryDirectory() as name, pytest.MonkeyPatch.context() as patch:
            tmp = Path(name)
            matrix = write(tmp / "run" / "m.toml", body)
            out = ("--out", str(tmp / "out")) if command == "render" else ()
            _run((command, "--matrix", str(matrix), *out), tmp, (secret.secret,), patch)

    run()


def test_a_secret_in_a_freeze_never_reaches_the_matrix_or_the_terminal() -> None:
    shapes = ("pkg @ {}/pkg-1.0-py3-none-any.whl", "--index-url {}", "--extra-index-url {}", "-e git+{}#egg=x", "{}")

    @SETTINGS
    @given(shape=st.sampled_from(shapes), secret=_SECRET, out=st.booleans())
    def run(shape: str, secret: Any, out: bool) -> None:
        with tempfile.TemporaryDirectory() as name, pytest.MonkeyPatch.context() as patch:
            tmp = Path(name)
            freeze = write(tmp / "run" / "freeze.txt", f"numpy==2.0.2\n{shape.format(secret.text)}\nscipy==1.14\n")
            tail = ("--out", str(tmp / "out" / "m.toml")) if out else ()
            _run(("freeze-to-matrix", str(freeze), *tail), tmp, (secret.secret,), patch)

    run()
