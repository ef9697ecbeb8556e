"""The cost summary `make demo` and `costlab summary` print: spend by tier, model, feature and day.

Built from the starter queries (queries/cost_by_tier_model_day.sql and queries/cost_by_feature.sql)
through `Store.run_query`, so the numbers are the ones an engineer gets running those files by hand.
Every section ends with a total row and counts the unpriced requests: a request with no price is
left out of `cost_usd` and counted in `unpriced_requests`, never priced at $0. A group whose requests
are all unpriced has a NULL cost; an empty window costs 0.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import polars as pl

from costlab import plausible

if TYPE_CHECKING:
    from costlab.store import Store

TOTAL = "total"
SECTIONS = ("tier", "model", "feature", "day")
TITLES = {
    "tier": "Cost by tier",
    "model": "Cost by model",
    "feature": "Cost by feature",
    "day": "Cost by day (UTC)",
}
COUNTS = ("requests", "errors", "input_tokens", "output_tokens")
USD = pl.Decimal(18, 9)


def cost_summary(
    store: "Store", since: datetime | date | str | None = None, until: datetime | date | str | None = None,
    tz: str = "UTC",
) -> dict[str, pl.DataFrame]:
    """Spend per tier, model, feature and day in [since, until), each section with a total row.

    Args:
        store: an open store.
        since: start of the window, inclusive (default: the beginning of the logs).
        until: end of the window, exclusive (default: no end).
            Either default reads only requests with a plausible timestamp (costlab/plausible.py):
            one stamped 2100 or 'infinity' is left out unless the window names it.
        tz: the time zone whose midnights divide the days (an IANA name, checked by
            costlab.config.check_timezone); pass since and until as midnights in it.

    Returns:
        {"tier": ..., "model": ..., "feature": ..., "day": ...}: frames whose first column is the
        section's key (a string; the last row's key is TOTAL), then requests, errors, input_tokens,
        output_tokens, cost_usd DECIMAL(18,9) and unpriced_requests.
    """
    since, until = plausible.fill(store.config, since, until)  # a missing end: the plausible window's
    window = {"since": since, "until": until}
    daily = store.run_query("cost_by_tier_model_day", **window, tz=tz)
    features = store.run_query("cost_by_feature", **window)
    return {
        "tier": _rollup(daily, "tier"),
        "model": _rollup(daily, "model"),
        "feature": _rollup(features, "feature"),
        "day": _rollup(daily.with_columns(pl.col("day").cast(pl.String)), "day", by_key=True),
    }


def titles(tz: str = "UTC") -> dict[str, str]:
    """The sections' titles, the day's naming its time zone."""
    return {**TITLES, "day": f"Cost by day ({tz})"}


def _money_sum(column: str) -> pl.Expr:
    # polars sums an all-NULL column to 0, but a group whose requests are all unpriced has an
    # unknown cost, not $0; a group with no requests at all (an empty store's total) costs $0.
    requests = pl.col("requests").sum()
    has_priced = requests - pl.col("unpriced_requests").sum() > 0
    return pl.when(has_priced | (requests == 0)).then(pl.col(column).sum()).otherwise(None).cast(USD)


def _rollup(frame: pl.DataFrame, key: str, by_key: bool = False) -> pl.DataFrame:
    sums = [*(pl.col(c).sum().cast(pl.Int64) for c in COUNTS), _money_sum("cost_usd").alias("cost_usd"),
            pl.col("unpriced_requests").sum().cast(pl.Int64)]
    groups = frame.group_by(key).agg(sums)
    order = [key] if by_key else ["cost_usd", "requests", key]
    groups = groups.sort(order, descending=[False] if by_key else [True, True, False], nulls_last=True)
    total = frame.select(pl.lit(TOTAL, dtype=pl.String).alias(key), *sums)
    return pl.concat([groups.with_columns(pl.col(key).cast(pl.String)), total], how="vertical")


def summary_frame(sections: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """All sections as one long frame (section, key, ...), for csv, json, jsonl and parquet output."""
    return pl.concat(
        [frame.rename({name: "key"}).select(pl.lit(name).alias("section"), pl.all()) for name, frame in sections.items()],
        how="vertical",
    )
