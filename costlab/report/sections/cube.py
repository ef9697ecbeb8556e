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

import math
from typing import NamedTuple

import polars as pl

from costlab.report.context import ReportContext
from costlab.report.document import USD, money_sum


def cube(ctx: ReportContext) -> pl.DataFrame:
    """The cube's rows with unpriced_requests (what money_sum and ranking read)."""
    return ctx.both("report/cube").with_columns(
        pl.when(pl.col("priced")).then(0).otherwise(pl.col("requests")).alias("unpriced_requests"))


def period(frame: pl.DataFrame, period: str) -> pl.DataFrame:
    return frame.filter(pl.col("period") == period)


MONEY = ("cost_usd", "list_usd", "cache_read_usd", "cache_read_at_input_usd", "cache_write_usd", "cache_write_at_input_usd")


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


# A normal 95% interval: the sampling error of a weighted total is added to the report's intervals.
Z95 = 1.959963984540054


class Sampling(NamedTuple):
    """What the weights of a period's rows say: the requests they stand for, the rows logged, and the
    standard error of the weighted spend (Horvitz-Thompson, independent sampling at rate 1/w)."""

    requests: int
    logged: int
    cost_se_usd: float

    @property
    def sampled(self) -> bool:
        return self.logged > 0 and self.requests != self.logged

    @property
    def one_in(self) -> float:
        """N of "a 1-in-N sample": the requests the rows stand for per row logged."""
        return self.requests / self.logged if self.logged else 1.0


def sampling(frame: pl.DataFrame, period_name: str = "current") -> Sampling:
    """The sample behind a period of the cube (`cube(ctx)`)."""
    rows = period(frame, period_name)
    if rows.height == 0:
        return Sampling(0, 0, 0.0)
    requests, logged, var = rows.select(pl.col("requests").sum(), pl.col("logged_requests").sum(),
                                        pl.col("cost_var").sum()).row(0)
    return Sampling(int(requests or 0), int(logged or 0), math.sqrt(max(var or 0.0, 0.0)))


def sampling_notes(s: Sampling, spend_usd: object = None) -> list[str]:
    """The report's notes for a sampled period: what the figures are estimated from, their sampling
    error, and that distinct counts (active users, customers) are not scaled."""
    if not s.sampled:
        return []
    spend = f" Spend ${float(spend_usd):,.2f} ± ${Z95 * s.cost_se_usd:,.2f} (95%, sampling error alone)." if spend_usd else ""
    return [f"Estimated from a 1-in-{s.one_in:,.0f} sample: {s.logged:,} logged requests stand for {s.requests:,} "
            f"(sample_weight); every count, token and cost figure is scaled by the weights.{spend} "
            "Intervals include the sampling error (docs/report.md).",
            "Active users and customers are the ids seen in the sample: distinct counts cannot be scaled by "
            "the weights, so they undercount, and cost per active user overstates."]


def widen(point: float, lo: float, hi: float, s: Sampling, total_usd: float) -> tuple[float, float]:
    """A bootstrap interval [lo, hi] around `point`, widened by the sampling error: the relative
    standard error of the period's weighted spend (s.cost_se_usd / total_usd) applied to `point`, added
    in quadrature to each half-width. Unchanged for a complete log."""
    if not s.sampled or not total_usd:
        return lo, hi
    extra = Z95 * point * s.cost_se_usd / total_usd
    return point - math.hypot(point - lo, extra), point + math.hypot(hi - point, extra)


def spend_by(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.group_by(key).agg(pl.col("requests").sum(), money_sum("cost_usd"), money_sum("list_usd"),
                                   pl.col("unpriced_requests").sum())


def discounted(frame: pl.DataFrame) -> bool:
    """True when a negotiated discount applied to any priced request of the cube (either period):
    then the report shows spend gross (at list price) and net."""
    if frame.height == 0:
        return False
    return bool(frame.select((pl.col("list_usd") != pl.col("cost_usd")).fill_null(False).any()).item())

