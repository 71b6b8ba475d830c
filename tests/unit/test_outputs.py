"""Issue 20: writers never clobber. An --out that is an input (by any name) or no regular file is refused before
anything is read or written, and two `history add` at once (two processes) keep both nights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import synthetic

from npmatrix import fileio
from npmatrix.errors import ConfigError


def _refused(out: Path, inputs: list[Path]) -> str:
    with pytest.raises(ConfigError) as refused:
        fileio.check_output(out, inputs=inputs)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"--out {out}: ")
    return message


def test_an_input_by_any_name_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "results.json"
    source.write_text("{}")
    (tmp_path / "link.json").symlink_to(source)
    os.link(source, tmp_path / "hard.json")
    for out in (source, tmp_path / "link.json", tmp_path / "hard.json", tmp_path / "." / "results.json"):
        assert f"is the input {source}: writing it would overwrite what is read" in _refused(out, [source])
    fileio.check_output(tmp_path / "other.json", inputs=[source])  # a new file beside it is fine
    (tmp_path / "existing.json").write_text("old")
    fileio.check_output(tmp_path / "existing.json", inputs=[source])  # and so is replacing another file


def test_a_non_regular_file_is_refused_without_opening_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "out.fifo")  # opening it to write would block until a reader came
    assert "is a FIFO, not a file" in _refused(tmp_path / "out.fifo", [])
    assert "is a directory, not a file" in _refused(tmp_path, [])
    assert "is a device, not a file" in _refused(Path("/dev/null"), [])
    (tmp_path / "to-fifo").symlink_to(tmp_path / "out.fifo")
    assert "is a FIFO" in _refused(tmp_path / "to-fifo", [])


_ADD_SLOWLY = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from npmatrix import fileio
    from npmatrix.records import history
    slow = fileio.write_atomic
    def write_atomic(path, text):
        time.sleep(0.5)  # both look for a free name before either writes, as two racing jobs do
        slow(path, text)
    fileio.write_atomic = write_atomic
    history.add(Path(sys.argv[1]), Path(sys.argv[2]))
    """
)


def test_two_processes_adding_at_once_keep_both_nights(tmp_path: Path) -> None:
    nights = []
    for i in range(2):
        document = json.loads(
            synthetic.write(synthetic.real_night("2026-11-25T03:00:00+00:00"), tmp_path / "x.json").read_text()
        )
        document["host"]["run_id"] = f"night-{i}"
        nights.append(tmp_path / f"n{i}.json")
        nights[-1].write_text(json.dumps(document))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    adds = [
        subprocess.Popen([sys.executable, "-c", _ADD_SLOWLY, str(n), str(tmp_path / "history")], env=env)
        for n in nights
    ]
    assert [p.wait(timeout=60) for p in adds] == [0, 0]
    kept = sorted(p.name for p in (tmp_path / "history").glob("*.json"))
    assert kept == ["20261125T030000Z-2.json", "20261125T030000Z.json"]
    run_ids = {json.loads(p.read_text())["host"]["run_id"] for p in (tmp_path / "history").glob("*.json")}
    assert run_ids == {"night-0", "night-1"}
