"""Platform, Debian suite and CPU model presets, loaded once from data/platforms.toml."""

from __future__ import annotations

import functools
import platform as _platform
import tomllib
from dataclasses import dataclass
from importlib import resources

# What the host's platform.machine() says -> our platform name; anything else runs under QEMU here.
_HOST_MACHINES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm/v7",
    "arm": "arm/v7",
}


@dataclass(frozen=True, kw_only=True)
class Platform:
    name: str
    oci: str  # the OCI platform string, e.g. linux/arm/v7
    debian_arch: str
    machine: str
    wheel_arch: str
    qemu: str
    build_cpu: str | None = None  # the QEMU CPU model builds run as; None: QEMU's default

    @property
    def slug(self) -> str:
        """The name with '/' made safe for image tags and file names (arm/v7 -> arm-v7)."""
        return self.name.replace("/", "-")


@dataclass(frozen=True)
class Suite:
    name: str
    python: str


@dataclass(frozen=True, kw_only=True)
class CpuModel:
    name: str
    description: str
    qemu: dict[str, str]  # platform name -> QEMU CPU model
    note: str = ""  # what this CPU means for NumPy, added to the reasons of cells that run on it

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(self.qemu)


@dataclass(frozen=True)
class Presets:
    platforms: dict[str, Platform]
    suites: dict[str, Suite]
    cpus: dict[str, CpuModel]


def host_platform_name() -> str | None:
    return machine_platform(_platform.machine())


def machine_platform(machine: str) -> str | None:
    """Our platform name for a machine or architecture name (x86_64, aarch64, armv7l; or amd64, arm64 as
    Podman and Go say); None for any other."""
    return _HOST_MACHINES.get(machine)


@functools.cache
def presets() -> Presets:
    raw = tomllib.loads(resources.files("npmatrix").joinpath("data/platforms.toml").read_text())
    return Presets(
        platforms={k: Platform(name=k, **v) for k, v in raw["platform"].items()},
        suites={k: Suite(name=k, **v) for k, v in raw["suite"].items()},
        cpus={
            k: CpuModel(name=k, description=v["description"], qemu=dict(v["qemu"]), note=v.get("note", ""))
            for k, v in raw["cpu"].items()
        },
    )
