"""Spend by tier, model, feature and customer, against the previous period (the long tails folded
into one "(N others)" row).
"""

from __future__ import annotations

import polars as pl

from costlab.report.context import ReportContext
from costlab.report.document import USD, change_expr, column, frame_table, money_sum
from costlab.report.sections.base import Section
from costlab.report.sections.cube import cube, discounted, period, spend_by


def ranking(current: pl.DataFrame, previous: pl.DataFrame, key: str, top_n: int | None = None) -> pl.DataFrame:
    """key, requests, cost_usd, cost_share, previous_cost_usd, change, unpriced_requests, most expensive first.

    With top_n, the rest are folded into one row named '(N others)'.
    """
    cur = spend_by(current, key)
    prev = spend_by(previous, key).select(key, pl.col("cost_usd").alias("previous_cost_usd"),
                                     pl.col("requests").alias("previous_requests"))
    total = cur["cost_usd"].cast(pl.Float64).sum()
    out = (cur.join(prev, on=key, how="left")
              .with_columns(pl.col(key).cast(pl.String))
              .sort(["cost_usd", "requests", key], descending=[True, True, False], nulls_last=True))
    if top_n is not None and out.height > top_n + 1:
        rest = out.slice(top_n)
        other = rest.select(
            pl.lit(f"({rest.height} others)").alias(key), pl.col("requests").sum(), money_sum("cost_usd"),
            money_sum("list_usd"),
            pl.col("unpriced_requests").sum(), pl.col("previous_cost_usd").cast(USD).sum(),
            pl.col("previous_requests").sum(),
        )
        out = pl.concat([out.head(top_n), other.select(out.columns).cast(out.schema)], how="vertical")
    return out.with_columns(
        (pl.col("cost_usd").cast(pl.Float64) / total if total else pl.lit(None, pl.Float64)).alias("cost_share"),
        change_expr("cost_usd", "previous_cost_usd").alias("change"),
        (pl.col("list_usd") - pl.col("cost_usd")).cast(USD).alias("discount_usd"),
    )


def _ranking_columns(key: str, label: str, gross: bool = False) -> list[dict]:
    """With gross (a negotiated discount applied): the list price and the discount after spend (net)."""
    money = [column("cost_usd", "spend (net)", "usd"), column("list_usd", "at list price", "usd"),
             column("discount_usd", "discount", "usd")] if gross else [column("cost_usd", "spend", "usd")]
    return [column(key, label, "text"), column("requests", "requests", "count"), *money,
            column("cost_share", "share", "ratio"), column("previous_cost_usd", "previous", "usd"),
            column("change", "change", "change"), column("unpriced_requests", "unpriced", "count")]


def build(ctx: ReportContext) -> dict:
    detail, customers = cube(ctx), ctx.both("report/spend_by_customer")
    cur, prev = period(detail, "current"), period(detail, "previous")
    cust_cur, cust_prev = period(customers, "current"), period(customers, "previous")
    n = ctx.settings.top_n
    gross = discounted(cur)
    tables = [
        frame_table("by_tier", "Spend by tier", _ranking_columns("tier", "tier", gross), ranking(cur, prev, "tier")),
        frame_table("by_model", f"Spend by model (top {n})", _ranking_columns("model", "model", gross),
                    ranking(cur, prev, "model", n)),
        frame_table("by_feature", f"Spend by feature (top {n})", _ranking_columns("feature", "feature", gross),
                    ranking(cur, prev, "feature", n)),
        frame_table("by_customer", f"Spend by customer (top {n})", _ranking_columns("customer_id", "customer", gross),
                    ranking(cust_cur, cust_prev, "customer_id", n)),
    ]
    return {"tables": tables}


SECTION = Section("spend", "Spend", build)
