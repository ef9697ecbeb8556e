"""The report's own sections: headline, spend, tier mix, efficiency, reliability, trends.

Spend, tier mix, efficiency, error rates, the headline and the day-by-day trend all add up from one
small cube (queries/report/cube.sql: one scan of the priced window, summed per day, tier, model,
feature, error class and priced, plus per customer), reshaped here with polars; distinct users and
customers (report/activity.sql), spend by customer (report/spend_by_customer.sql), latency
percentiles (report/latency.sql) and batch savings (report/batch_savings.sql, which rounds per group
of its own) are one scan each. No log row reaches
Python: every frame here has one row per cube cell, tier, model, feature, customer or day.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from costlab.report.build import ReportContext
from costlab.report.model import USD, change_expr, column, frame_table, metric, money_sum, per, ratio


# -- headline --------------------------------------------------------------------------------------
def _cube(ctx: ReportContext) -> pl.DataFrame:
    """The cube's rows with unpriced_requests (what money_sum and ranking read)."""
    return ctx.both("report/cube").with_columns(
        pl.when(pl.col("priced")).then(0).otherwise(pl.col("requests")).alias("unpriced_requests"))


def _period(frame: pl.DataFrame, period: str) -> pl.DataFrame:
    return frame.filter(pl.col("period") == period)


MONEY = ("cost_usd", "cache_read_usd", "cache_read_at_input_usd", "cache_write_usd", "cache_write_at_input_usd")


