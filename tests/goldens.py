"""The default matrix's golden Dockerfiles (tests/golden/default), as a real process renders them on this machine.

A real `npmatrix render` asks piwheels first (app/planning.py): where piwheels answers, the Raspberry Pi OS cell's
Dockerfile writes Pi OS's /etc/pip.conf, as the golden file has it; where it does not, as from our machines, the
line is left out and stderr says so. The unit tests' in-process renders count every index as reached.
"""

from __future__ import annotations

from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden" / "default"
UNREACHED = "could not be reached"  # app/planning.py's progress line for an index that did not answer


def default_dockerfile(name: str, stderr: str) -> str:
    golden = (GOLDEN / f"{name}.Dockerfile").read_text()
    if UNREACHED in stderr and "/etc/pip.conf" in golden:
        return "".join(line for line in golden.splitlines(keepends=True) if "/etc/pip.conf" not in line)
    return golden
