"""Sending a run's replays: each job through the API, every result written as it arrives.

`send` hands the jobs (jobs.py) to the dispatcher (dispatch.py), through which every paid call of a
run goes, replays and judge calls alike: worker threads take the next item and call the API through
the SDK with its own retries off: costlab retries (attempts.py, `max_retries` times; each attempt
times out after `timeout_s`), appending each attempt to the run's journal (journal.py, a file beside
the store) before it is sent. The calling thread owns the store: it writes each result that arrived
(booking.py), one transaction per turn. So:

* a crash or kill loses no answer that was already written, and a call that the store has settled
  (a replays row other than 'not_sent', a judgement) is never made again;
* Ctrl-C or SIGTERM (interrupts.Stopper) stops new calls at once and waits for the calls in flight,
  writing them; a second one stops waiting. Only a kill -9 (or a second Ctrl-C) during a call leaves
  it journaled but unrecorded: resume books it in doubt (it may have been billed) at its worst case,
  once per attempt sent, counts that against --max-usd, and never makes it again;
* a 401, 402 or 403 is about the key or the account, not the request: the run stops, 'failed' and
  resumable, the refused calls unrecorded (not billed) so that resume with the right key sends them.

Concurrency (limiter.py) starts at `concurrency` and halves whenever the API answers 429 or 529 (seen
through an httpx event hook, even when the retry then succeeds), pausing new calls for the
`retry-after` the server gave; each `limit` successes in a row add one slot back, up to
`concurrency`. The budget (budget.py) reserves each call's worst case (prompt with a margin, every
max_tokens used) until its real cost is known, and one more before each retry after an attempt that
went unanswered (that one may have been billed), so spend never crosses --max-usd, on the server's
books. The budget counts the run's judge spend and its calls in doubt too (booked apart from the
replays): a resumed run starts from all three.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

from costlab.display import plural
from costlab.errors import ConfigError
from costlab.keys import redact
from costlab.replay.attempts import ACCOUNT_ERRORS, ERROR_TYPES, attempt, error_message
from costlab.replay.booking import mark_not_sent, write_results
from costlab.replay.budget import Budget, Slot, budget_spent, spent
from costlab.replay.dispatch import dispatch
from costlab.replay.interrupts import Stopper
from costlab.replay.jobs import Job
from costlab.replay.journal import Journal, journal_path, replay_key
from costlab.replay.limiter import Limiter
from costlab.replay.providers import Api, key_hint, sdk_arguments

if TYPE_CHECKING:
    from costlab.store import Store


@dataclass
class Outcome:
    """What a send produced."""

    sent: int = 0
    ok: int = 0
    errors: int = 0
    not_sent: int = 0
    in_doubt: int = 0
    spent_usd: Decimal = Decimal(0)  # replays
    judge_spent_usd: Decimal = Decimal(0)  # judge calls, booked apart (the budget counts both)
    interrupted: bool = False
    failed: str | None = None  # why the run stopped failed (the API refused the key): resume continues it
    throttled: int = 0
    peak_concurrency: int = 0
    min_concurrency: int = 0
    notes: list[str] = field(default_factory=list)


class AccountError(ConfigError):
    """The API refused the key or the account (401, 402, 403): the run stopped, failed and resumable.
    `outcome` is what the run did before it stopped."""

    def __init__(self, message: str, outcome: "Outcome | None" = None):
        super().__init__(message)
        self.outcome = outcome


def send(store: "Store", run: str, client: Any, jobs: list[Job], limiter: Limiter, max_usd: Decimal | None = None,
         on_progress: Callable[[int, Decimal], None] | None = None, stopper: Stopper | None = None,
         journal: Journal | None = None, platform: str = "anthropic") -> Outcome:
    """Send every job (bounded by the limiter and the budget); write the results as they arrive.

    Worker threads take jobs and call the API, journaling each attempt; this thread writes what arrived, one
    transaction per turn, so sending never waits for the store. A 401, 402 or 403 stops sending:
    the refused pairs are not recorded (not billed: resume sends them) and out.failed says why.
    """
    out = Outcome(peak_concurrency=limiter.maximum)
    own_journal = journal is None
    journal = journal if journal is not None else Journal(journal_path(store, run))
    budget = Budget(max_usd, budget_spent(store, run))
    replace = bool(store.scalar("select count(*) from replays where run = ? and status in ('not_sent', 'sending')", [run]))

    api = Api.of(client)

    def work(job: Job, slot: Slot) -> tuple:
        job.started_at = datetime.now(timezone.utc)
        result = call(api, job, journal, slot)
        if result is None:
            return ("released",)  # interrupted between attempts, nothing billed: resume sends it
        *row, unanswered = result
        if row[0] == "error" and row[10] in ACCOUNT_ERRORS:
            stopper_.abort()
            if not unanswered:  # refused before any work (released in the journal): not billed, resume sends it
                return ("refused", row)
        return ("row", row, job.worst_usd * unanswered if unanswered else None)

    def write(done: list) -> Decimal:
        rows = [(run, j.source, j.request_id, j.tier, *r[1], j.model, j.service_tier, j.started_at, j.platform, j.geo_class,
                 json.dumps(j.not_carried) if j.not_carried else None, r[2]) for j, _, r in done if r[0] == "row"]
        for _, _, r in done:
            if r[0] == "refused" and out.failed is None:
                out.failed = f"{r[1][11]}"
        with store.transaction():
            cost = write_results(store, rows, replace)
        for row in rows:
            out.ok += row[4] == "ok"
            out.errors += row[4] == "error"
        out.sent += len(rows)
        if on_progress:
            on_progress(len(rows), budget.spent + cost)
        return cost

    stopper_ = stopper or Stopper()
    with stopper_ if stopper is None else contextlib.nullcontext():
        try:
            result = dispatch([(j, j.worst_usd) for j in jobs], work, write, limiter, budget, stopper_)
        finally:
            if own_journal:
                journal.close()
    out.interrupted = stopper_.interrupted
    if out.failed is not None:
        out.failed = (f"the API refused the key ({out.failed}): check {key_hint(platform)}. Nothing was billed for the "
                      "refused calls; resume sends them once the key is right.")
    if result.budget_stop:
        mark_not_sent(store, run, result.left, "budget: sending it could cross --max-usd")
        out.not_sent = len(result.left)
        out.notes.append(f"stopped before the budget: {plural(len(result.left), 'request')} not sent (resume with a higher --max-usd)")
    out.spent_usd = spent(store, run)  # the replay spend (what the progress showed includes judging so far)
    out.throttled = limiter.throttles
    out.min_concurrency = limiter.lowest
    return out


def call(api: Api, job: Job, journal: Journal, slot: Slot) -> tuple | None:
    """One replay, attempt by attempt (attempts.attempt); a result row (booking.RESULT_COLUMNS without
    run and key) and then how many of its attempts are in doubt (sent, never answered: maybe billed).
    None when no attempt can have been billed and an interrupt stopped the retries: released, resume
    makes it."""
    import anthropic  # heavy (hundreds of modules): loaded when a run sends, not when costlab starts

    t0 = time.monotonic()
    got = attempt(api, sdk_arguments(api.client, job.body), replay_key(job), job.worst_usd, journal, slot)
    ex, n = got.error, got.in_doubt
    if ex is not None and got.stopped and not n:
        return None
    said = [f"after {got.attempts} attempts"] if got.attempts > 1 else []
    if got.stopped:
        said.append("not retried: " + ("interrupted" if got.stopped == "interrupted" else "a retry could cross --max-usd"))
    after = f" ({'; '.join(said)})" if said else ""
    if isinstance(ex, anthropic.APIStatusError):
        kind = ERROR_TYPES.get(ex.status_code, "api_error" if ex.status_code >= 500 else "invalid_request")
        return _error(t0, kind, f"HTTP {ex.status_code}: {error_message(ex)}", getattr(ex, "request_id", None), n)
    if isinstance(ex, anthropic.APITimeoutError):
        return _error(t0, "timeout", f"the request timed out{after}", None, n)
    if isinstance(ex, anthropic.APIConnectionError):
        return _error(t0, "connection", f"connection failed{after}: {type(ex.__cause__ or ex).__name__}", None, n)
    if isinstance(ex, anthropic.APIError):  # answered (so maybe billed), but not a Message: in doubt
        return _error(t0, "invalid_response", "the API's answer was not a valid Message", None, n)
    if ex is not None:  # a bad logged body the SDK refuses locally, say; recorded, never fatal
        return _error(t0, "client_error", redact(f"{type(ex).__name__}: {ex}")[:500], None, n)
    msg = got.message
    u = msg.usage
    cc = getattr(u, "cache_creation", None)
    w5 = getattr(cc, "ephemeral_5m_input_tokens", None) if cc else None
    w1h = getattr(cc, "ephemeral_1h_input_tokens", None) if cc else None
    if w5 is None and w1h is None:
        w5, w1h = u.cache_creation_input_tokens or 0, 0
    text = "".join(getattr(b, "text", "") for b in msg.content if getattr(b, "type", "") == "text")
    return ("ok", datetime.now(timezone.utc), (time.monotonic() - t0) * 1000, u.input_tokens, u.output_tokens,
            u.cache_read_input_tokens or 0, w5 or 0, w1h or 0, msg.stop_reason, text, None, None,
            getattr(msg, "_request_id", None) or msg.id,  # Bedrock has no request-id header: the message id
            n)


def _error(t0: float, kind: str, message: str, rid: str | None, unanswered: int = 0) -> tuple:
    return ("error", datetime.now(timezone.utc), (time.monotonic() - t0) * 1000, 0, 0, 0, 0, 0, None, None,
            kind, message, rid, unanswered)
