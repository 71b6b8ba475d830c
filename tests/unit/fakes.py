"""The one hand-written fake engine for unit tests: the same methods as npmatrix.host.engine.Engine, in memory.

Use the `fake_engine` fixture (conftest.py): it makes `Engine.connect()` return a FakeEngine and
`detect_builder()` a BuildKit builder, so commands and the runner run against it unchanged. Other engines
(`--engine-for`, `--engine podman`) are FakeEngines of their own, in `fake_engine.others` by target.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from npmatrix.config.engine_choice import EngineTarget
from npmatrix.errors import EngineError
from npmatrix.host.engine import LABEL, CallResult, Lockdown
from npmatrix.judge.outcomes import BuildOutcome
from npmatrix.plan import cellplan as plan
from npmatrix.run import build

# What a fake container prints when it runs: a function of the image and the command.
Responder = Callable[[str, Sequence[str]], CallResult]


def _silent(image: str, command: Sequence[str]) -> CallResult:
    return CallResult(exit_code=0, stdout="", stderr="", duration_s=0.0)


@dataclass
class FakeEngine:
    images: dict[str, str] = field(default_factory=dict)  # tag -> image id
    containers: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> labels, of existing ones
    respond: Responder = _silent
    version_info: dict[str, str] = field(default_factory=lambda: {"version": "20.10.24", "api_version": "1.41"})
    fail_with: str | None = None  # every call raises EngineError with this message (a daemon gone away)
    created: list[FakeContainer] = field(default_factory=list)
    removed_images: list[str] = field(default_factory=list)
    target: EngineTarget = field(default_factory=EngineTarget)
    arch: str | None = "amd64"  # the platform its machine runs natively (Engine.architecture)
    kernel: str | None = field(default_factory=lambda: os.uname().release)  # this machine's: a local engine
    # Engines other than the default one, by target: `Engine.connect(target)` makes each once (fixture).
    others: dict[EngineTarget, FakeEngine] = field(default_factory=dict)

    def connect(self, target: EngineTarget | None) -> FakeEngine:
        if target is None or target == self.target:
            return self
        return self.others.setdefault(target, FakeEngine(target=target))

    def architecture(self) -> str | None:
        self._check()
        return self.arch

    def kernel_version(self) -> str | None:
        self._check()
        return self.kernel

    def _check(self) -> None:
        if self.fail_with:
            raise EngineError(self.fail_with)

    def ping(self) -> None:
        self._check()

    def version(self) -> dict[str, str]:
        self._check()
        return dict(self.version_info)

    def image_id(self, tag: str) -> str | None:
        self._check()
        return self.images.get(tag)

    def image_tags(self, repository: str) -> list[str]:
        self._check()
        return sorted(t for t in self.images if t.startswith(f"{repository}:"))

    def remove_image(self, tag: str) -> None:
        self._check()
        self.images.pop(tag, None)
        self.removed_images.append(tag)

    def container_names(self, *, label: str = LABEL) -> list[str]:
        self._check()
        return sorted(name for name, labels in self.containers.items() if label in labels)

    def list_containers(self, *, label: str = LABEL) -> dict[str, dict[str, str]]:
        self._check()
        return {name: dict(labels) for name, labels in sorted(self.containers.items()) if label in labels}

    def remove_container(self, name: str) -> None:
        self._check()
        self.containers.pop(name, None)

    def container(
        self,
        image: str,
        command: Sequence[str],
        *,
        oci_platform: str | None = None,
        environment: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        keep: bool = False,
        lockdown: Lockdown | None = None,
    ) -> FakeContainer:
        self._check()
        box = FakeContainer(
            engine=self,
            image=image,
            command=list(command),
            oci_platform=oci_platform,
            environment=dict(environment or {}),
            labels={LABEL: "1", **(labels or {})},
            keep=keep,
            lockdown=lockdown or Lockdown(),
            name=f"npmatrix-fake{len(self.created)}",
        )
        self.created.append(box)
        return box


@dataclass
class FakeContainer:
    engine: FakeEngine
    image: str
    command: list[str]
    oci_platform: str | None
    environment: dict[str, str]
    labels: dict[str, str]
    keep: bool
    lockdown: Lockdown
    name: str
    files: dict[str, bytes] = field(default_factory=dict)
    ran: bool = False
    entered: bool = False
    timeout: float | None = None  # what run() was given

    def __enter__(self) -> FakeContainer:
        if self.entered:
            raise EngineError(f"container {self.name} was already created")
        self.entered = True
        if self.image not in self.engine.images:
            raise EngineError(f"creating a container of {self.image}: ImageNotFound")
        self.engine.containers[self.name] = self.labels
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self.keep:
            self.engine.containers.pop(self.name, None)

    def copy_into(self, files: Mapping[str, bytes], directory: str) -> None:
        self.files.update({f"{directory.rstrip('/')}/{name}": data for name, data in files.items()})

    def run(self, *, timeout: float) -> CallResult:
        self.ran, self.timeout = True, timeout
        return self.engine.respond(self.image, self.command)


def exited(tag: str, output: str) -> BuildOutcome:
    """A build whose RUN step exited 1 with `output` (pip's refusal, a compiler error): no image."""
    return dataclasses.replace(BuildOutcome.failed(tag, output), exit_code=1, duration_s=1.0)


def fake_builds(monkeypatch: Any, engine: FakeEngine, *, failing: Mapping[str, str], image_id: str) -> list[str]:
    """`build.build_cell` replaced: the cells named in `failing` exit 1 with that log; every other cell's
    image appears in `engine` as `image_id`. Returns the names of the cells built, in order."""
    built: list[str] = []

    def fake_build(p: plan.CellPlan, **kwargs: Any) -> BuildOutcome:
        built.append(p.cell.name)
        if p.cell.name in failing:
            return exited(p.image_tag, failing[p.cell.name])
        engine.images[p.image_tag] = image_id
        return BuildOutcome.reused(p.image_tag, image_id)

    monkeypatch.setattr(build, "build_cell", fake_build)
    return built
