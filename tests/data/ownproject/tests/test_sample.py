from npmatrix_sample import sum_of_squares


def test_sum_of_squares() -> None:
    assert sum_of_squares([3.0, 4.0]) == 25.0


def test_fails_on_purpose() -> None:
    # Wrong on purpose: npmatrix must report this test by name, as tests-failed.
    assert sum_of_squares([1.0, 1.0]) == 3.0
