"""A dot product through PyTorch, from NumPy arrays: what the sample's test checks.

`import torch` is the code path that needs the CPU feature: loading torch 2.10.0's libc10.so runs mimalloc's
initialiser, which uses an ARMv8.1 LSE atomic (ldaddal). See pyproject.toml for the reports.
"""

import numpy as np
import torch


def dot(values: list[float]) -> float:
    array = np.asarray(values, dtype=np.float64)
    tensor = torch.from_numpy(array)  # shares NumPy's buffer: the NumPy/PyTorch boundary a user's code crosses
    return float(torch.dot(tensor, tensor))
