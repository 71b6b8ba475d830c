"""The engines one command uses, connected: one `Engine` and one `Builder` per distinct engine of an
`EngineChoice`, and for each cell the engine of its platform and the plan as it runs there.

A platform sent to a native engine (`--engine-for arm64=ssh://pi@host` on an ARM machine) runs without QEMU:
`plan.place` re-plans it from the engine's architecture, so results say native or emulated per engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from npmatrix.config.engine_choice import EngineChoice, EngineTarget
from npmatrix.host import emulator
from npmatrix.host.engine import Builder, Engine, detect_builder
from npmatrix.plan.cellplan import CellPlan, place
from npmatrix.records.results import EngineRecord


@dataclass(frozen=True, kw_only=True)
class Member:
    """One connected engine, its build CLI and the platform its machine runs natively."""

    target: EngineTarget
    engine: Engine
    builder: Builder
    architecture: str | None
    local: bool = False  # on this machine's kernel: its binfmt handlers are ours to read (emulator.py)

    @property
    def record(self) -> EngineRecord:
        return EngineRecord(
            kind=self.target.kind, host=self.target.host, context=self.target.context, architecture=self.architecture
        )

    def describe(self) -> str:
        native = self.architecture or "unknown"
        return f"{self.target.describe()}, native {native}, builds with {self.builder.describe()}"


@dataclass(frozen=True, kw_only=True)
class Fleet:
    choice: EngineChoice
    members: dict[EngineTarget, Member]

    @classmethod
    def connect(cls, choice: EngineChoice, platforms: Iterable[str]) -> Fleet:
        """Every engine the cells on `platforms` use, connected (EngineUnavailable, exit 3, if one does not
        answer: a run should not start when half its engines are missing)."""
        members = {}
        for target in choice.targets(platforms) or [choice.default]:  # an empty shard still records its engine
            engine = Engine.connect(target)
            members[target] = Member(
                target=target,
                engine=engine,
                builder=detect_builder(target, builder=choice.builder),
                architecture=engine.architecture(),
                local=emulator.is_local(target.host, engine.kernel_version()),
            )
        return cls(choice=choice, members=members)

    def member(self, platform: str) -> Member:
        return self.members[self.choice.for_platform(platform)]

    def place(self, plan: CellPlan) -> tuple[CellPlan, Member]:
        """The plan as it runs on its platform's engine, and that engine."""
        member = self.member(plan.platform.name)
        return place(plan, member.architecture, engine=member.record.label), member

    @property
    def default(self) -> Member:
        return next(iter(self.members.values()))
