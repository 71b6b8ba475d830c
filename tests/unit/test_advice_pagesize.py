"""The Pi 5 page advisory (issue 17), read from the probe's page_alignment section (container/pagesize.py)."""

from __future__ import annotations

import dataclasses

from synthetic import cell_result

from npmatrix.judge import advice
from npmatrix.present import labels
from npmatrix.records import results

FOUR_K = {
    "page_size": 16384,
    "directories": ["/venv/lib/python3.13/site-packages"],
    "scanned": 40,
    "below_page_size": [
        {"path": "/venv/lib/python3.13/site-packages/foo/_foo.cpython-313-aarch64.so", "min_load_align": 4096}
    ],
    "jemalloc": [],
    "unreadable": [],
}
# NumPy's own wheels are 64K-aligned (auditwheel#251): the scan finds nothing below 16K.
NUMPY_ONLY = {**FOUR_K, "below_page_size": []}


def test_a_4k_aligned_library_gets_the_advisory_with_the_fix() -> None:
    (note,) = advice.page_size(FOUR_K)
    assert note.kind == "page-size"
    assert note.message.startswith("works here, will fail on a real Pi 5 with its default 16K kernel")
    assert "_foo.cpython-313-aarch64.so (4K)" in note.message
    assert note.fix == "kernel=kernel8.img in config.txt (4K pages), or a build aligned to 64K"


def test_nothing_below_16k_and_no_section_give_none() -> None:
    assert advice.page_size(NUMPY_ONLY) == () and advice.page_size(None) == ()


def test_results_pass_the_section_to_the_advisories_and_the_label_says_it() -> None:
    ok = cell_result("pi5", facts={"page_alignment": FOUR_K})
    plain = dataclasses.replace(cell_result("numpy-only"), facts={"page_alignment": NUMPY_ONLY})
    found = results.advisories([ok, plain])
    assert [n.kind for n in found["pi5"]] == ["page-size"] and "numpy-only" not in found
    assert labels.advisories(found["pi5"]) == "fails on a Pi 5's 16K pages"
