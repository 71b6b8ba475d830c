"""The test tree as pytest collects it in a clean clone (rootdir import mode, no __init__.py): two test modules
with one basename in tests/unit and tests/integration stop the whole run at collection ("import file
mismatch"); a developer's warm __pycache__ can hide it, a clean clone (CI) cannot."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_basename() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py") if "__pycache__" not in p.parts)
    assert [name for name, count in names.items() if count > 1] == []
