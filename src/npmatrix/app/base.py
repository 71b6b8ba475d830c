"""`npmatrix base build`: the base images the selected cells need, on the engine each platform uses."""

from __future__ import annotations

from pathlib import Path

from npmatrix.app.console import Console
from npmatrix.app.inputs import EngineOptions, Selection
from npmatrix.errors import ExitCode
from npmatrix.host.fleet import Fleet
from npmatrix.judge.outcomes import BuildOutcome
from npmatrix.plan import cellplan
from npmatrix.run import runner


def build(selection: Selection, engines: EngineOptions, console: Console, *, log_dir: Path) -> ExitCode:
    """Existing images are kept; 3 when one could not be made (its log is named)."""
    selected = selection.load()
    plans = cellplan.plan(selected)
    fleet = Fleet.connect(engines.choose(selected), [p.platform.name for p in plans])
    outcomes: dict[str, BuildOutcome] = {}
    for target, member in fleet.members.items():
        mine = tuple(p for p in plans if fleet.choice.for_platform(p.platform.name) == target)
        outcomes |= runner.ensure_bases(
            cellplan.bases_needed(mine),
            builder=member.builder,
            engine=member.engine,
            log_dir=log_dir,
            progress=console.progress,
        )
    for tag, outcome in outcomes.items():
        state = "present" if outcome.cached else ("built" if outcome.ok else f"FAILED (log: {outcome.log_path})")
        console.say(f"{tag}: {state}")
    return ExitCode.OK if all(o.ok for o in outcomes.values()) else ExitCode.ENGINE_UNAVAILABLE
