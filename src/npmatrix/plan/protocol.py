"""What the host and the in-container scripts must agree on, defined once.

container/probe.py and container/bench.py are standalone (stdlib only, copied into images whose Python may
be 3.7) and cannot import this package, so they carry their own copies of these strings;
tests/unit/test_protocol.py checks every copy against this module, and that the command line built here is
the one probe.py parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Literal

SCRIPTS = ("probe.py", "bench.py", "pagesize.py")  # side by side: probe.py runs bench.py, loads pagesize.py
PROBE_DIR = "/npmatrix"  # where the scripts are copied in each container
PROBE_VERSION = 1  # facts["probe_version"] this host understands
BENCH_VERSION = 1
# bench.py streams each finished GEMM case on stderr behind this marker, so a crash in a later, larger case
# still leaves the earlier results; probe.py collects them.
BENCH_RESULT_MARKER = "NPMATRIX-BENCH-RESULT "
# probe.py's children (the NumPy import, the benchmark) print their findings behind this marker, so what NumPy
# itself prints cannot corrupt them.
CHILD_MARKER = "NPMATRIX-JSON "
CHILD_FLAG = "--npmatrix-child"
# A command prefix the probe puts before the Python of each child: an amd64 cell with a CPU model runs its
# children under qemu-x86_64 (binfmt only catches foreign binaries, so native ones need it explicitly).
EXEC_PREFIX_VAR = "NPMATRIX_EXEC_PREFIX"
X86_QEMU = f"{PROBE_DIR}/qemu-x86_64-static"  # where that emulator is copied in the container
X86_QEMU_HOST_PATH = "/usr/bin/qemu-x86_64-static"
# A probe split in two calls (see BenchStage): the first call's bench section says the timing was deferred.
BENCH_DEFERRED = "deferred to a separate timed call"

# "inline": one call probes and times; "later": the probe checks NumPy imports and leaves the timing out;
# "only": the timing alone, in a second call the host can serialise with other cells' timings.
BenchStage = Literal["inline", "later", "only"]


@dataclass(frozen=True, kw_only=True)
class ProbeCommand:
    """The probe's command line: the only place it is built, for containers and for the host."""

    python: str
    script_dir: str = PROBE_DIR
    bench: bool = True
    sizes: tuple[int, ...] = (256, 512, 1024)
    repeats: int = 5
    child_timeout: float = 120.0  # per child: the import, pip, ldd
    bench_timeout: float = 1800.0  # per benchmark run (single and all threads)
    imports: tuple[str, ...] = ()
    bench_stage: BenchStage = "inline"  # only with bench
    page_alignment: bool = False  # also check site-packages for a 16K-page kernel (a Pi 5 cell: pagesize.py)

    def argv(self) -> list[str]:
        argv = [self.python, f"{self.script_dir}/probe.py"]
        if self.bench:
            argv += ["--bench", "--sizes", ",".join(str(n) for n in self.sizes), "--repeats", str(self.repeats)]
            if self.bench_stage != "inline":
                argv.append(f"--bench-{self.bench_stage}")
        argv += ["--timeout", _number(self.child_timeout), "--bench-timeout", _number(self.bench_timeout)]
        for module in self.imports:
            argv += ["--import", module]
        if self.page_alignment:
            argv.append("--page-alignment")
        return argv


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def script_files() -> dict[str, bytes]:
    """The scripts as shipped in the package, to copy into a container or a temporary directory."""
    folder = resources.files("npmatrix").joinpath("container")
    return {name: folder.joinpath(name).read_bytes() for name in SCRIPTS}
