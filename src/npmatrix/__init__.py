"""npmatrix: build NumPy in a matrix of containers and say, per cell, whether it works and why not."""

from __future__ import annotations

__version__ = "0.1.0"
