"""Validators for every value that can reach a Dockerfile template or a command line.

Each returns the normalised value or raises ValueError with a message that says what is allowed.
They are deliberately stricter than the formats they check: a value a template interpolates must not
be able to carry shell or Dockerfile syntax (quotes, `$`, newlines, `&&`, backslashes).
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from npmatrix.text import redact

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_SPEC_CHARS = re.compile(r"[0-9A-Za-z.*,<>=!~+ ]+")
_REQ_CHARS = re.compile(r"[A-Za-z0-9._\-\[\],<>=!~*+ ]+")
# No trailing '-': apt-get reads "name-" as "remove name".
_APT_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]*[a-z0-9+](=[A-Za-z0-9.+:~-]+)?")
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+-]*)?")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_IMAGE_BY_DIGEST = re.compile(r"[a-z0-9][a-z0-9./_-]*(:[A-Za-z0-9_.-]+)?@sha256:[0-9a-f]{64}")
# A model as QEMU_CPU takes it: a name, then for x86 optional CPUID flag changes ("Nehalem,-sse4.2,-popcnt").
_QEMU_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_QEMU_FLAG_CHANGE = re.compile(r"([+-])([a-z0-9][a-z0-9_.-]{0,63})")


def cell_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid cell name (lowercase letters, digits, '.', '_', '-'; max 63)")
    return value


def version_spec(value: str) -> str:
    """A PEP 440 specifier such as '==2.3.5' or '>=1.26,<2'; a bare version means '=='."""
    value = value.strip()
    if value and value[0].isdigit():
        value = f"=={value}"
    # An empty clause (",", "==2.3.5,") parses as a SpecifierSet but renders `numpy,`: pip fails after a build.
    if not _SPEC_CHARS.fullmatch(value) or any(not clause.strip() for clause in value.split(",")):
        raise ValueError(f"{value!r} is not a version specifier such as '==2.3.5' or '>=1.26,<2'")
    try:
        SpecifierSet(value)
    except InvalidSpecifier as exc:
        raise ValueError(f"{value!r} is not a version specifier such as '==2.3.5' or '>=1.26,<2'") from exc
    return value.replace(" ", "")


def requirement(value: str) -> str:
    """A pip requirement like 'pandas==1.5.3'. Markers and URLs are refused: they need quotes or '@'."""
    if not _REQ_CHARS.fullmatch(value):
        raise ValueError(f"{value!r} is not a plain requirement such as 'pandas==1.5.3' (no markers, URLs or quotes)")
    try:
        return str(Requirement(value))
    except InvalidRequirement as exc:
        raise ValueError(f"{value!r} is not a valid requirement: {exc}") from exc


def apt_package(value: str) -> str:
    if not _APT_PACKAGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a Debian package name (optionally name=version)")
    return value


MAX_URL = 1000  # results.json keeps URLs (not_asked.url, at most 2000 in its schema): a longer one is no index


def index_url(value: str) -> str:
    """An http(s) index URL without credentials: secrets belong in the host's pip config, not a matrix."""
    if len(value) > MAX_URL:
        raise ValueError(f"is {len(value)} characters long; an index URL has at most {MAX_URL}")
    if "@" in value or not _URL.fullmatch(value):
        # The message must not echo a password into a CI log: the value is shown redacted.
        raise ValueError(f"{redact(value)!r} is not a plain http(s) URL without credentials")
    return value


def qemu_cpu(value: str) -> str:
    """A QEMU_CPU value by its syntax alone; whether this machine's QEMU knows the model is a preflight check
    (host/qemucpu.check_model), made before a run, not while a matrix file is read."""
    name, *changes = value.split(",")
    if not _QEMU_MODEL.fullmatch(name) or not all(_QEMU_FLAG_CHANGE.fullmatch(c) for c in changes):
        raise ValueError(
            f"{value!r} is not a QEMU CPU model: a name such as 'cortex-a53', for x86 optionally with flag changes "
            "('Nehalem,-sse4.2,-popcnt')"
        )
    return value


def module_name(value: str) -> str:
    if not _MODULE.fullmatch(value):
        raise ValueError(f"{value!r} is not a dotted Python module name")
    return value


def image_by_digest(value: str) -> str:
    if not _IMAGE_BY_DIGEST.fullmatch(value):
        raise ValueError(f"{value!r} is not an image pinned by digest (name@sha256:<64 hex>)")
    return value


_MEMORY = re.compile(r"([1-9][0-9]{0,5})([mg])")


def memory_limit(value: str) -> str:
    """A container memory limit such as '512m' or '2g': at least 6m (Docker's minimum), at most 256g."""
    found = _MEMORY.fullmatch(value)
    megabytes = int(found.group(1)) * (1024 if found.group(2) == "g" else 1) if found else 0
    if not found or not 6 <= megabytes <= 256 * 1024:
        raise ValueError(f"{value!r} is not a memory limit between 6m and 256g, such as '512m' or '2g'")
    return value


def plain_text(value: str) -> str:
    """Free text shown in terminals and reports (a note, a source): one line, no control characters, so it
    cannot move the cursor, set a window title or forge a second line of output."""
    bad = next((c for c in value if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0), None)
    if bad is not None:
        raise ValueError(f"contains the control character U+{ord(bad):04X}; use plain text on one line")
    if len(value) > 500:
        raise ValueError(f"is {len(value)} characters long; keep it under 500")
    return value
