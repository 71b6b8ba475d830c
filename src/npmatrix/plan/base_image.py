"""Base images made from Debian packages, or from a root filesystem the user gives (`rootfs`), for machines
that reach no registry.

A recipe is pure data; its tag is a hash of everything that goes into the root filesystem, so an image
that exists under that tag is reused as it is and a changed recipe gets a new image. For a rootfs that is
the tarball's content hash and the platform it is recorded as (FROM scratch + ADD, built with --platform).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from npmatrix.config.localinputs import LocalInput
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
    rootfs: LocalInput | None = None  # the user's root filesystem: then no mmdebstrap, and no Debian recipe

    @property
    def digest(self) -> str:
        if self.rootfs is not None:
            # The tarball is the whole recipe: suite, packages and mirror do not go into it.
            own = {"rootfs_sha256": self.rootfs.sha256, "docker_platform": self.platform.oci}
            return hashlib.sha256(json.dumps(own, sort_keys=True).encode()).hexdigest()[:12]
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
    def name(self) -> str:
        """What the base is made of and for which platform: the tag without its hash, and its log's name."""
        return f"{'rootfs' if self.rootfs else self.suite}-{self.platform.slug}"

    @property
    def label(self) -> str:
        """For messages: "bookworm arm/v7", "rootfs arm/v6"."""
        return f"{'rootfs' if self.rootfs else self.suite} {self.platform.name}"

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.name}-{self.digest}"

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
