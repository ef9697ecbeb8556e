"""The reconciliation section: computed cost and logged tokens against the provider's usage reports
or a gateway's reported cost (costlab.reconcile), the rows beyond tolerance first. Absent when the
window has neither.
"""

from __future__ import annotations

from costlab.reconcile import reconcile
from costlab.report.context import ReportContext
from costlab.report.document import column, metric, table
from costlab.report.sections.base import Section

TOLERANCE = 0.01


def build(ctx: ReportContext) -> dict | None:
    """Computed cost and logged tokens against the provider's reports or a gateway's reported cost."""
    w = ctx.window
    present = ctx.store.scalar(
        """select (select count(*) from usage_buckets where starting_at >= $since and starting_at < $until)
                + (select count(*) from requests where reported_cost_usd is not null and ts >= $since and ts < $until)""",
        {"since": w.since, "until": w.until},
    )
    if not present:
        return None
    rec = reconcile(ctx.store, since=w.since, until=w.until, tolerance=TOLERANCE)
    rows = rec.rows.sort(["flagged", "day"], descending=[True, False])
    computed = rows["computed_usd"].sum() if rows.height else None
    reported = rows["reported_usd"].sum() if rows.height else None
    columns = [column("day", "Day", "text"), column("model", "Model", "text"), column("service_tier", "Tier", "text"),
               column("basis", "Basis", "text"), column("token_gap_share", "Token gap", "change"),
               column("computed_usd", "Computed", "usd"), column("reported_usd", "Reported", "usd"),
               column("cost_gap_share", "Cost gap", "change"), column("finding", "Finding", "text")]
    return {
        "notes": [f"Rows whose gap exceeds {TOLERANCE:.0%}, flagged first. `costlab reconcile` has every row."],
        "metrics": [metric("computed_usd", "Computed cost", "usd", computed),
                    metric("reported_usd", "Reported cost", "usd", reported),
                    metric("flagged_rows", "Rows beyond tolerance", "count", rec.flagged)],
        "tables": [table("rows", "Computed against reported", columns,
                         rows.head(ctx.settings.top_n).to_dicts())],
    }


SECTION = Section("reconciliation", "Reconciliation", build, optional=True, priced=False)
