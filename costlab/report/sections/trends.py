"""Day by day (UTC): spend, requests, active users, cost per user and error rates per day, and per
day and tier, and the previous period's spend per day (chart data for the HTML report).
"""

from __future__ import annotations

import polars as pl

from costlab.report.context import ReportContext
from costlab.report.document import USD, column, frame_table
from costlab.report.sections.base import Section
from costlab.report.sections.cube import cube, period, totals


def build(ctx: ReportContext) -> dict | None:
    current = period(cube(ctx), "current")
    if current.height == 0:
        return None
    users = ctx.both("report/activity").filter((pl.col("period") == "current") & pl.col("day").is_not_null())
    rate = lambda c: (pl.col(c) / pl.col("requests")).alias(f"{c}_rate")  # noqa: E731
    days = (totals(current, ["day"]).join(users.select("day", "active_users"), on="day", how="left")
                 .sort("day")
                 .with_columns(pl.col("day").cast(pl.String), pl.col("active_users").fill_null(0),
                               pl.when(pl.col("active_users") > 0)
                                 .then((pl.col("cost_usd").cast(pl.Decimal(38, 9)) / pl.col("active_users")).cast(USD))
                                 .alias("cost_per_active_user_usd"),
                               rate("errors"), rate("rate_limited"), rate("overloaded"), rate("context_exceeded")))
    day_cols = [column("day", "day", "text"), column("requests", "requests", "count"), column("cost_usd", "spend", "usd"),
                column("active_users", "active users", "count"), column("cost_per_active_user_usd", "per user", "usd"),
                column("errors_rate", "errors", "ratio"), column("rate_limited_rate", "429", "ratio"),
                column("overloaded_rate", "529", "ratio"), column("context_exceeded_rate", "ctx exceeded", "ratio"),
                column("unpriced_requests", "unpriced", "count")]
    tiers = (totals(current, ["day", "tier"]).sort(["day", "tier"])
                  .with_columns(pl.col("day").cast(pl.String), rate("errors")))
    tier_cols = [column("day", "day", "text"), column("tier", "tier", "text"), column("requests", "requests", "count"),
                 column("cost_usd", "spend", "usd"), column("errors_rate", "error rate", "ratio"),
                 column("unpriced_requests", "unpriced", "count")]
    # the previous period day by day, for the HTML chart's comparison (same position in the period)
    shift = (ctx.since_day - ctx.prev_since.date()).days
    previous = (totals(period(cube(ctx), "previous"), ["day"]).sort("day")
                     .with_columns((pl.col("day") + pl.duration(days=shift)).cast(pl.String).alias("aligned_day"),
                                   pl.col("day").cast(pl.String)))
    prev_cols = [column("day", "day", "text"), column("aligned_day", "same day this period", "text"),
                 column("requests", "requests", "count"), column("cost_usd", "spend", "usd")]
    out = {"tables": [
        frame_table("daily", f"Day by day ({ctx.tz})", day_cols, days),
        frame_table("daily_by_tier", f"Day by day and tier ({ctx.tz})", tier_cols, tiers, detail=True),
        frame_table("previous_daily", f"The previous period day by day ({ctx.tz})", prev_cols, previous, detail=True),
    ]}
    if ctx.tz != "UTC":  # the section's title names the days' time zone (the default title says UTC)
        out["title"] = f"Day by day ({ctx.tz})"
    return out


SECTION = Section("trends", "Day by day (UTC)", build)
