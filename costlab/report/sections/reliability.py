"""Reliability: error rates by tier and class, latency and time-to-first-token percentiles by tier and
by feature, each feature against its SLOs ([report.slo]).
"""

from __future__ import annotations

import polars as pl

from costlab.report.context import ReportContext
from costlab.report.document import column, frame_table
from costlab.report.sections.base import Section
from costlab.report.sections.cube import cube, period, totals

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
    return (totals(detail, ["tier"])
            .with_columns(rate("errors").alias("error_rate"), rate("rate_limited"), rate("overloaded"), rate("context_exceeded"))
            .sort(["requests", "tier"], descending=[True, False]))


def build(ctx: ReportContext) -> dict | None:
    detail = cube(ctx)
    errors_cur, errors_prev = _error_rates(period(detail, "current")), _error_rates(period(detail, "previous"))
    if errors_cur.height == 0:
        return None
    errors = (errors_cur.join(errors_prev.select("tier", pl.col("error_rate").alias("previous_error_rate")), on="tier",
                              how="left", maintain_order="left")
                        .with_columns((pl.col("error_rate") - pl.col("previous_error_rate")).alias("change")))
    err_cols = [column("tier", "tier", "text"), column("requests", "requests", "count"), column("errors", "errors", "count"),
                column("error_rate", "error rate", "ratio"), column("change", "change", "points"),
                column("rate_limited_rate", "429 rate limit", "ratio"), column("overloaded_rate", "529 overloaded", "ratio"),
                column("context_exceeded_rate", "context exceeded", "ratio"), column("other_errors", "other errors", "count")]
    # quantile_cont up to [report] exact_percentiles_max measured requests (it holds every value in
    # memory); past it the same percentiles from counts of values, which spill (docs/report.md, "Large windows")
    exact_max = ctx.settings.exact_percentiles_max
    # the window's rows (the cube's) bound the measured ones: count those only when it matters
    rows = int(period(detail, "current")["logged_requests"].sum() or 0)
    measured = rows if rows <= exact_max else int(ctx.current("report/latency_measured")["measured"][0])
    # an engine that computes exact percentiles at any size (Spark, distributed) keeps quantile_cont
    counted = measured > exact_max and not getattr(ctx.store, "exact_percentiles", False)
    latency = ctx.current("report/latency_histogram" if counted else "report/latency")
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
    if latency.height and counted:
        notes.append(f"Latency percentiles from counts of values (queries/report/latency_histogram.sql): {measured:,} "
                     f"measured requests, more than [report] exact_percentiles_max ({exact_max:,}). Exact: the values at the "
                     "same ranks as quantile_cont's, interpolated by its formula (docs/report.md, \"Large windows\").")
    notes.append("Errors are classified by error_type or HTTP status (429 rate limit, 529 overloaded) as in "
                 "queries/error_rates_by_tier.sql; latency percentiles leave out errors and batch requests.")
    return {"notes": notes, "tables": tables}


SECTION = Section("reliability", "Reliability", build)
