"""The tier mix: the share of requests per tier against the previous period and the target split
([report.target_split]).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from costlab.report.context import ReportContext
from costlab.report.document import column, frame_table
from costlab.report.sections.base import Section
from costlab.report.sections.cube import cube, period, spend_by


def build(ctx: ReportContext) -> dict | None:
    detail = cube(ctx)
    cur = spend_by(period(detail, "current"), "tier")
    prev = spend_by(period(detail, "previous"), "tier").select("tier", pl.col("requests").alias("previous_requests"))
    target = ctx.settings.target_split
    n_cur, n_prev = int(cur["requests"].sum()), int(prev["previous_requests"].sum())
    spend_total = cur["cost_usd"].cast(pl.Float64).sum()
    targets = pl.DataFrame({"tier": list(target), "target_share": list(target.values())},
                           schema={"tier": pl.String, "target_share": pl.Float64})
    order = {t: i for i, t in enumerate(target)}
    mix = (cur.join(prev, on="tier", how="full", coalesce=True)
              .join(targets, on="tier", how="full", coalesce=True)
              .with_columns(pl.col("requests").fill_null(0), pl.col("previous_requests").fill_null(0))
              .with_columns(
                  (pl.col("requests") / n_cur if n_cur else pl.lit(None, pl.Float64)).alias("share"),
                  (pl.col("previous_requests") / n_prev if n_prev else pl.lit(None, pl.Float64)).alias("previous_share"),
                  (pl.col("cost_usd").cast(pl.Float64) / spend_total if spend_total else pl.lit(None, pl.Float64)).alias("cost_share"),
                  pl.col("tier").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("_order"),
              )
              .with_columns((pl.col("share") - pl.col("target_share")).alias("gap"),
                            (pl.col("share") - pl.col("previous_share")).alias("change"))
              .sort(["_order", "requests", "tier"], descending=[False, True, False]))
    if mix.height == 0:
        return None
    split = "/".join(str(round(s * 100)) for s in mix["share"].fill_null(0).to_list())
    tiers = "/".join(mix["tier"].to_list())
    result: dict[str, Any] = {"split": split, "tiers": tiers}
    notes = [f"Actual split by requests ({tiers}): {split}."]
    if target:
        result["target_split"] = "/".join(str(round(s * 100)) for s in mix["target_share"].fill_null(0).to_list())
        notes.append(f"Target ({tiers}): {result['target_split']} (costlab.toml [report.target_split]).")
    else:
        notes.append("No target split configured: set [report.target_split] in costlab.toml.")
    cols = [column("tier", "tier", "text"), column("requests", "requests", "count"), column("share", "share", "ratio"),
            column("previous_share", "previous", "ratio"), column("change", "change", "points"),
            column("target_share", "target", "ratio"), column("gap", "vs target", "points"),
            column("cost_share", "spend share", "ratio")]
    result["notes"] = notes
    result["tables"] = [frame_table("mix", "Tier mix (share of requests)", cols, mix)]
    return result


SECTION = Section("tier_mix", "Tier mix", build)
