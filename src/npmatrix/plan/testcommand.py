"""The test command's container call, defined once: its argv, its environment, and the marker behind which
the pytest junit file comes back on stdout (the container is read-only and removed after the call, so the host
reads the file from the output, not from the container). judge/tests.py reads what this writes.
"""

from __future__ import annotations

from npmatrix.config import project

WORK_DIR = "/tmp/npmatrix-tests"  # a fresh folder on the container's tmpfs: the command's working directory
JUNIT_PATH = "/tmp/npmatrix-junit.xml"
JUNIT_MARKER = "NPMATRIX-JUNIT-XML"
TMPFS_SIZE = "512m"  # tests write more than the probe does (pytest's tmp_path, caches); counts against memory
# The wrapper runs the user's command as `sh -c "$1"`, its own argument: the command is never pasted into
# the wrapper's text, so no quoting of it can go wrong. The command's exit status is the wrapper's.
_WRAPPER = (
    f'mkdir -p {WORK_DIR} && cd {WORK_DIR} || exit 125; sh -c "$1"; status=$?; '
    f'if [ -f {JUNIT_PATH} ]; then printf "\\n%s\\n" "{JUNIT_MARKER}"; cat {JUNIT_PATH}; fi; exit $status'
)


def argv(command: str) -> list[str]:
    """`sh -c WRAPPER npmatrix-tests COMMAND`, with {project} in COMMAND replaced by the project's copy."""
    return ["sh", "-c", _WRAPPER, "npmatrix-tests", project.expand(command)]


def environment() -> dict[str, str]:
    """pytest, wherever the command starts it, writes its junit file where the wrapper looks (PYTEST_ADDOPTS
    reaches every pytest run, so the command is not rewritten), and no cache into the read-only project;
    a fatal signal in Python prints the stack (faulthandler), so a SIGILL names the module it hit."""
    return {
        "PYTEST_ADDOPTS": f"--junitxml={JUNIT_PATH} -p no:cacheprovider",
        "PYTHONFAULTHANDLER": "1",
    }
