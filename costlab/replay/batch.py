"""--batch: the run's missing pairs through the Message Batches API (half price).

The batch and its custom_id -> (request, tier) map are written to replay_batches in the same
transaction as the 'sending' rows, right after the create call returns; a resumed run finds the
batch there and polls it instead of creating (and paying for) another one. Results arrive as JSONL
in any order and are matched by custom_id; errored, canceled and expired rows are recorded as
errors with that type (canceled and expired rows were not billed and may be re-sent by a later run).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

from costlab.display import plural
from costlab.replay.attempts import retry_delay, retryable
from costlab.replay.booking import mark_not_sent, write_results
from costlab.replay.budget import budget_spent, spent
from costlab.replay.interrupts import Stopper
from costlab.replay.jobs import load_jobs
from costlab.replay.providers import Api
from costlab.replay.send import Outcome

if TYPE_CHECKING:
    from costlab.store import Store

MAX_BATCH = 100_000


def send_batch(store: "Store", run: str, client: Any, max_usd: Decimal | None = None, poll_interval: float = 10.0,
               on_progress: Callable[[int, Decimal], None] | None = None, stopper: Stopper | None = None) -> Outcome:
    """Send the run's missing pairs in Message Batches (within --max-usd: a batch cannot be stopped
    once created) and collect every batch of the run still in flight."""
    out = Outcome()
    stopper = stopper or Stopper()
    jobs = load_jobs(store, run, service_tier="batch")
    if max_usd is not None:
        # A batch is all or nothing once created: keep only as many pairs as the worst case allows.
        room, kept = max_usd - budget_spent(store, run), []
        for job in jobs:
            if job.worst_usd > room:
                break
            room -= job.worst_usd
            kept.append(job)
        left_out = jobs[len(kept):]
        jobs = kept
    else:
        left_out = []
    for start in range(0, len(jobs), MAX_BATCH):
        if stopper.aborted.is_set():
            break  # the pairs of the later batches stay unsent: resume sends them
        chunk = jobs[start:start + MAX_BATCH]
        ids = {f"r{start + i}": job for i, job in enumerate(chunk)}
        now = datetime.now(timezone.utc)
        # 'sending' rows first, each at its worst case until collected: a kill between them and the batch
        # id leaves the pairs in doubt (counted against the budget), never re-sent.
        with store.transaction():
            store.execute("delete from replays where run = ? and status = 'not_sent'", [run])
            store.insert_rows("replays", ("run", "source", "request_id", "tier", "model", "status", "started_at",
                                          "not_carried", "service_tier", "error_message", "platform", "geo_class",
                                          "in_doubt_usd"),
                              [(run, j.source, j.request_id, j.tier, j.model, "sending", now,
                                json.dumps(j.not_carried) if j.not_carried else None, "batch",
                                "in a Message Batch not yet collected", j.platform, j.geo_class, j.worst_usd) for j in chunk])
        batch = _create(store, run, client, chunk, [{"custom_id": cid, "params": job.body} for cid, job in ids.items()],
                        stopper)
        with store.transaction():
            store.insert_rows("replay_batches", ("run", "batch_id", "custom_id", "source", "request_id", "tier", "created_at"),
                              [(run, batch.id, cid, j.source, j.request_id, j.tier, now) for cid, j in ids.items()])
        out.sent += len(chunk)
    if left_out:
        mark_not_sent(store, run, left_out, "budget: sending it could cross --max-usd")
        out.not_sent = len(left_out)
        out.notes.append(f"{plural(out.not_sent, 'request')} left out of the batch to stay within --max-usd")
    # Collect every batch of the run that still has rows in flight (this one, or one a killed run created).
    for (batch_id,) in store.rows(
            """select distinct b.batch_id from replay_batches b join replays x on x.run = b.run and x.source = b.source
               and x.request_id = b.request_id and x.tier = b.tier where b.run = ? and x.status = 'sending'""", [run]):
        if not _collect(store, run, client, batch_id, poll_interval, out, on_progress, stopper):
            break
    out.interrupted = stopper.interrupted
    out.spent_usd = spent(store, run)
    return out


def _create(store: "Store", run: str, client: Any, chunk: list, requests: list[dict], stopper: Stopper) -> Any:
    """One batch, created at most once. The SDK's own retries are off here: a create that timed out
    may have made (and will bill) a batch, and a retry would make a second one. So an attempt the
    server never answered leaves the chunk's 'sending' rows in doubt (counted at their worst case,
    never re-sent) and raises; an error answer made no batch, so it is retried as the SDK would
    (429, 5xx, 529), and when retries run out the rows are put back for resume to send."""
    import anthropic  # heavy (hundreds of modules): loaded when a run sends, not when costlab starts

    api = Api.of(client)
    tries = 0
    while True:
        tries += 1
        try:
            return api.client.messages.batches.create(requests=requests)
        except anthropic.APIStatusError as ex:  # answered: no batch was made
            if tries > api.retries or not retryable(ex) or stopper.aborted.wait(retry_delay(ex, tries)):
                _put_back(store, run, chunk)
                raise
        except anthropic.APIConnectionError as ex:
            if type(ex.__cause__).__name__ in ("ConnectError", "ConnectTimeout"):  # never sent
                _put_back(store, run, chunk)
            raise  # else sent and never answered: the rows stay 'sending', in doubt


def _put_back(store: "Store", run: str, chunk: list) -> None:
    """The chunk's 'sending' rows deleted: no batch holds them, so resume sends them."""
    with store.transaction():
        for j in chunk:
            store.execute("delete from replays where run = ? and source = ? and request_id = ? and tier = ? "
                          "and status = 'sending'", [run, j.source, j.request_id, j.tier])


