"""Wrong-model findings (costlab.signals) as a report section.

Present with "No findings" when the detectors ran and found nothing, since that is a result.
`severity_counts` is what `costlab report --fail-on` reads. The detectors run on the report's priced
window, widened to their look-back (default 8 weeks) ending where the report ends; a detector that
judges only its own period (unpriced traffic) reads the report's period alone.
"""

from __future__ import annotations

from decimal import Decimal

from costlab import signals
from costlab.report.context import ReportContext
from costlab.report.document import column, frame_table
from costlab.report.sections.base import Section


def build(ctx: ReportContext) -> dict:
    # The detectors' baselines need history: their default look-back, ending where the report ends.
    # build_report has usually priced that span already, with the report's own periods.
    said: list[str] = []  # what a detector could not judge (signals.NOTE rows), said beside the findings
    if ctx.signals_window is not None:
        findings = signals.run_signals(ctx.store, until=ctx.until, prepared=True, notes=said, period_since=ctx.since,
                                       tz=ctx.tz)
    else:
        findings = signals.run_signals(ctx.store, until=ctx.until, notes=said, period_since=ctx.since, tz=ctx.tz)
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
