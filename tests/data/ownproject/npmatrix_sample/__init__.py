"""The sum of squares: what the sample's tests check."""

import numpy as np


def sum_of_squares(values: list[float]) -> float:
    return float(np.dot(values, values))
