"""The model-switch section: when one model's share of requests moved by at least [compare]
share_change_pp points (default 10) at a day of the report's period, `costlab compare` before
against after that day (equal windows, within this period and the one before), with its verdict.
Absent when no model's share moved that much: the golden files never hold it (optional).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from costlab import compare
from costlab.errors import ConfigError
from costlab.report.context import ReportContext
from costlab.report.document import column, metric, table
from costlab.report.sections.base import Section
from costlab.report.sections.cube import cube

COLUMNS = [column("metric", "Metric", "text"), column("a", "Before", "text"), column("b", "After", "text"),
           column("change", "Change", "text"), column("interval", "95% interval", "text"),
           column("p", "p", "number"), column("adjusted_p", "Adjusted p", "number"),
           column("significant", "Significant", "text"), column("n_a", "n before", "count"),
           column("n_b", "n after", "count")]


def build(ctx: ReportContext) -> dict | None:
    settings = compare.parse(getattr(ctx.store.config, "compare", {}) or {})
    shift = compare.share_shift(ctx.store, ctx.prev_since, ctx.since, ctx.until, daily=_daily(ctx))
    if shift is None or abs(shift.change_pp) < settings.share_change_pp:
        return None
    day = shift.day
    days = min((ctx.until - day).days, (day - ctx.prev_since).days)
    width = timedelta(days=days)
    cohorts = compare.Cohorts("periods", day - width, day + width, periods=(day - width, day, day, day + width))
    moved = (f"{shift.model} went from {shift.before_share:.0%} to {shift.after_share:.0%} of requests from "
             f"{day:%Y-%m-%d} ({shift.change_pp:+.0f} pp; this section appears from "
             f"{settings.share_change_pp:g} pp, [compare] share_change_pp).")
    try:
        result = compare.compare(ctx.store, cohorts, settings)
    except ConfigError as ex:  # e.g. no traffic in the equal window before the day
        return {"notes": [moved, f"Not compared: {ex}"]}
    label_a, label_b = cohorts.labels
    notes = [moved, f"Before ({label_a}) against after ({label_b}): {result.verdict}.",
             f"Rerun it: costlab compare --switch-day {day:%Y-%m-%d} --days {days}"]
    notes += [f"Note: {n}" for n in result.notes]
    people = compare.for_people(result.table)
    return {
        "notes": notes,
        "metrics": [metric("model_share", f"Share of {shift.model} (after, before)", "ratio",
                           shift.after_share, shift.before_share)],
        "guardrails_breached": [b["guardrail"] for b in result.breaches],
        "tables": [table("comparison", "Before against after", COLUMNS, people.to_dicts())],
    }


def _daily(ctx: ReportContext) -> pl.DataFrame | None:
    """Requests per UTC day and model over both periods, summed from the report's cube (already
    computed by the headline) instead of compare/model_share.sql's own scan of the window: the same
    rows when the report's days are UTC days and every request of the window has weight 1 (the cube
    rounds weighted counts per cell). Otherwise None, and share_shift runs its query."""
    if ctx.tz != "UTC":
        return None
    frame = cube(ctx)
    if frame.height == 0 or not frame["requests"].equals(frame["logged_requests"]):
        return None
    if not ctx.store.scalar("select coalesce(bool_and(sample_weight = 1), true) from requests "
                            "where ts >= $since and ts < $until", {"since": ctx.prev_since, "until": ctx.until}):
        return None
    return (frame.group_by("day", "model").agg(pl.col("requests").sum().cast(pl.Decimal(38, 6)))
                 .sort("day", "model"))


SECTION = Section("model_switch", "Model switch", build, optional=True, priced=False)
