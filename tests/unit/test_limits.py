"""The input limits at their edges: exactly at a limit is accepted, one past it is refused.

The limits are listed in docs/matrix.md, "Input limits and errors"."""

from __future__ import annotations

from pathlib import Path

import pytest

from npmatrix.config import matrix, validators
from npmatrix.errors import ConfigError

CELL = '[[cell]]\nname = "c"\nplatform = "amd64"\nnumpy = "2.3.5"\n'


def _padded(size: int) -> str:
    comment = "# " + "x" * (size - len(CELL) - 3) + "\n"
    return comment + CELL


@pytest.mark.parametrize("via", ["loads", "file"])
def test_a_matrix_of_exactly_the_size_limit_is_read_and_one_byte_more_is_not(via: str, tmp_path: Path) -> None:
    at, over = _padded(matrix.MAX_FILE_BYTES), _padded(matrix.MAX_FILE_BYTES + 1)
    assert len(at.encode()) == matrix.MAX_FILE_BYTES

    def read(text: str) -> matrix.Matrix:
        if via == "loads":
            return matrix.loads(text, source="m.toml")
        path = tmp_path / "m.toml"
        path.write_text(text)
        return matrix.load(path)

    assert [c.name for c in read(at).cells] == ["c"]
    with pytest.raises(ConfigError, match=r"m\.toml: is larger than 1024 KiB; a matrix file is a few KiB$"):
        read(over)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_bytes(b'[[cell]]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"line 2: not UTF-8 \(byte 0xe9 at offset 20\)"):
        matrix.load(path)


def _axes(numpys: int, cpus: int, include: str = "") -> str:
    versions = ", ".join(f'"1.{i}"' for i in range(numpys))
    models = ", ".join(['"colab"', '"x86-64-v1"'][:cpus])
    return (
        f'[axes]\nname = "c{{numpy}}-{{cpu}}"\nplatform = ["amd64"]\nnumpy = [{versions}]\ncpu = [{models}]\n{include}'
    )


def test_exactly_the_cell_limit_is_accepted() -> None:
    assert len(matrix.loads(_axes(500, 2), source="m").cells) == matrix.MAX_CELLS


def test_one_cell_past_the_limit_through_include_is_refused() -> None:
    include = 'include = [{ platform = "amd64", numpy = "9.9", cpu = "colab" }]\n'
    with pytest.raises(ConfigError, match=r"m: axes: expands to 1001 cells; at most 1000 are allowed$"):
        matrix.loads(_axes(500, 2, include), source="m")


def test_explicit_cells_past_the_limit_are_refused() -> None:
    cells = "".join(f'[[cell]]\nname = "c{i}"\nplatform = "amd64"\nnumpy = "2.3.5"\n' for i in range(1001))
    with pytest.raises(ConfigError, match=r"^m: has 1001 cells; at most 1000 are allowed$"):
        matrix.loads(cells, source="m")


@pytest.mark.parametrize(("key", "value"), [("timeout", 1), ("timeout", 86400), ("build_timeout", 1), ("pids", 16)])
def test_numbers_at_their_limits_are_accepted(key: str, value: int) -> None:
    (cell,) = matrix.parse({"cell": [{"name": "c", "platform": "amd64", "numpy": "2.3.5", key: value}]}).cells
    assert getattr(cell, key) == value


@pytest.mark.parametrize(("key", "value"), [("timeout", 0), ("timeout", 86401), ("pids", 15), ("pids", 65537)])
def test_numbers_past_their_limits_are_refused(key: str, value: int) -> None:
    with pytest.raises(ConfigError, match=rf"\.{key}: expected"):
        matrix.parse({"cell": [{"name": "c", "platform": "amd64", "numpy": "2.3.5", key: value}]})


def test_memory_and_text_limits() -> None:
    assert validators.memory_limit("6m") == "6m" and validators.memory_limit("262144m") == "262144m"
    with pytest.raises(ValueError, match="between 6m and 256g"):
        validators.memory_limit("262145m")
    assert validators.plain_text("x" * 500) == "x" * 500
    assert validators.plain_text("non\u00a0breaking") == "non\u00a0breaking"  # U+00A0 is printable, not C1
    with pytest.raises(ValueError, match="U\\+009F"):
        validators.plain_text("a\u009fb")


def test_an_at_sign_alone_makes_an_index_url_refused() -> None:
    with pytest.raises(ValueError, match="without credentials"):
        validators.index_url("https://host/simple/@")


def test_pids_upper_limit_is_accepted() -> None:
    (cell,) = matrix.parse({"cell": [{"name": "c", "platform": "amd64", "numpy": "2.3.5", "pids": 65536}]}).cells
    assert cell.pids == 65536


def test_an_apt_cell_with_packages_may_set_the_index() -> None:
    raw = {"name": "c", "platform": "arm/v7", "install": "apt", "packages": ["pandas==2.2.3"]}
    raw |= {"index_url": "https://www.piwheels.org/simple", "only_binary": False}
    (cell,) = matrix.parse({"cell": [raw]}).cells
    assert cell.index_url == "https://www.piwheels.org/simple" and cell.only_binary is False


@pytest.mark.parametrize(
    ("template", "name"), [("..{numpy}--", "2.3.5"), ("-np{numpy}.", "np2.3.5"), ("{numpy}", "2.3.5")]
)
def test_rendered_names_lose_leading_and_trailing_separators(template: str, name: str) -> None:
    text = f'[axes]\nname = "{template}"\nplatform = ["amd64"]\nnumpy = ["2.3.5"]\n'
    assert [c.name for c in matrix.loads(text, source="m").cells] == [name]


def test_a_matrix_without_a_source_is_called_matrix_in_errors() -> None:
    with pytest.raises(ConfigError, match=r"^<matrix>: the matrix has no cells"):
        matrix.parse({})
