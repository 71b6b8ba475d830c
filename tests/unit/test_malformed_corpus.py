"""The malformed-input corpus (tests/data/malformed): every file is one bad input a hostile or careless user
can give, and every one must end the same way — exit 2, exactly one line `npmatrix: error: WHERE: WHAT` on
stderr, nothing on stdout, no traceback, and nothing written.

- matrix/*   rendered with `npmatrix render --matrix FILE --out DIR` (DIR must not appear)
- results/*  and probe/*: compared with `npmatrix explain FILE GOOD_PROBE`
- cli/*.json {"args": [...]}: a command line; {tmp} is a fresh directory, {file} a regular file in it,
             {probe} and {results} valid files

The command runs in-process through `cli.main`, the same entry point as the installed script, so an exception
that escapes it fails the test with its traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from npmatrix import cli

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = DATA / "malformed"
GOOD_PROBE = DATA / "probe-host-amd64-numpy-ok.json"
GOOD_RESULTS = DATA / "results-default.json"
CATEGORIES = ("matrix", "results", "probe", "cli")


def _cases() -> list[pytest.ParameterSet]:
    return [
        pytest.param(category, path, id=f"{category}/{path.name}")
        for category in CATEGORIES
        for path in sorted((CORPUS / category).iterdir())
    ]


def _argv(category: str, path: Path, tmp: Path) -> list[str]:
    if category == "matrix":
        return ["render", "--matrix", str(path), "--out", str(tmp / "out")]
    if category in ("results", "probe"):
        return ["explain", str(path), str(GOOD_PROBE)]
    places = {
        "{tmp}": str(tmp),
        "{file}": str(tmp / "file"),
        "{probe}": str(GOOD_PROBE),
        "{results}": str(GOOD_RESULTS),
    }
    args = []
    for arg in json.loads(path.read_text())["args"]:
        for placeholder, value in places.items():
            arg = arg.replace(placeholder, value)
        args.append(arg)
    return args


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"/" for p in sorted(root.rglob("*"))}


def test_the_corpus_is_big_enough() -> None:
    counts = {c: len(list((CORPUS / c).iterdir())) for c in CATEGORIES}
    assert sum(counts.values()) >= 60, counts
    assert min(counts.values()) >= 10, counts


@pytest.mark.parametrize(("category", "path"), _cases())
def test_malformed_input_is_one_line_exit_2_and_writes_nothing(
    category: str, path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("a regular file\n")
    argv = _argv(category, path, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["npmatrix", *argv])
    before = _tree(tmp_path)

    with pytest.raises(SystemExit) as exited:
        cli.main()

    out, err = capsys.readouterr()
    assert exited.value.code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("npmatrix: error: "), err
    assert "Traceback" not in err
    assert all(ch == "\t" or ch >= " " for ch in lines[0]), f"control character in {lines[0]!r}"
    assert out == ""
    assert _tree(tmp_path) == before
    if category != "cli":
        assert path.name in lines[0] or str(path) in lines[0], "the error names the file"


# stdout itself as the bad input: these need a real process, whose fd 1 is closed, full or a broken pipe.
@pytest.mark.parametrize(
    ("how", "reason"),
    [
        pytest.param("full", "No space left on device", id="stdout-full"),
        pytest.param("closed", "is closed", id="stdout-closed"),
        pytest.param("broken-pipe", "Broken pipe", id="stdout-broken-pipe"),
    ],
)
def test_stdout_that_cannot_be_written_is_one_line_exit_2(how: str, reason: str) -> None:
    import os
    import subprocess

    argv = [sys.executable, "-m", "npmatrix", "list", "--matrix", "gallery"]
    if how == "broken-pipe":
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader went away before the first line, like `| head -0`
        err = proc.stderr.read().decode()
        code = proc.wait()
    else:
        with open("/dev/full", "wb") as full:
            done = subprocess.run(
                argv,
                stdout=full if how == "full" else None,
                stderr=subprocess.PIPE,
                check=False,
                preexec_fn=(lambda: os.close(1)) if how == "closed" else None,
            )
        err, code = done.stderr.decode(), done.returncode
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("npmatrix: error: stdout: "), err
    assert reason in err and "Traceback" not in err and "Exception ignored" not in err


GOLDEN_ERRORS = CORPUS / "errors.golden.json"


def test_error_lines_match_the_golden_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every corpus case's one line, word for word (paths made relative): what a user reads is a contract too,
    and mutation testing showed no test read most of these messages. After a deliberate change:
    NPMATRIX_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_malformed_corpus.py -k golden"""
    lines: dict[str, str] = {}
    for case in _cases():
        category, path = case.values
        work = tmp_path / f"{category}-{path.name}"
        work.mkdir()
        (work / "file").write_text("a regular file\n")
        with monkeypatch.context() as patch:
            patch.chdir(work)
            patch.setattr(sys, "argv", ["npmatrix", *_argv(category, path, work)])
            err = _capture_stderr(patch)
        lines[str(case.id)] = err.replace(str(work), "{tmp}").replace(str(DATA), "{data}").strip()
    if os.environ.get("NPMATRIX_UPDATE_GOLDEN") == "1":
        GOLDEN_ERRORS.write_text(json.dumps(lines, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN_ERRORS.read_text())
    assert sorted(lines) == sorted(golden)
    for key, line in lines.items():
        assert line == golden[key], key


def _capture_stderr(patch: pytest.MonkeyPatch) -> str:
    import io

    err = io.StringIO()
    patch.setattr(sys, "stderr", err)
    patch.setattr(sys, "stdout", io.StringIO())
    with pytest.raises(SystemExit):
        cli.main()
    return err.getvalue()
