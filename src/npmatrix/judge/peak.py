"""Percent of peak: the fraction of the CPU's theoretical double-precision rate a cell's GEMM reached. Pure.

Peak = cores x clock x DP FLOPs per cycle per core, from what the probe read in /proc/cpuinfo: the widest
vector FMA the flags announce (AVX-512: 2 FMA units x 8 doubles x 2, an upper bound, since some CPUs have one
unit or split 512-bit work in two; AVX2+FMA: 16; AVX: 8; SSE2: 4). A Raspberry Pi, recognised by its ARM CPU
part, uses the published figures of its board profile (data/boards.toml): Pi 4 28.8 GFLOP/s (4 x 1.8 GHz x 4),
Pi 5 76.8 (4 x 2.4 GHz x 8). Under QEMU a fraction is meaningless: emulated code runs 10-20x slower than the
CPU it imitates, so none is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from npmatrix.config.boards import profiles

# DP FLOPs per cycle per core, widest first: (flags that must all be present, FLOPs)
X86_DP_FLOPS = ((("avx512f",), 32), (("avx2", "fma"), 16), (("avx",), 8), (("sse2",), 4))
# ARM "CPU part" -> (board, peak DP GFLOP/s), for the boards with a published peak (one per CPU part)
PI_PRESETS = {
    b.cpu_part: (b.description, b.peak_gflops) for b in profiles().boards.values() if b.peak_gflops is not None
}
EMULATED = "no fraction under QEMU: emulated code runs 10-20x slower than the CPU it imitates"
_GHZ = re.compile(r"@\s*([0-9.]+)\s*GHz", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class Peak:
    gflops: float | None  # theoretical DP GFLOP/s; None when it cannot be known
    basis: str  # how it was computed, or why there is none


def peak(cpu: Mapping[str, Any] | None, *, under_qemu: bool) -> Peak:
    if under_qemu:
        return Peak(gflops=None, basis=EMULATED)
    if not cpu:
        return Peak(gflops=None, basis="the probe read no CPU facts")
    part = str((cpu.get("arm_ids") or {}).get("CPU part", "")).lower()
    if part in PI_PRESETS:
        board, gflops = PI_PRESETS[part]
        return Peak(gflops=gflops, basis=f"{board}: {gflops} GFLOP/s DP")
    if cpu.get("arm_ids"):
        return Peak(gflops=None, basis=f"ARM CPU part {part or '?'} is no known Raspberry Pi")
    features = set(cpu.get("features") or ())
    per_cycle = next((flops for flags, flops in X86_DP_FLOPS if features.issuperset(flags)), None)
    ghz = clock_ghz(cpu)
    cores = cpu.get("count")
    if per_cycle is None or ghz is None or not isinstance(cores, int) or cores < 1:
        return Peak(gflops=None, basis="CPU clock, core count or vector ISA unknown")
    isa = next("+".join(flags) for flags, flops in X86_DP_FLOPS if flops == per_cycle)
    gflops = cores * ghz * per_cycle
    return Peak(gflops=gflops, basis=f"{cores} cores x {ghz:.2f} GHz x {per_cycle} DP FLOPs/cycle ({isa})")


def clock_ghz(cpu: Mapping[str, Any]) -> float | None:
    """The clock in the model name ("... @ 2.40GHz"), else the kernel's "cpu MHz" (nominal on most VMs)."""
    named = _GHZ.search(str(cpu.get("model_name") or ""))
    if named:
        return float(named.group(1))
    mhz = cpu.get("mhz")
    return float(mhz) / 1000 if isinstance(mhz, (int, float)) and mhz > 0 else None


def fraction(gflops: float | None, reference: Peak) -> float | None:
    if gflops is None or reference.gflops is None or reference.gflops <= 0:
        return None
    return gflops / reference.gflops
