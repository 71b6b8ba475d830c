from npmatrix_lse_sample import dot


def test_dot_through_torch() -> None:
    assert dot([3.0, 4.0]) == 25.0
