"""The closed set of verdicts a cell can end with."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    NO_WHEEL = "no-wheel"  # pip found no binary for this platform/Python/pip
    BUILD_FAILED = "build-failed"  # any other image build failure
    MISSING_SHARED_LIBRARY = "missing-shared-library"  # "cannot open shared object file"
    ABI_MISMATCH = "abi-mismatch"  # extension built for NumPy 1.x under 2.x, or the reverse
    CPU_UNSUPPORTED = "cpu-unsupported"  # SIGILL or NumPy's baseline check
    CRASHED = "crashed"  # any other fatal signal
    IMPORT_FAILED = "import-failed"  # `import numpy` failed for a reason we do not recognise
    WRONG_RESULT = "wrong-result"  # a product outside tolerance, or FP errors on well-conditioned inputs
    TIMEOUT = "timeout"  # no answer within the cell's limit
    ENGINE_ERROR = "engine-error"  # the engine failed us, not NumPy; never an expected outcome

    @property
    def works(self) -> bool:
        return self is Status.OK
