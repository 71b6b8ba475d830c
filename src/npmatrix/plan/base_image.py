"""Base images made from Debian packages, for machines that reach no registry.

A recipe is pure data; its tag is a hash of everything that goes into the root filesystem, so an image
that exists under that tag is reused as it is and a changed recipe gets a new image.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from npmatrix.config.platforms import Platform

DEFAULT_PACKAGES = ("python3", "python3-pip", "python3-venv", "ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
REPOSITORY = "npmatrix-base"


@dataclass(frozen=True, kw_only=True)
class BaseRecipe:
    suite: str
    platform: Platform
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    mirror: str = DEFAULT_MIRROR
    variant: str = "minbase"

    @property
    def digest(self) -> str:
        recipe = {
            "suite": self.suite,
            "debian_arch": self.platform.debian_arch,
            "docker_platform": self.platform.oci,  # the key name is part of every base tag: keep it
            "packages": sorted(self.packages),
            "mirror": self.mirror,
            "variant": self.variant,
        }
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.suite}-{self.platform.slug}-{self.digest}"

    def mmdebstrap_argv(self, tarball: str) -> list[str]:
        return [
            "mmdebstrap",
            f"--variant={self.variant}",
            f"--arch={self.platform.debian_arch}",
            f"--include={','.join(self.packages)}",
            self.suite,
            tarball,
            self.mirror,
        ]
