"""Does a package index answer from here? Asked once per run, before planning (plan/raspios.py decides what
follows from the answer).

piwheels cannot be reached from every machine (ours: no DNS for it); a cell whose pip.conf names an index that
never answers would spend pip's retries on it (5 by default, with back-off) and give PyPI's answer anyway. So
the index is tried once here, briefly, and an unreachable one is left out of the build and named in the result.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterable

TIMEOUT_S = 5.0


def unreached(urls: Iterable[str], *, timeout: float = TIMEOUT_S) -> dict[str, str]:
    """URL -> why it did not answer, for each of `urls` that did not; an index that answers at all (any HTTP
    status, a 404 too: the server is there) is reached."""
    found: dict[str, str] = {}
    for url in urls:
        why = _try(url, timeout=timeout)
        if why is not None:
            found[url] = why
    return found


def _try(url: str, *, timeout: float) -> str | None:
    # numpy's project page, not the root: piwheels' root index lists every project (tens of megabytes).
    request = urllib.request.Request(url.rstrip("/") + "/numpy/", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None
    except urllib.error.URLError as exc:
        return _reason(exc.reason)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as exc:
        return _reason(exc)


def _reason(reason: object) -> str:
    if isinstance(reason, socket.gaierror):
        return f"DNS: {reason.strerror or reason}"
    if isinstance(reason, TimeoutError | socket.timeout):
        return "no answer in time"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)
