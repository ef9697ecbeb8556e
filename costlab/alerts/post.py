"""One JSON POST to a webhook, with a per-request timeout and retries with exponential back-off.

Retried: a timeout, a connection error, HTTP 429 and 5xx (waits backoff_s, 2 x backoff_s, 4 x ...;
a 429's or 503's Retry-After is honoured when it is longer, up to MAX_WAIT_S). Not retried: any other
4xx (a revoked or mistyped webhook will not start working) and redirects (never followed: a webhook
that redirects is misconfigured, and following one would send the body somewhere else).

Nothing here prints or raises anything that holds the URL: a failure is a `Failed` with a reason
made from the status code, the exception's kind and the server's first words (visible, cut short).
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable

from costlab.display import visible

MAX_WAIT_S = 60.0


class Failed(Exception):
    """The destination did not take the message; `reason` never holds the URL."""

    def __init__(self, reason: str, attempts: int):
        super().__init__(reason)
        self.reason, self.attempts = reason, attempts


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 3xx is an HTTPError, not a second request
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


@dataclass(frozen=True)
class Delivered:
    status: int
    attempts: int


def post_json(url: str, body: bytes, *, timeout: float, retries: int, backoff: float,
              sleep: Callable[[float], None] = time.sleep) -> Delivered:
    """POST `body` (JSON) to `url`: Delivered, or Failed after 1 + `retries` attempts."""
    reason = "not sent"
    for attempt in range(1, retries + 2):
        wait = backoff * 2 ** (attempt - 1)
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8",
                                                  "User-Agent": "costlab-alert"})
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                response.read(4096)
                return Delivered(response.status, attempt)
        except urllib.error.HTTPError as ex:
            said = _first_words(ex)
            reason = f"HTTP {ex.code}" + (f": {said}" if said else "")
            if not (ex.code == 429 or ex.code >= 500):
                raise Failed(reason, attempt) from None
            wait = max(wait, min(_retry_after(ex), MAX_WAIT_S))
        except (TimeoutError, socket.timeout):
            reason = f"no answer within {timeout:g} s (timeout)"
        except urllib.error.URLError as ex:
            if isinstance(ex.reason, (TimeoutError, socket.timeout)):
                reason = f"no answer within {timeout:g} s (timeout)"
            else:
                reason = f"could not connect ({_kind(ex.reason)})"
        except (ConnectionError, OSError) as ex:  # reset mid-answer, a refused connection outside URLError
            reason = f"connection failed ({_kind(ex)})"
        if attempt <= retries:
            sleep(wait)
    raise Failed(reason, retries + 1)


def _kind(reason: object) -> str:
    """An exception's kind and OS message, without any address it may carry."""
    if isinstance(reason, OSError) and reason.strerror:
        return visible(reason.strerror)
    return type(reason).__name__ if isinstance(reason, BaseException) else "network error"


def _first_words(ex: urllib.error.HTTPError) -> str:
    try:
        text = ex.read(200).decode("utf-8", "replace")
    except Exception:  # the body is a courtesy
        return ""
    text = visible(" ".join(text.split()))
    return text[:120]


def _retry_after(ex: urllib.error.HTTPError) -> float:
    try:
        return float(ex.headers.get("Retry-After", 0) or 0)
    except (TypeError, ValueError):
        return 0.0
