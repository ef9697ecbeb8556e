"""Report sections that come from the other analyses: the what-if headline and the reconciliation
against the bill. Each returns None (the section is absent) when its data or configuration is not
there for the window; never a placeholder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from costlab.report.model import column, metric, table

if TYPE_CHECKING:
    from costlab.report.build import ReportContext

RESAMPLES = 1000
TOLERANCE = 0.01


def whatif(ctx: "ReportContext") -> dict | None:
    """The actual split against the configured alternatives ([report] target_split and
    whatif_splits), each with its day-block bootstrap interval.

    Proportional splits need only per-day totals per tier, so this runs the segment pass aggregate-
    first (costlab.whatif.daily_totals: the week grouped with no price join, the small cube priced on each
    tier): ~1 s for 10M requests, the per-request answer within its own nano-dollar rounding. The
    grouping reads the requests' own columns only (a shadowing costed_requests when it has them all,
    else the base table), so the section is the same inside and outside the report's priced window."""
    from costlab.whatif import Scenario, bootstrap, parse_split
    from costlab.whatif.daily_totals import evaluate_daily_totals, reduce_daily_totals

    alternatives = []
    if ctx.settings.target_split:
        alternatives.append(",".join(f"{t}={share * 100:g}" for t, share in ctx.settings.target_split.items()))
    alternatives += [s for s in ctx.settings.whatif_splits if s not in alternatives]
    if not alternatives:
        return None
    seg = reduce_daily_totals(ctx.store, since=ctx.window.since, until=ctx.window.until)
    if seg.n == 0:
        return None
    rows = []
    for text in ["current", *alternatives]:
        res = bootstrap(evaluate_daily_totals(seg, Scenario(parse_split(text))), RESAMPLES)
        lo, hi = res.interval.get("cost_nusd", (None, None))
        rows.append({
            "scenario": "actual split" if text == "current" else text,
            "mix": "/".join(f"{round(res.tier_share.get(t, 0) * 100)}" for t in seg.tiers),
            "cost_usd": _usd(res.cost), "cost_low_usd": _usd(lo), "cost_high_usd": _usd(hi),
            "vs_actual": float(res.cost) / float(seg.actual_total) - 1 if seg.actual_total else None,
            "quality": res.quality,
        })
    notes = [f"Tiers {'/'.join(seg.tiers)}; cost intervals are 95% bootstrap intervals over days "
             f"({RESAMPLES:,} resamples). Details and other policies: `costlab whatif`."]
    if seg.unpriced:
        notes.append(f"{seg.unpriced:,} unpriced requests are left out of every scenario.")
    if all(r["quality"] is None for r in rows):
        notes.append("No replay judgements or logged feedback in this window: only cost is simulated.")
    columns = [column("scenario", "Scenario", "text"), column("mix", "Mix %", "text"),
               column("cost_usd", "Cost", "usd"), column("cost_low_usd", "Low", "usd"),
               column("cost_high_usd", "High", "usd"), column("vs_actual", "vs actual", "change")]
    if any(r["quality"] is not None for r in rows):
        columns.append(column("quality", "Quality", "ratio"))
    tables = [table("scenarios", "Routing splits", columns, rows)]
    pareto = _pareto(ctx, seg)
    if pareto is not None:
        notes.append(pareto["notes"].pop())
        tables.append(pareto)
    return {"title": "What if", "notes": notes, "tables": tables}


def _pareto(ctx: "ReportContext", seg) -> dict | None:
    """The cost-quality Pareto frontier of every proportional split (1% steps: 5,151 for three
    tiers), when replays give quality on every tier; chart data (a detail table), drawn with the
    scenarios above as points. Without replay judgements a tier's quality is only the feedback of
    the traffic it happened to serve, so no frontier is drawn from it."""
    import numpy as np

    from costlab.whatif import frontier
    from costlab.whatif.daily_totals import tier_quality

    if len(seg.tiers) < 2 or not ctx.store.scalar("select exists (select 1 from judgements)"):
        return None
    qbar = tier_quality(seg)
    if qbar is None or not np.isfinite(qbar).all():
        return None
    from fractions import Fraction

    fr = frontier.proportional(seg, quality=qbar)
    # the frontier is chosen on float dollars; each point's cost is shown exact (nano-dollars)
    totals = [int(c) + int(w) for c, w in zip(seg.totals["cost"], seg.totals["warmup"])]
    rows = [{"split": ",".join(f"{t}={p}" for t, p in zip(fr.tiers, fr.splits[i])),
             "mix": "/".join(str(p) for p in fr.splits[i]),
             "cost_usd": _usd(Fraction(sum(int(p) * t for p, t in zip(fr.splits[i], totals)), 100)),
             "quality": float(fr.quality[i])} for i in fr.pareto]
    columns = [column("split", "Split", "text"), column("mix", "Mix %", "text"),
               column("cost_usd", "Cost", "usd"), column("quality", "Quality", "ratio")]
    note = (f"Pareto frontier: {len(rows):,} of the {len(fr.splits):,} splits in 1% steps are not beaten on both cost "
            "and quality (quality per tier from replay judgements; chart in the HTML report, points in the JSON).")
    return table("frontier", "Cost-quality Pareto frontier", columns, rows, detail=True, notes=[note])


def reconciliation(ctx: "ReportContext") -> dict | None:
    """Computed cost and logged tokens against the provider's reports or a gateway's reported cost."""
    from costlab.reconcile import reconcile

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
               column("basis", "Basis", "text"), column("token_gap_pct", "Token gap", "change"),
               column("computed_usd", "Computed", "usd"), column("reported_usd", "Reported", "usd"),
               column("cost_gap_pct", "Cost gap", "change"), column("finding", "Finding", "text")]
    return {
        "title": "Reconciliation",
        "notes": [f"Rows whose gap exceeds {TOLERANCE:.0%}, flagged first. `costlab reconcile` has every row."],
        "metrics": [metric("computed_usd", "Computed cost", "usd", computed),
                    metric("reported_usd", "Reported cost", "usd", reported),
                    metric("flagged_rows", "Rows beyond tolerance", "count", rec.flagged)],
        "tables": [table("rows", "Computed against reported", columns,
                         rows.head(ctx.settings.top_n).to_dicts())],
    }


def _usd(nusd):
    """Exact nano-dollars (int, Fraction or a bootstrap float) as the report's USD string."""
    from fractions import Fraction

    from costlab.whatif import nusd_to_usd

    return None if nusd is None else nusd_to_usd(Fraction(nusd))
