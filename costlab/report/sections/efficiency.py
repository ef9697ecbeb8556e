"""Efficiency: prompt caching (hit rate, what reads saved, what writes cost on top) and the Message
Batches API (what batch saved, what moving batch-eligible traffic would save).
"""

from __future__ import annotations

import polars as pl

from costlab.report.context import ReportContext
from costlab.report.document import USD, column, frame_table, metric, ratio
from costlab.report.sections.base import Section
from costlab.report.sections.cube import cube, period, totals


def build(ctx: ReportContext) -> dict:
    detail = cube(ctx)
    tokens = (totals(detail, ["period"])
              .with_columns((pl.col("cache_read_tokens") /
                             (pl.col("input_tokens") + pl.col("cache_read_tokens") + pl.col("cache_write_tokens"))).alias("hit")))
    hit = {r["period"]: r["hit"] for r in tokens.to_dicts()}
    cache = _cache(period(detail, "current"))
    cache_tot, cache_prev = _cache_totals(cache), _cache_totals(_cache(period(detail, "previous")))
    batch = ctx.current("report/batch_savings")
    bt, bp = _batch_totals(batch), _batch_totals(ctx.previous("report/batch_savings"))

    had_previous = bool(cache_prev["requests"])

    def both(fn, money: bool = False):
        """This period's figure and the previous period's (None when the previous period had no requests)."""
        cur, prev = fn(cache_tot, bt), (fn(cache_prev, bp) if had_previous else None)
        if money:  # no saving is $0 saved (as before), but only for a period with requests
            cur, prev = cur or 0, ((prev or 0) if had_previous else None)
        return cur, prev

    metrics = [
        metric("cache_hit_rate", "Prompt tokens read from cache", "ratio", hit.get("current"), hit.get("previous")),
        metric("cache_hit_request_share", "Requests with a cache hit", "ratio",
               *both(lambda c, b: ratio(c["cache_hit_requests"], c["requests"]))),
        metric("cache_read_savings_usd", "Cache reads saved", "usd", *both(lambda c, b: c["read_savings_usd"], True)),
        metric("cache_write_premium_usd", "Cache writes cost extra", "usd", *both(lambda c, b: c["write_premium_usd"], True)),
        metric("cache_net_savings_usd", "Caching saved (net)", "usd", *both(lambda c, b: c["net_savings_usd"], True)),
        metric("batch_request_share", "Requests sent through batch", "ratio",
               *both(lambda c, b: ratio(b["batch_requests"], b["requests"]))),
        metric("batch_spend_share", "Spend through batch", "ratio", *both(lambda c, b: ratio(b["batch_cost_usd"], b["cost_usd"]))),
        metric("batch_saved_usd", "Batch saved", "usd", *both(lambda c, b: b["batch_saved_usd"], True)),
        metric("batch_move_requests", "Batch-eligible requests not batched", "count", *both(lambda c, b: b["movable_requests"])),
        metric("batch_move_savings_usd", "Moving them to batch would save", "usd", *both(lambda c, b: b["move_savings_usd"], True)),
    ]
    cache_cols = [column("model", "model", "text"), column("tier", "tier", "text"), column("requests", "requests", "count"),
                  column("hit_share", "hit requests", "ratio"), column("cache_read_tokens", "read tokens", "count"),
                  column("read_savings_usd", "reads saved", "usd"), column("write_premium_usd", "write premium", "usd"),
                  column("net_savings_usd", "net saved", "usd")]
    cache_rows = cache.with_columns((pl.col("cache_hit_requests") / pl.col("requests")).alias("hit_share"))
    batch_cols = [column("feature", "feature", "text"), column("requests", "requests", "count"),
                  column("batch_share", "batched", "ratio"), column("batch_saved_usd", "batch saved", "usd"),
                  column("movable_requests", "not batched", "count"), column("move_savings_usd", "would save", "usd")]
    batch_rows = (batch.filter(pl.col("batch_eligible"))
                       .with_columns((pl.col("batch_requests") / pl.col("requests")).alias("batch_share"))
                       .sort(["move_savings_usd", "feature"], descending=[True, False]))
    notes = ["Cache savings: reads at the cache rate against the same tokens at the request's input rate, "
             "less what writes cost above it (queries/cache_savings.sql).",
             "Batch-eligible: features that sent some of their traffic through the Message Batches API this period; "
             "their other ok requests would cost the batch price (queries/report/batch_savings.sql)."]
    tables = [frame_table("cache_by_model", "Prompt caching by model", cache_cols, cache_rows)]
    if batch_rows.height:
        tables.append(frame_table("batch_by_feature", "Batch by feature (batch-eligible features)", batch_cols, batch_rows))
    return {"notes": notes, "metrics": metrics, "tables": tables}


def _cache(frame: pl.DataFrame) -> pl.DataFrame:
    """As queries/cache_savings.sql: per model, what reads saved and what writes cost on top, net."""
    return (totals(frame, ["model", "tier"])
            .with_columns((pl.col("cache_read_at_input_usd") - pl.col("cache_read_usd")).cast(USD).alias("read_savings_usd"),
                          (pl.col("cache_write_usd") - pl.col("cache_write_at_input_usd")).cast(USD).alias("write_premium_usd"))
            .with_columns((pl.col("read_savings_usd") - pl.col("write_premium_usd")).cast(USD).alias("net_savings_usd"))
            .sort(["net_savings_usd", "requests", "model"], descending=[True, True, False], nulls_last=True))


def _cache_totals(cache: pl.DataFrame) -> dict:
    return cache.select(pl.col("requests").sum(), pl.col("cache_hit_requests").sum(),
                        *(pl.col(c).cast(USD).sum() for c in ("read_savings_usd", "write_premium_usd", "net_savings_usd"))
                        ).row(0, named=True)


def _batch_totals(batch: pl.DataFrame) -> dict:
    return batch.select(pl.col("requests").sum(), pl.col("batch_requests").sum(), pl.col("movable_requests").sum(),
                        *(pl.col(c).cast(USD).sum() for c in ("cost_usd", "batch_cost_usd", "batch_saved_usd",
                                                              "movable_cost_usd", "move_savings_usd"))).row(0, named=True)


SECTION = Section("efficiency", "Efficiency", build)
