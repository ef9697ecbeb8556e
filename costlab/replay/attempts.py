"""One paid call, attempt by attempt: each attempt journaled before it is sent, retried as the SDK
would (but by costlab, so the budget, the journal and Ctrl-C see every retry), and what an error
answer means (ERROR_TYPES; ACCOUNT_ERRORS stop the run)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costlab.replay.budget import Slot
from costlab.replay.journal import Journal, Key
from costlab.replay.limiter import retry_after
from costlab.replay.providers import Api

ERROR_TYPES = {400: "invalid_request", 401: "authentication", 402: "billing", 403: "permission", 404: "not_found",
               408: "timeout", 409: "conflict", 413: "request_too_large", 429: "rate_limit", 500: "api_error",
               504: "timeout", 529: "overloaded"}
# Errors about the key or the account, not the request: every later call would get the same answer.
# They stop the run (status 'failed', resumable); the refused calls were not billed and are sent on resume.
ACCOUNT_ERRORS = ("authentication", "billing", "permission")


# Retries are costlab's, not the SDK's (every client's own are turned off: Api.of). An attempt the
# client gave up on (a timeout, a dropped connection) may have been answered, and billed, by the
# server: it is in doubt at the call's worst case, so the retry after it needs a worst case of its
# own, reserved against --max-usd before it is sent (Slot.more). Inside the SDK the retries were
# invisible to the budget, the journal and Ctrl-C; here each attempt is journaled, reserved and
# interruptible. The schedule is the SDK's: retry-after(-ms) when the server gives one, else 0.5 s
# doubled each retry up to 8 s, less up to a quarter of jitter.
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0


@dataclass
class Attempted:
    """What one paid call's attempts came to."""

    message: Any = None  # the Message, when an attempt was answered with one
    error: BaseException | None = None  # else the last attempt's error
    attempts: int = 0
    in_doubt: int = 0  # attempts sent and never answered: each may have been billed
    stopped: str | None = None  # why a retry the error called for was not made: "interrupted" or "budget"


def attempt(api: Api, args: dict[str, Any], key: Key, worst: Decimal | None, journal: Journal,
            slot: Slot) -> Attempted:
    """One paid call (messages.create(**args)), attempt by attempt, each journaled before it is sent.

    An error answer (not billed) or an attempt that never connected releases its journal line; one
    sent and never answered (a timeout, a dropped connection) stays open: in doubt. What the SDK would
    retry is retried (408, 409, 429, 5xx and 529 unless `x-should-retry` says otherwise; timeouts and
    connection errors), `api.retries` times at most, after the SDK's backoff. A retry after an
    attempt in doubt first reserves one more worst case (slot.more); none is made once the run is
    interrupted (Ctrl-C stops the backoff too) or when that reservation cannot fit the budget.
    """
    import anthropic  # heavy (hundreds of modules): loaded when a run sends, not when costlab starts

    out = Attempted()
    doubtful = False  # the last attempt is in doubt: its reservation is spent, a retry needs another
    while True:
        if out.attempts:
            if out.attempts > api.retries or not retryable(out.error):
                return out
            if slot.stopper.aborted.wait(retry_delay(out.error, out.attempts)):
                out.stopped = "interrupted"
                return out
            if doubtful and not slot.more(worst):
                out.stopped = "interrupted" if slot.stopper.aborted.is_set() else "budget"
                return out
        out.attempts += 1
        journal.started(key, worst)
        try:
            out.message, out.error = api.client.messages.create(**args), None
            return out
        except anthropic.APIStatusError as ex:  # answered with an error: not billed
            journal.unpaid(key)
            out.error, doubtful = ex, False
        except anthropic.APIConnectionError as ex:  # timeouts too
            out.error, doubtful = ex, type(ex.__cause__).__name__ not in ("ConnectError", "ConnectTimeout")
            if doubtful:
                out.in_doubt += 1
            else:
                journal.unpaid(key)  # it never connected: nothing was sent
        except anthropic.APIError as ex:  # answered (so maybe billed), but not a Message: in doubt, not retried
            out.error = ex
            out.in_doubt += 1
            return out
        except Exception as ex:  # refused locally (a logged body the SDK rejects): nothing was sent
            journal.unpaid(key)
            out.error = ex
            return out


def retryable(ex: BaseException | None) -> bool:
    """What the SDK retries: an error answer it would retry, or a failed connection."""
    import anthropic  # heavy: see attempt

    if isinstance(ex, anthropic.APIStatusError):
        flag = ex.response.headers.get("x-should-retry")
        if flag in ("true", "false"):
            return flag == "true"
        return ex.status_code in (408, 409, 429) or ex.status_code >= 500
    return isinstance(ex, anthropic.APIConnectionError)


def retry_delay(ex: BaseException | None, retries_taken: int) -> float:
    """Seconds before the next attempt: the server's retry-after, else the SDK's backoff with jitter."""
    response = getattr(ex, "response", None)
    wait = retry_after(response.headers) if response is not None else 0.0
    if wait > 0:
        return min(wait, 3600.0)
    return min(INITIAL_RETRY_DELAY * 2.0 ** (retries_taken - 1), MAX_RETRY_DELAY) * (1 - 0.25 * random.random())


def error_message(ex: Any) -> str:
    """The message of an API error body (its `error.message`), else the exception's text; 500 characters at most."""
    body = getattr(ex, "body", None)
    if isinstance(body, dict):
        err = body.get("error") if isinstance(body.get("error"), dict) else body
        return str(err.get("message", ""))[:500]
    return str(ex)[:500]