def _collect(store: "Store", run: str, client: Any, batch_id: str, poll_interval: float, out: Outcome,
             on_progress: Callable[[int, Decimal], None] | None, stopper: Stopper) -> bool:
    """Wait for the batch to end and write its results; False when an interrupt stopped the wait."""
    while client.messages.batches.retrieve(batch_id).processing_status != "ended":
        if stopper.aborted.wait(poll_interval):
            out.notes.append(f"stopped waiting for {batch_id}: `costlab replay resume {run}` collects it")
            return False
    keys = {cid: (s, rid, tier) for cid, s, rid, tier in store.rows(
        "select custom_id, source, request_id, tier from replay_batches where run = ? and batch_id = ?", [run, batch_id])}
    # Batches exist on the Claude API only (plan refuses --batch elsewhere): priced as anthropic at the
    # geo class the 'sending' row recorded (us for a body with inference_geo "us"; global before m005).
    priced_by = {(s, rid, tier): (model, stier or "batch", started, "anthropic", geo or "global", nc)
                 for s, rid, tier, model, stier, started, geo, nc in store.rows(
        "select source, request_id, tier, model, service_tier, started_at, geo_class, not_carried::VARCHAR from replays "
        "where run = ?", [run])}
    rows = []
    created = store.scalar("select min(created_at) from replay_batches where batch_id = ?", [batch_id])
    for item in client.messages.batches.results(batch_id):
        key = keys.get(item.custom_id)
        if key is None:
            continue
        r = item.result
        now = datetime.now(timezone.utc)
        latency = (now - created).total_seconds() * 1000 if created else None
        if r.type == "succeeded":
            m, u = r.message, r.message.usage
            cc = getattr(u, "cache_creation", None)
            text = "".join(getattr(b, "text", "") for b in m.content if getattr(b, "type", "") == "text")
            rows.append((run, *key, "ok", now, latency, u.input_tokens, u.output_tokens, u.cache_read_input_tokens or 0,
                         getattr(cc, "ephemeral_5m_input_tokens", 0) or 0 if cc else u.cache_creation_input_tokens or 0,
                         getattr(cc, "ephemeral_1h_input_tokens", 0) or 0 if cc else 0,
                         m.stop_reason, text, None, None, m.id, *priced_by[key], None))
            out.ok += 1
        else:
            message = {"canceled": "the batch was canceled before this request ran (not billed)",
                       "expired": "the batch expired before this request ran (not billed)"}.get(r.type)
            if r.type == "errored":
                err = getattr(getattr(r, "error", None), "error", None)
                message = f"{getattr(err, 'type', 'error')}: {getattr(err, 'message', '')}"[:500]
            rows.append((run, *key, "error", now, latency, 0, 0, 0, 0, 0, None, None, r.type, message, None, *priced_by[key],
                         None))
            out.errors += 1
    with store.transaction():
        write_results(store, rows)
    if on_progress:
        on_progress(len(rows), spent(store, run))
    return True
