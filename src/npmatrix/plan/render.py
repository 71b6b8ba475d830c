"""Dockerfiles from the Jinja2 templates in dockerfiles/: pure, deterministic (same input, same bytes)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from npmatrix.config import install, localinputs, project
from npmatrix.config.matrix import Cell
from npmatrix.config.platforms import Platform
from npmatrix.plan.base_image import BaseRecipe

if TYPE_CHECKING:
    import jinja2


@functools.cache
def _environment(template_dir: Path | None) -> jinja2.Environment:
    # Imported here, not at the top: plan (and through it classify, results, explain) imports this module,
    # and those pure stages must load without Jinja2 (tests/unit/test_import_contract.py).
    import jinja2

    loader: jinja2.BaseLoader
    if template_dir is not None:
        loader = jinja2.FileSystemLoader(str(template_dir))
    else:
        loader = jinja2.FileSystemLoader(str(resources.files("npmatrix").joinpath("dockerfiles")))
    return jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,  # a typo in a template is an error, not an empty string
        keep_trailing_newline=True,
        autoescape=False,  # Dockerfiles, not HTML; values are validated before they get here
    )


def cell_dockerfile(
    cell: Cell, platform: Platform, base_image: str, *, template_dir: Path | None = None, pip_conf: str | None = None
) -> str:
    """`pip_conf`: the /etc/pip.conf a Raspberry Pi OS cell gets (plan/raspios.py), as lines for printf."""
    method = install.method(cell.install)
    apt_packages = [*method.apt_packages, *cell.apt]
    template = _environment(template_dir).get_template(method.template)
    return template.render(
        cell=cell,
        platform=platform,
        base_image=base_image,
        apt_packages=apt_packages,
        user_dir=localinputs.CONTEXT_DIR,
        user_mount=localinputs.MOUNT_POINT,
        requirements_name=localinputs.REQUIREMENTS_NAME,
        find_links_name=localinputs.FIND_LINKS_NAME,
        project_context=project.CONTEXT_NAME,
        project_dir=project.PROJECT_DIR,
        pip_conf_lines=pip_conf.splitlines() if pip_conf else [],
    )


def base_dockerfile(recipe: BaseRecipe, *, template_dir: Path | None = None) -> str:
    return _environment(template_dir).get_template("base.Dockerfile.j2").render(recipe=recipe)
