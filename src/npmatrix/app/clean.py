"""`npmatrix clean`: containers of runs that are over, and cell images earlier Dockerfiles left behind."""

from __future__ import annotations

from npmatrix.app.console import Console
from npmatrix.app.inputs import EngineOptions, Selection
from npmatrix.errors import ExitCode
from npmatrix.host import owner
from npmatrix.host.engine import OWNER_LABEL, RUN_LABEL, Engine
from npmatrix.plan import cellplan, raspios
from npmatrix.plan.base_image import REPOSITORY as BASE_REPOSITORY


def clean(selection: Selection, engines: EngineOptions, console: Console, *, everything: bool = False) -> ExitCode:
    """On every engine this matrix may have used. `everything` (--all): every npmatrix image, bases included."""
    # The input first: a typo in --matrix must end here, before any container or image is touched.
    selected = selection.load()
    # A Raspberry Pi OS cell has two images, with piwheels in its pip.conf and without: whether piwheels answers
    # may change between a run and its clean, and neither image is stale for it. So both are kept, unasked.
    unreached = dict.fromkeys(raspios.indexes_to_check(selected.cells), "")
    plans = cellplan.plan(selected) + (cellplan.plan(selected, unreached=unreached) if unreached else ())
    choice = engines.choose(selected)
    removed = 0
    for target in choice.all_targets():
        engine = Engine.connect(target)
        if len(choice.all_targets()) > 1:
            console.progress(f"cleaning {target.describe()}")
        remove_finished_containers(engine, console, everything=everything)
        cell_tags = engine.image_tags(cellplan.CELL_REPOSITORY)
        doomed = cell_tags + engine.image_tags(BASE_REPOSITORY) if everything else cellplan.superseded(plans, cell_tags)
        for tag in doomed:
            engine.remove_image(tag)
            console.say(f"removed image {tag}")
        removed += len(doomed)
    console.say(f"{removed} image(s) removed")
    return ExitCode.OK


def remove_finished_containers(engine: Engine, console: Console, *, everything: bool) -> None:
    """A container whose owner process is alive on this host is never removed: a run in another terminal goes on."""
    for name, labels in engine.list_containers().items():
        run = labels.get(RUN_LABEL, "?")
        state = owner.liveness(labels[OWNER_LABEL]) if OWNER_LABEL in labels else owner.Liveness.UNKNOWN
        if state is owner.Liveness.ALIVE:
            console.progress(f"kept container {name}: its run {run} is still going ({labels[OWNER_LABEL]})")
        elif state is owner.Liveness.UNKNOWN and not everything:
            console.progress(
                f"kept container {name}: its owner cannot be checked from here "
                f"({labels.get(OWNER_LABEL, 'no owner label')}); --all removes it"
            )
        else:
            engine.remove_container(name)
            console.say(f"removed container {name}")
