"""Wrong-model findings (costlab.signals) as a report section.

Present with "No findings" when the detectors ran and found nothing, since that is a result.
`severity_counts` is what `costlab report --fail-on` reads. The detectors run on the report's priced
window, widened to their look-back (default 8 weeks) ending where the report ends; data_quality
(unpriced traffic) over the report's own period.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from costlab import signals
from costlab.report.context import ReportContext
from costlab.report.document import column, frame_table
from costlab.report.sections.base import Section


# Detectors that judge the report's own period rather than a look-back against a baseline:
# data_quality (unpriced requests; ingest rejects are per ingest run, whatever the period).
WEEK_ONLY = ("data_quality",)


def build(ctx: ReportContext) -> dict:
    # The detectors' baselines need history: their default look-back, ending where the report ends.
    # build_report has usually priced that span already, with the report's own periods.
    said: list[str] = []  # what a detector could not judge (signals.NOTE rows), said beside the findings
    prepared = ctx.signals_window is not None
    others = [d.id for d in signals.DETECTORS if d.id not in WEEK_ONLY]
    findings = signals.run_signals(ctx.store, until=ctx.until, prepared=prepared, notes=said, only=others)
    # The detectors with no baseline count everything in the window they are given: the report's own
    # period, so a week's report never lists unpriced traffic from the weeks before it.
    week = signals.run_signals(ctx.store, since=ctx.since_day, until=ctx.until, prepared=prepared, only=WEEK_ONLY)
    findings = signals.order(pl.concat([findings, week], how="vertical"))
    counts = signals.counts(findings)
    cols = [column("severity", "severity", "text"), column("signal", "signal", "text"), column("segment", "segment", "text"),
            column("weekly_impact_usd", "impact / week", "usd"), column("evidence", "evidence", "text"),
            column("suggestion", "suggestion", "text"), column("query", "drill down", "text")]
    table = frame_table("findings", "Findings", cols, findings)
    if findings.height == 0:
        notes = ["No wrong-model findings."]
    else:
        notes = [f"{findings.height} finding{'s' if findings.height != 1 else ''}, worst first: "
                 + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + "."]
        # One sentence per finding for the text formats; the table (JSON, HTML) has every field.
        for row in table["rows"]:
            impact = "impact not in dollars" if row["weekly_impact_usd"] is None else f"${Decimal(row['weekly_impact_usd']):,.2f} a week"
            notes.append(f"[{row['severity']}] {row['signal']} on {row['segment']} ({impact}): {row['evidence']} "
                         f"Suggested: {row['suggestion']} Drill down: {row['query']}")
    notes += [f"Not judged: {line}" for line in said]
    return {"notes": notes, "severity_counts": counts,
            "tables": [{**table, "detail": True}] if findings.height else []}


SECTION = Section("findings", "Wrong-model findings", build, optional=True, signals_lookback=True)
