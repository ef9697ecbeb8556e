"""The cube the report's own sections add up from, and the reshaping they share.

Spend, tier mix, efficiency, error rates, the headline and the day-by-day trend all add up from one
small cube (queries/report/cube.sql: one scan of the priced window, summed per day, tier, model,
feature, error class and priced, plus per customer), reshaped with polars; distinct users and
customers (report/activity.sql), spend by customer (report/spend_by_customer.sql), latency
percentiles (report/latency.sql) and batch savings (report/batch_savings.sql, which rounds per group
of its own) are one scan each. No log row reaches Python: every frame the sections build has one row
per cube cell, tier, model, feature, customer or day.
"""

from __future__ import annotations

import polars as pl

from costlab.report.context import ReportContext
from costlab.report.document import USD, money_sum


def cube(ctx: ReportContext) -> pl.DataFrame:
    """The cube's rows with unpriced_requests (what money_sum and ranking read)."""
    return ctx.both("report/cube").with_columns(
        pl.when(pl.col("priced")).then(0).otherwise(pl.col("requests")).alias("unpriced_requests"))


def period(frame: pl.DataFrame, period: str) -> pl.DataFrame:
    return frame.filter(pl.col("period") == period)


MONEY = ("cost_usd", "cache_read_usd", "cache_read_at_input_usd", "cache_write_usd", "cache_write_at_input_usd")


def totals(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Cube rows summed per key: counts, errors by class, tokens, and exact money (NULL when every
    request of the group is unpriced, as the query files' `sum(...) filter (where priced)`)."""
    cls = pl.col("error_class")

    def n(cond: pl.Expr) -> pl.Expr:
        return pl.col("requests").filter(cond).sum()

    out = frame.group_by(keys).agg(
        pl.col("requests").sum(), n(cls.is_not_null()).alias("errors"),
        n(cls == "rate_limited").alias("rate_limited"), n(cls == "overloaded").alias("overloaded"),
        n(cls == "context_exceeded").alias("context_exceeded"), n(cls == "other").alias("other_errors"),
        pl.col("unpriced_requests").sum(), pl.col("cache_hit_requests").sum(),
        *(pl.col(c).sum() for c in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")),
        *(pl.col(c).sum() for c in MONEY),
    )
    known = pl.col("requests") > pl.col("unpriced_requests")
    return out.with_columns(pl.when(known).then(pl.col(c)).otherwise(None).cast(USD).alias(c) for c in MONEY)


def spend_by(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.group_by(key).agg(pl.col("requests").sum(), money_sum("cost_usd"), pl.col("unpriced_requests").sum())

