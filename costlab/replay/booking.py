"""Booking replays: answered (and failed) calls written to `replays`, priced from price_card as
they are written; pairs the budget left unsent recorded as 'not_sent'."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from costlab.replay.jobs import Job

if TYPE_CHECKING:
    from costlab.store import Store

RESULT_COLUMNS = (
    "run", "source", "request_id", "tier", "status", "finished_at", "latency_ms", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "stop_reason", "response_text",
    "error_type", "error_message", "provider_request_id",
)

_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMPTZ", "DOUBLE", "BIGINT", "BIGINT", "BIGINT",
          "BIGINT", "BIGINT", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR")
# The cost of each incoming result row, joined to price_card like costed_requests (a join, not a
# per-row lookup, which was several times slower). Each part rounded to the nano-dollar, then summed
# (costlab_card_cost_usd); NULL when unpriced. Replays make no web searches.
_COST = """
    select i.*, case when i.status <> 'ok' then 0 else
        costlab_card_cost_usd(i.input_tokens, i.output_tokens, i.cache_write_5m_tokens, i.cache_write_1h_tokens,
                              i.cache_read_tokens, 0, c.input_fusd, c.output_fusd, c.cache_write_5m_fusd,
                              c.cache_write_1h_fusd, c.cache_read_fusd, 0) end as cost
    from (select *, costlab_prompt_tokens(input_tokens, cache_read_tokens, cache_write_5m_tokens,
                                          cache_write_1h_tokens) as prompt_tokens
          from ({incoming})) i
    left join price_card c
      on c.model = i.model and c.speed = 'standard' and c.platform = i.platform and c.service_tier = i.service_tier
     and c.geo_class = i.geo_class and i.started_at >= c.seg_from and (c.seg_to is null or i.started_at < c.seg_to)
     and i.prompt_tokens >= c.band_min_tokens and (c.band_max_tokens is null or i.prompt_tokens < c.band_max_tokens)
"""


def write_results(store: "Store", rows: list[tuple], replace: bool = True) -> Decimal:
    """Insert these results into replays, priced from price_card; return what they cost.

    Each row is RESULT_COLUMNS then model, service_tier, started_at, platform, geo_class (what it is
    priced by), not_carried and in_doubt_usd (attempts that may have been billed unseen, at their worst
    case; None for none). What it returns counts both, as the budget does. With `replace`, a 'not_sent'
    or 'sending' row of the same pair is replaced (skip it when the run has none: it is a statement
    less per write). Call inside a transaction.
    """
    if len(rows) > 500:
        return sum((write_results(store, rows[i:i + 500], replace) for i in range(0, len(rows), 500)), Decimal(0))
    if not rows:
        return Decimal(0)
    types = _TYPES + ("VARCHAR", "VARCHAR", "TIMESTAMPTZ", "VARCHAR", "VARCHAR", "VARCHAR", "DECIMAL(18,9)")
    columns = RESULT_COLUMNS + ("model", "service_tier", "started_at", "platform", "geo_class", "not_carried",
                                "in_doubt_usd")
    rows = [r[:len(columns) - 1] + (None if r[len(columns) - 1] is None else str(r[len(columns) - 1]),) for r in rows]
    payload = json.dumps([{c: (v.isoformat() if isinstance(v, datetime) else v) for c, v in zip(columns, r)} for r in rows])
    shape = json.dumps({c: t for c, t in zip(columns, types)})
    incoming = f"select unnest(json_transform(?::JSON, '[{shape}]'), recursive := true)"
    keys = f"select run, source, request_id, tier from ({incoming})"
    if replace:
        store.execute(f"""delete from replays r using ({keys}) k where r.run = k.run and r.source = k.source
                          and r.request_id = k.request_id and r.tier = k.tier and r.status in ('not_sent', 'sending')""",
                      [payload])
    costs = store.rows(
        f"""insert into replays (run, source, request_id, tier, model, status, started_at, finished_at, latency_ms,
                input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost_usd,
                stop_reason, response_text, error_type, error_message, not_carried, provider_request_id, service_tier,
                platform, geo_class, in_doubt_usd)
            select run, source, request_id, tier, model, status, started_at, finished_at, latency_ms,
                   input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost,
                   stop_reason, response_text, error_type, error_message, not_carried::JSON, provider_request_id, service_tier,
                   platform, geo_class, in_doubt_usd
            from ({_COST.format(incoming=incoming)})
            returning coalesce(cost_usd, 0) + coalesce(in_doubt_usd, 0)""",
        [payload])
    return sum((c for (c,) in costs), Decimal(0))


def mark_not_sent(store: "Store", run: str, jobs: list[Job], why: str) -> None:
    """The jobs left unsent (the budget stopped them) as 'not_sent' rows saying `why`; resume sends them."""
    present = {tuple(r) for r in store.rows("select source, request_id, tier from replays where run = ?", [run])}
    with store.transaction():
        store.insert_rows("replays", ("run", "source", "request_id", "tier", "model", "status", "error_message",
                                      "not_carried", "cost_usd", "platform", "geo_class"),
                          [(run, j.source, j.request_id, j.tier, j.model, "not_sent", why,
                            json.dumps(j.not_carried) if j.not_carried else None, 0, j.platform, j.geo_class) for j in jobs
                           if (j.source, j.request_id, j.tier) not in present])
