"""Wrong-model findings (issue 4) as a report section, when costlab.signals is there.

Absent (None) when the signals module is not installed; present with "No findings" when the
detectors ran and found nothing, since that is a result. `severity_counts` is what
`costlab report --fail-on` reads.
"""

from __future__ import annotations

import importlib

from decimal import Decimal

from costlab.report.build import ReportContext
from costlab.report.model import column, frame_table


def section(ctx: ReportContext) -> dict | None:
    try:
        signals = importlib.import_module("costlab.signals")  # via sys.modules, so a stand-in module is honoured
    except ImportError:
        return None
    run = getattr(signals, "run_signals", None)
    if run is None:
        return None
    # The detectors' baselines need history: their default look-back, ending where the report ends.
    # build_report has usually priced that span already, with the report's own periods.
    if ctx.signals_window is not None:
        findings = run(ctx.store, until=ctx.until, prepared=True)
    else:
        findings = run(ctx.store, until=ctx.until)
    counts = signals.counts(findings) if hasattr(signals, "counts") else {}
    cols = [column("severity", "severity", "text"), column("signal", "signal", "text"), column("segment", "segment", "text"),
            column("weekly_impact_usd", "impact / week", "usd"), column("evidence", "evidence", "text"),
            column("suggestion", "suggestion", "text"), column("query", "drill down", "text")]
    if findings.height == 0:
        notes = ["No wrong-model findings."]
    else:
        notes = [f"{findings.height} finding{'s' if findings.height != 1 else ''}, worst first: "
                 + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + "."]
        # One sentence per finding for the text formats; the table (JSON, HTML) has every field.
        table = frame_table("findings", "Findings", cols, findings)
        for row in table["rows"]:
            impact = "impact not in dollars" if row["weekly_impact_usd"] is None else f"${Decimal(row['weekly_impact_usd']):,.2f} a week"
            notes.append(f"[{row['severity']}] {row['signal']} on {row['segment']} ({impact}): {row['evidence']} "
                         f"Suggested: {row['suggestion']} Drill down: {row['query']}")
    return {"title": "Wrong-model findings", "notes": notes, "severity_counts": counts,
            "tables": [{**frame_table("findings", "Findings", cols, findings), "detail": True}] if findings.height else []}
