"""Does a package index answer from here? Asked once per run, before planning (plan/raspios.py decides what
follows from the answer).

piwheels cannot be reached from every machine (ours: no DNS for it); a cell whose pip.conf names an index that
never answers would spend pip's retries on it (5 by default, with back-off) and give PyPI's answer anyway. So
the index is tried once here, briefly, and an unreachable one is left out of the build and named in the result.
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable

from npmatrix import text

TIMEOUT_S = 5.0
MAX_WHY = 200  # a server's words reach the results and every report: a line, not a page


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer: the server is there. Following it would blame this URL for another one's silence."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def unreached(urls: Iterable[str], *, timeout: float = TIMEOUT_S) -> dict[str, str]:
    """URL -> why it did not answer, for each of `urls` that did not. An index that answers below 500 (a 404
    or a redirect too: the server is there) is reached; a 5xx is not, as pip would only retry it."""
    found: dict[str, str] = {}
    for url in urls:
        why = _within(url, timeout=timeout)
        if why is not None:
            found[url] = text.shorten(text.one_line(why), MAX_WHY)
    return found


def _within(url: str, *, timeout: float) -> str | None:
    """`_try` with a deadline for the whole exchange: the socket's timeout holds per read, and a server that
    sends a byte a second would hold a run up for as long as it likes."""
    answer: list[str | None] = []
    worker = threading.Thread(target=lambda: answer.append(_try(url, timeout=timeout)), daemon=True)
    worker.start()
    worker.join(timeout * 2)
    return answer[0] if answer else f"no answer within {timeout * 2:g} s"


def _try(url: str, *, timeout: float) -> str | None:
    # numpy's project page, not the root: piwheels' root index lists every project (tens of megabytes).
    request = urllib.request.Request(url.rstrip("/") + "/numpy/", method="HEAD")
    try:
        with _OPENER.open(request, timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}" if exc.code >= 500 else None
    except urllib.error.URLError as exc:
        return _reason(exc.reason)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except (OSError, http.client.HTTPException, ValueError) as exc:  # a malformed answer is no answer
        return _reason(exc)


def _reason(reason: object) -> str:
    if isinstance(reason, socket.gaierror):
        return f"DNS: {reason.strerror or reason}"
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return f"{type(reason).__name__}: {reason}" if isinstance(reason, Exception) else str(reason)