def _totals(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
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


def headline(ctx: ReportContext) -> dict:
    totals = {r["period"]: r for r in _totals(_cube(ctx), ["period"]).to_dicts()}
    activity = ctx.both("report/activity").filter(pl.col("day").is_null())
    rows = {}
    for r in activity.to_dicts():
        t = totals.get(r["period"], {})
        requests, unpriced = t.get("requests", 0), t.get("unpriced_requests", 0)
        rows[r["period"]] = {**r, "requests": requests, "errors": t.get("errors", 0), "unpriced_requests": unpriced,
                             "priced_requests": requests - unpriced,
                             "cost_usd": t.get("cost_usd") if requests else 0}
    cur, prev = rows["current"], rows["previous"]

    def both(fn):
        return fn(cur), fn(prev)

    metrics = [
        metric("spend_usd", "Spend", "usd", *both(lambda r: r["cost_usd"])),
        metric("requests", "Requests", "count", *both(lambda r: r["requests"])),
        metric("active_users", "Active users", "count", *both(lambda r: r["active_users"])),
        metric("active_customers", "Active customers", "count", *both(lambda r: r["active_customers"])),
        metric("cost_per_request_usd", "Cost per priced request", "usd", *both(lambda r: per(r["cost_usd"], r["priced_requests"]))),
        metric("cost_per_active_user_usd", "Cost per active user", "usd", *both(lambda r: per(r["cost_usd"], r["active_users"]))),
        metric("error_rate", "Error rate", "ratio", *both(lambda r: ratio(r["errors"], r["requests"]))),
        metric("unpriced_requests", "Unpriced requests", "count", *both(lambda r: r["unpriced_requests"])),
        metric("unpriced_share", "Unpriced share", "ratio", *both(lambda r: ratio(r["unpriced_requests"], r["requests"]) or 0.0)),
        metric("ingest_rejects", "Ingest rejects", "count", *both(lambda r: r["rejects"])),
    ]
    notes = []
    if cur["requests"] == 0:
        notes.append(f"No requests in {ctx.window.label}.")
    if cur["unpriced_requests"]:
        notes.append(
            f"{cur['unpriced_requests']:,} of {cur['requests']:,} requests "
            f"({cur['unpriced_requests'] / cur['requests']:.1%}) have no price: their cost is unknown and not in "
            "any spend figure (see queries/unpriced_requests.sql)."
        )
    if cur["rejects"]:
        notes.append(f"{cur['rejects']:,} records were rejected by the ingests that loaded this period "
                     "(see queries/ingest_history.sql).")
    if cur["active_users"] == 0 and cur["requests"]:
        notes.append("The logs carry no user ids: per-user figures are empty.")
    return {"title": "Headline", "notes": notes, "metrics": metrics}


# -- spend -----------------------------------------------------------------------------------------
def _by(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.group_by(key).agg(pl.col("requests").sum(), money_sum("cost_usd"), pl.col("unpriced_requests").sum())


def ranking(current: pl.DataFrame, previous: pl.DataFrame, key: str, top_n: int | None = None) -> pl.DataFrame:
    """key, requests, cost_usd, cost_share, previous_cost_usd, change, unpriced_requests, most expensive first.

    With top_n, the rest are folded into one row named '(N others)'.
    """
    cur = _by(current, key)
    prev = _by(previous, key).select(key, pl.col("cost_usd").alias("previous_cost_usd"),
                                     pl.col("requests").alias("previous_requests"))
    total = cur["cost_usd"].cast(pl.Float64).sum()
    out = (cur.join(prev, on=key, how="left")
              .with_columns(pl.col(key).cast(pl.String))
              .sort(["cost_usd", "requests", key], descending=[True, True, False], nulls_last=True))
    if top_n is not None and out.height > top_n + 1:
        rest = out.slice(top_n)
        other = rest.select(
            pl.lit(f"({rest.height} others)").alias(key), pl.col("requests").sum(), money_sum("cost_usd"),
            pl.col("unpriced_requests").sum(), pl.col("previous_cost_usd").cast(USD).sum(),
            pl.col("previous_requests").sum(),
        )
        out = pl.concat([out.head(top_n), other.select(out.columns).cast(out.schema)], how="vertical")
    return out.with_columns(
        (pl.col("cost_usd").cast(pl.Float64) / total if total else pl.lit(None, pl.Float64)).alias("cost_share"),
        change_expr("cost_usd", "previous_cost_usd").alias("change"),
    )


def _ranking_columns(key: str, label: str) -> list[dict]:
    return [column(key, label, "text"), column("requests", "requests", "count"), column("cost_usd", "spend", "usd"),
            column("cost_share", "share", "ratio"), column("previous_cost_usd", "previous", "usd"),
            column("change", "change", "change"), column("unpriced_requests", "unpriced", "count")]


def spend(ctx: ReportContext) -> dict:
    detail, customers = _cube(ctx), ctx.both("report/spend_by_customer")
    cur, prev = _period(detail, "current"), _period(detail, "previous")
    cust_cur, cust_prev = _period(customers, "current"), _period(customers, "previous")
    n = ctx.settings.top_n
    tables = [
        frame_table("by_tier", "Spend by tier", _ranking_columns("tier", "tier"), ranking(cur, prev, "tier")),
        frame_table("by_model", f"Spend by model (top {n})", _ranking_columns("model", "model"), ranking(cur, prev, "model", n)),
        frame_table("by_feature", f"Spend by feature (top {n})", _ranking_columns("feature", "feature"),
                    ranking(cur, prev, "feature", n)),
        frame_table("by_customer", f"Spend by customer (top {n})", _ranking_columns("customer_id", "customer"),
                    ranking(cust_cur, cust_prev, "customer_id", n)),
    ]
    return {"title": "Spend", "tables": tables}


# -- tier mix --------------------------------------------------------------------------------------
def tier_mix(ctx: ReportContext) -> dict | None:
    detail = _cube(ctx)
    cur = _by(_period(detail, "current"), "tier")
    prev = _by(_period(detail, "previous"), "tier").select("tier", pl.col("requests").alias("previous_requests"))
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
    result: dict[str, Any] = {"title": "Tier mix", "split": split, "tiers": tiers}
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


# -- efficiency ------------------------------------------------------------------------------------
def efficiency(ctx: ReportContext) -> dict:
    detail = _cube(ctx)
    tokens = (_totals(detail, ["period"])
              .with_columns((pl.col("cache_read_tokens") /
                             (pl.col("input_tokens") + pl.col("cache_read_tokens") + pl.col("cache_write_tokens"))).alias("hit")))
    hit = {r["period"]: r["hit"] for r in tokens.to_dicts()}
    # As queries/cache_savings.sql: per model, what reads saved and what writes cost on top, net.
    cache = (_totals(_period(detail, "current"), ["model", "tier"])
             .with_columns((pl.col("cache_read_at_input_usd") - pl.col("cache_read_usd")).cast(USD).alias("read_savings_usd"),
                           (pl.col("cache_write_usd") - pl.col("cache_write_at_input_usd")).cast(USD).alias("write_premium_usd"))
             .with_columns((pl.col("read_savings_usd") - pl.col("write_premium_usd")).cast(USD).alias("net_savings_usd"))
             .sort(["net_savings_usd", "requests", "model"], descending=[True, True, False], nulls_last=True))
    cache_tot = cache.select(pl.col("requests").sum(), pl.col("cache_hit_requests").sum(),
                             *(pl.col(c).cast(USD).sum() for c in ("read_savings_usd", "write_premium_usd", "net_savings_usd"))).row(0, named=True)
    batch = ctx.current("report/batch_savings")
    bt = batch.select(pl.col("requests").sum(), pl.col("batch_requests").sum(), pl.col("movable_requests").sum(),
                      *(pl.col(c).cast(USD).sum() for c in ("cost_usd", "batch_cost_usd", "batch_saved_usd",
                                                            "movable_cost_usd", "move_savings_usd"))).row(0, named=True)
    metrics = [
        metric("cache_hit_rate", "Prompt tokens read from cache", "ratio", hit.get("current"), hit.get("previous")),
        metric("cache_hit_request_share", "Requests with a cache hit", "ratio", ratio(cache_tot["cache_hit_requests"], cache_tot["requests"])),
        metric("cache_read_savings_usd", "Cache reads saved", "usd", cache_tot["read_savings_usd"] or 0),
        metric("cache_write_premium_usd", "Cache writes cost extra", "usd", cache_tot["write_premium_usd"] or 0),
        metric("cache_net_savings_usd", "Caching saved (net)", "usd", cache_tot["net_savings_usd"] or 0),
        metric("batch_request_share", "Requests sent through batch", "ratio", ratio(bt["batch_requests"], bt["requests"])),
        metric("batch_spend_share", "Spend through batch", "ratio", ratio(bt["batch_cost_usd"], bt["cost_usd"])),
        metric("batch_saved_usd", "Batch saved", "usd", bt["batch_saved_usd"] or 0),
        metric("batch_move_requests", "Batch-eligible requests not batched", "count", bt["movable_requests"]),
        metric("batch_move_savings_usd", "Moving them to batch would save", "usd", bt["move_savings_usd"] or 0),
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
    return {"title": "Efficiency", "notes": notes, "metrics": metrics, "tables": tables}


# -- reliability -----------------------------------------------------------------------------------
# An SLO limit's key names the measured column it bounds (p95_latency_ms bounds p95_latency_ms).
SLO_LABELS = {"p95_latency_ms": "SLO p95", "p95_ttft_ms": "SLO TTFT p95",
              "p99_latency_ms": "SLO p99", "p99_ttft_ms": "SLO TTFT p99"}


def _slo_status(frame: pl.DataFrame, slos: dict[str, dict[str, float]], key: str, limits: list[str]) -> pl.DataFrame:
    """slo_<limit> for each limit, and slo: BREACH when any measured percentile is above its limit,
    ok when none is, NULL when the row has no limit at all. `_breached` lists the percentiles over."""
    table = pl.DataFrame({key: list(slos), **{f"slo_{k}": [s.get(k) for s in slos.values()] for k in limits}},
                         schema={key: pl.String, **{f"slo_{k}": pl.Float64 for k in limits}})
    out = frame.join(table, on=key, how="left", maintain_order="left")
    over = [pl.when(pl.col(k) > pl.col(f"slo_{k}")).then(pl.lit(k.split("_")[0])) for k in limits]
    has_slo = pl.any_horizontal(pl.col(f"slo_{k}").is_not_null() for k in limits) if limits else pl.lit(False)
    return (out.with_columns(pl.concat_list(over).list.drop_nulls().list.unique(maintain_order=True).alias("_breached"))
               .with_columns(pl.when(~has_slo).then(None)
                               .when(pl.col("_breached").list.len() > 0).then(pl.lit("BREACH"))
                               .otherwise(pl.lit("ok")).alias("slo")))


def _error_rates(detail: pl.DataFrame) -> pl.DataFrame:
    """As queries/error_rates_by_tier.sql: per tier, errors by class as shares of all requests."""
    rate = lambda c: (pl.col(c) / pl.col("requests")).alias(f"{c}_rate")  # noqa: E731
    return (_totals(detail, ["tier"])
            .with_columns(rate("errors").alias("error_rate"), rate("rate_limited"), rate("overloaded"), rate("context_exceeded"))
            .sort(["requests", "tier"], descending=[True, False]))


def reliability(ctx: ReportContext) -> dict | None:
    detail = _cube(ctx)
    errors_cur, errors_prev = _error_rates(_period(detail, "current")), _error_rates(_period(detail, "previous"))
    if errors_cur.height == 0:
        return None
    errors = (errors_cur.join(errors_prev.select("tier", pl.col("error_rate").alias("previous_error_rate")), on="tier",
                              how="left", maintain_order="left")
                        .with_columns((pl.col("error_rate") - pl.col("previous_error_rate")).alias("change")))
    err_cols = [column("tier", "tier", "text"), column("requests", "requests", "count"), column("errors", "errors", "count"),
                column("error_rate", "error rate", "ratio"), column("change", "change", "points"),
                column("rate_limited_rate", "429 rate limit", "ratio"), column("overloaded_rate", "529 overloaded", "ratio"),
                column("context_exceeded_rate", "context exceeded", "ratio"), column("other_errors", "other errors", "count")]
    latency = ctx.current("report/latency")
    lat_cols = [column("p50_latency_ms", "p50 ms", "ms"), column("p95_latency_ms", "p95 ms", "ms"),
                column("p99_latency_ms", "p99 ms", "ms"), column("p50_ttft_ms", "TTFT p50", "ms"),
                column("p95_ttft_ms", "TTFT p95", "ms"), column("p99_ttft_ms", "TTFT p99", "ms")]
    tables = [frame_table("errors_by_tier", "Error rates by tier", err_cols, errors)]
    by_tier = latency.filter(pl.col("dimension") == "tier").rename({"key": "tier"})
    if by_tier.height:
        tables.append(frame_table("latency_by_tier", "Latency by tier (ok, non-batch requests)",
                                  [column("tier", "tier", "text"), column("requests", "requests", "count"), *lat_cols], by_tier))
    notes = []
    by_feature = latency.filter(pl.col("dimension") == "feature").rename({"key": "feature"})
    if by_feature.height:
        slos = ctx.settings.slo
        features = by_feature["feature"].to_list()
        resolved = {f: ctx.settings.slo_for(f) for f in features if ctx.settings.slo_for(f)}
        # Every configured limit is compared; the p95 pair is always shown, p99 when set anywhere.
        configured = {k for limits in slos.values() for k in limits}
        limits = [k for k in SLO_LABELS if k.startswith("p95") or k in configured]
        by_feature = _slo_status(by_feature, resolved, "feature", limits)
        cols = [column("feature", "feature", "text"), column("requests", "requests", "count"), *lat_cols,
                *(column(f"slo_{k}", SLO_LABELS[k], "ms") for k in limits), column("slo", "SLO", "text")]
        tables.append(frame_table("latency_by_feature", "Latency by feature against SLOs", cols, by_feature))
        breaching = by_feature.filter(pl.col("slo") == "BREACH")
        if breaching.height:
            names = breaching["feature"].to_list()
            over = sorted({p for ps in breaching["_breached"].to_list() for p in ps})
            notes.append(f"SLO breached ({', '.join(over)}) by {len(names)} feature{'s' if len(names) > 1 else ''}: "
                         f"{', '.join(names)}.")
        elif not slos:
            notes.append("No SLOs configured: set [report.slo.default] or [report.slo.FEATURE] in costlab.toml.")
    notes.append("Errors are classified by error_type or HTTP status (429 rate limit, 529 overloaded) as in "
                 "queries/error_rates_by_tier.sql; latency percentiles leave out errors and batch requests.")
    return {"title": "Reliability", "notes": notes, "tables": tables}


# -- trends (chart data) ---------------------------------------------------------------------------
def trends(ctx: ReportContext) -> dict | None:
    current = _period(_cube(ctx), "current")
    if current.height == 0:
        return None
    users = ctx.both("report/activity").filter((pl.col("period") == "current") & pl.col("day").is_not_null())
    rate = lambda c: (pl.col(c) / pl.col("requests")).alias(f"{c}_rate")  # noqa: E731
    days = (_totals(current, ["day"]).join(users.select("day", "active_users"), on="day", how="left")
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
    tiers = (_totals(current, ["day", "tier"]).sort(["day", "tier"])
                  .with_columns(pl.col("day").cast(pl.String), rate("errors")))
    tier_cols = [column("day", "day", "text"), column("tier", "tier", "text"), column("requests", "requests", "count"),
                 column("cost_usd", "spend", "usd"), column("errors_rate", "error rate", "ratio"),
                 column("unpriced_requests", "unpriced", "count")]
    return {"title": "Day by day (UTC)", "tables": [
        frame_table("daily", "Day by day (UTC)", day_cols, days),
        frame_table("daily_by_tier", "Day by day and tier (UTC)", tier_cols, tiers, detail=True),
    ]}
