"""What a cell ended with: one status from a closed set, a one-line reason, the fix and the evidence.

Pure data, importable by every stage (classify writes verdicts, results and reports read them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


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
    TESTS_FAILED = "tests-failed"  # NumPy works, the cell's own test_command does not (failing tests by name)
    TIMEOUT = "timeout"  # no answer within the cell's limit
    ENGINE_ERROR = "engine-error"  # the engine failed us, not NumPy; never an expected outcome

    @property
    def works(self) -> bool:
        return self is Status.OK


@dataclass(frozen=True, kw_only=True)
class Verdict:
    status: Status
    reason: str
    fix: str | None = None
    evidence: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "reason": self.reason, "fix": self.fix, "evidence": list(self.evidence)}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Verdict:
        """From what `to_json` wrote; the file's schema has already been checked by its reader."""
        return cls(
            status=Status(record["status"]),
            reason=str(record["reason"]),
            fix=record.get("fix"),
            evidence=tuple(record.get("evidence") or ()),
        )
