"""When a model's share of requests moved during a period: the day it moved and by how much.

For each candidate day d inside [since, until) (each side at least MIN_SIDE_DAYS), every model's
share of weighted requests in [look_back, d) against [d, until); the day with the largest move wins.
The weekly report's model-switch section runs `costlab compare` around that day when the move is
at least [compare] share_change_pp points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from costlab.store import Store

MIN_SIDE_DAYS = 2


@dataclass(frozen=True)
class ShareShift:
    day: datetime  # the first day after the move
    model: str
    before_share: float  # fractions
    after_share: float

    @property
    def change_pp(self) -> float:
        return (self.after_share - self.before_share) * 100


def share_shift(store: Store, look_back: datetime, since: datetime, until: datetime,
                daily: pl.DataFrame | None = None) -> ShareShift | None:
    """The largest move of one model's share of requests at a day in [since, until), comparing
    [look_back, day) with [day, until); None when there is no traffic on either side.

    `daily`: the weighted requests per UTC day and model of [look_back, until) (compare/model_share's
    rows: day, model, requests) when the caller has them already (the weekly report sums them from
    its cube), instead of another scan of the window."""
    if daily is None:
        daily = store.run_query("compare/model_share", since=look_back, until=until)
    if daily.height == 0:
        return None
    daily = daily.with_columns(pl.col("requests").cast(pl.Float64))
    best: ShareShift | None = None
    day = since
    while day < until:
        if (day - look_back).days >= MIN_SIDE_DAYS and (until - day).days >= MIN_SIDE_DAYS:
            side = pl.when(pl.col("day") < day.date()).then(pl.lit("before")).otherwise(pl.lit("after"))
            shares = (daily.with_columns(side.alias("side"))
                      .group_by("side", "model").agg(pl.col("requests").sum())
                      .with_columns((pl.col("requests") / pl.col("requests").sum().over("side")).alias("share"))
                      .pivot(on="side", index="model", values="share")
                      .fill_null(0.0))
            if "before" in shares.columns and "after" in shares.columns:
                shares = shares.with_columns((pl.col("after") - pl.col("before")).abs().alias("move")).sort(
                    ["move", "model"], descending=[True, False])
                top = shares.row(0, named=True)
                if best is None or top["move"] > abs(best.after_share - best.before_share):
                    best = ShareShift(day, top["model"], top["before"], top["after"])
        day += timedelta(days=1)
    return best

