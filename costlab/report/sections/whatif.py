"""The what-if section: the actual routing split against the configured alternatives
([report] target_split and whatif_splits), each with its day-block bootstrap interval, and the
cost-quality Pareto frontier when replays judged every tier (costlab.whatif). Absent when no
alternative is configured or the window has no requests.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from costlab.config import routing_policy
from costlab.display import plural
from costlab.errors import ConfigError
from costlab.report.context import ReportContext
from costlab.report.document import column, table
from costlab.report.sections.base import Section
from costlab.report.sections.cube import cube, sampling, widen
from costlab.money import nusd_to_usd
from costlab.whatif import Scenario, Split, bootstrap, evaluate, frontier, parse_split, reduce
from costlab.whatif.learned import load_policy, needs_texts
from costlab.whatif.scenario import day_resamples
from costlab.whatif.daily_totals import DailyTotals, evaluate_daily_totals, reduce_daily_totals, tier_quality

RESAMPLES = 1000


def build(ctx: ReportContext) -> dict | None:
    """The actual split against the configured alternatives ([report] target_split and
    whatif_splits), each with its day-block bootstrap interval.

    Proportional splits need only per-day totals per tier, so this runs the segment pass aggregate-
    first (costlab.whatif.daily_totals: the week grouped with no price join, the small cube priced on each
    tier): ~1 s for 10M requests, the per-request answer within its own nano-dollar rounding. The
    grouping reads the requests' own columns only (a shadowing costed_requests when it has them all,
    else the base table), so the section is the same inside and outside the report's priced window."""
    alternatives = []
    if ctx.settings.target_split:
        alternatives.append(",".join(f"{t}={share * 100:g}" for t, share in ctx.settings.target_split.items()))
    alternatives += [s for s in ctx.settings.whatif_splits if s not in alternatives]
    policy_path = routing_policy(getattr(ctx.store, "config", None))
    if not alternatives and policy_path is None:
        return None
    seg = reduce_daily_totals(ctx.store, since=ctx.window.since, until=ctx.window.until)
    if seg.n == 0:
        return None
    rows, coverage = [], []
    sample = sampling(cube(ctx))  # a sampled log: its sampling error widens each interval (docs/report.md)
    for text in ["current", *alternatives]:
        res = bootstrap(evaluate_daily_totals(seg, Scenario(parse_split(text))), RESAMPLES)
        lo, hi = res.interval.get("cost_nusd", (None, None))
        if lo is not None:
            lo, hi = widen(float(res.cost), lo, hi, sample, float(seg.actual_total) / 1e9)
        rows.append({
            "scenario": "actual split" if text == "current" else text,
            "mix": "/".join(f"{round(res.tier_share.get(t, 0) * 100)}" for t in seg.tiers),
            "cost_usd": _usd(res.cost), "cost_low_usd": _usd(lo), "cost_high_usd": _usd(hi),
            # always beside it: every request's output tokens as logged (equal when no replay moved them)
            "cost_same_usd": _usd(res.cost_same),
            "vs_actual": float(res.cost) / float(seg.actual_total) - 1 if seg.actual_total else None,
            "quality": res.quality,
            # every quality figure with its n and 95% interval (bootstrap over days)
            "quality_low": res.interval.get("quality", (None, None))[0] if res.quality is not None else None,
            "quality_high": res.interval.get("quality", (None, None))[1] if res.quality is not None else None,
            "quality_n": res.quality_n if res.quality is not None else None,
        })
        if text != "current":
            coverage.append((text, res.coverage))
    learned_notes: list[str] = []
    if policy_path is not None:
        row, learned_notes = _learned(ctx, policy_path, sample)
        if row is not None:
            rows.append(row)
    notes = [f"Tiers {'/'.join(seg.tiers)}; cost intervals are 95% bootstrap intervals over days "
             f"({RESAMPLES:,} resamples). Details and other policies: `costlab whatif`.", *seg.tier_notes]
    notes.append(_coverage_note(seg, coverage))
    notes += learned_notes
    if seg.unpriced:
        notes.append(f"{plural(seg.unpriced, 'unpriced request')} {'is' if seg.unpriced == 1 else 'are'} left out of every scenario.")
    if all(r["quality"] is None for r in rows):
        notes.append("No replay judgements or logged feedback in this window: only cost is simulated.")
    columns = [column("scenario", "Scenario", "text"), column("mix", "Mix %", "text"),
               column("cost_usd", "Cost", "usd"), column("cost_low_usd", "Low", "usd"),
               column("cost_high_usd", "High", "usd"), column("cost_same_usd", "Same tokens", "usd"),
               column("vs_actual", "vs actual", "change")]
    if any(r["quality"] is not None for r in rows):
        columns += [column("quality", "Quality", "ratio"), column("quality_low", "Low", "ratio"),
                    column("quality_high", "High", "ratio"), column("quality_n", "n judged", "count")]
    tables = [table("scenarios", "Routing splits", columns, rows)]
    pareto = _pareto(ctx, seg)
    if pareto is not None:
        notes.append(pareto["notes"].pop())
        tables.append(pareto)
    target = alternatives[0] if ctx.settings.target_split else None
    return {"notes": notes, "tables": tables,
            "model": model(seg, sample, float(seg.actual_total) / 1e9, target)}


def _learned(ctx: ReportContext, path, sample) -> tuple[dict | None, list[str]]:
    """The configured routing policy ([routing] policy, a `costlab route fit` file) over the week, like
    `costlab whatif --policy learned:FILE`: one per-request pass (the policy decides per request, so
    per-day totals do not do), its day-block bootstrap interval, widened for a sampled log like the splits.

    Raises:
        ConfigError: the file cannot be read or is no routing policy (as `costlab signals` says)."""
    policy = load_policy(path)
    name = f"learned:{path.name}"
    red = reduce(ctx.store, since=ctx.window.since, until=ctx.window.until, tz=ctx.window.tz, route_features=True,
                 route_texts=needs_texts(policy))
    if red.n == 0:
        return None, []
    try:
        res = bootstrap(evaluate(red, Scenario(Split(), policy="learned", learned=policy)), RESAMPLES)
    except ConfigError as ex:  # other tiers than the policy's: said, not a failed report
        return None, [f"The routing policy {path.name} ([routing] policy) was not simulated: {ex}"]
    actual = int(red.actual.sum())
    lo, hi = res.interval.get("cost_nusd", (None, None))
    if lo is not None:
        lo, hi = widen(float(res.cost), lo, hi, sample, actual / 1e9)
    row = {
        "scenario": name, "mix": "/".join(f"{round(res.tier_share.get(t, 0) * 100)}" for t in red.tiers),
        "cost_usd": _usd(res.cost), "cost_low_usd": _usd(lo), "cost_high_usd": _usd(hi), "cost_same_usd": _usd(res.cost_same),
        "vs_actual": float(res.cost) / actual - 1 if actual else None, "quality": res.quality,
        "quality_low": res.interval.get("quality", (None, None))[0] if res.quality is not None else None,
        "quality_high": res.interval.get("quality", (None, None))[1] if res.quality is not None else None,
        "quality_n": res.quality_n if res.quality is not None else None,
    }
    data = policy.get("data") or {}
    note = (f"{name}: the routing policy [routing] policy names (fitted on {data.get('requests', '?')} requests of "
            f"{data.get('source', '?')}), applied request by request as `costlab whatif --policy {name}` does; "
            f"`costlab route check {path.name}` says whether this week's traffic still looks like its fit window.")
    return row, [note]


def model(seg: DailyTotals, sample, total_usd: float, target: str | None) -> dict:
    """What the HTML page's what-if control needs to answer any proportional split as
    `costlab whatif --split` does, with no server: costlab.whatif's own results for each tier alone
    (a proportional split's cost is linear in its shares: sum of share x the tier's cost, exact
    nano-dollars, and each day's cost likewise), the day resamples `bootstrap` draws (as counts per
    day), and for each set of tiers a split may use, the per-day quality sums and counts
    `evaluate_daily_totals` gives (which requests count depends only on the tiers used). Small: a
    few numbers per tier and day, and 1,000 x days resample counts."""
    T, D = len(seg.tiers), len(seg.days)
    pure = [evaluate_daily_totals(seg, Scenario(Split(((t, Fraction(1)),)))) for t in seg.tiers]
    idx = day_resamples(D, RESAMPLES)
    counts = np.zeros((RESAMPLES, D), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(RESAMPLES), D), idx.ravel()), 1)
    quality = {}
    for mask in range(1, 1 << T):
        used = [t for k, t in enumerate(seg.tiers) if mask >> k & 1]
        res = evaluate_daily_totals(seg, Scenario(Split(tuple((t, Fraction(1, len(used))) for t in used))))
        if res.day_qsum is not None:
            quality[str(mask)] = {"qsum": res.day_qsum.tolist(), "qn": res.day_qn.tolist(), "n": res.quality_n}
    return {
        "tiers": list(seg.tiers), "days": [str(d) for d in seg.days], "n": seg.n,
        "actual_nusd": str(seg.actual_total),
        "tier_nusd": [str(Fraction(r.cost)) for r in pure],  # whole nano-dollars: the cost at 100% on the tier
        "tier_day_nusd": [[float(x) for x in r.day_cost] for r in pure],  # [T][D]
        "resample_counts": counts.tolist(), "level": 0.95,
        # the sampling error's widening (sections.cube.widen): relative standard error of the spend
        "rse": (sample.cost_se_usd / total_usd) if sample.sampled and total_usd else 0.0,
        "current": {t: float(seg.shown[i]) / max(seg.n, 1) for i, t in enumerate(seg.tiers)},
        "target": target, "quality": quality,
    }


def _pareto(ctx: ReportContext, seg: DailyTotals) -> dict | None:
    """The cost-quality Pareto frontier of every proportional split (1% steps: 5,151 for three
    tiers), when replays give quality on every tier; chart data (a detail table), drawn with the
    scenarios above as points. Without replay judgements a tier's quality is only the feedback of
    the traffic it happened to serve, so no frontier is drawn from it."""
    if len(seg.tiers) < 2 or not ctx.store.scalar(  # runs against a test server, or excluded, are no evidence
            "select exists (select 1 from judgements j where not exists "
            "(select 1 from replay_runs_ignored i where i.run = j.run))"):
        return None
    qbar = tier_quality(seg)
    if qbar is None or not np.isfinite(qbar).all():
        return None
    fr = frontier.proportional(seg, quality=qbar)
    # the frontier is chosen on float dollars; each point's cost is shown exact (nano-dollars)
    totals = [int(c) + int(w) for c, w in zip(seg.totals["cost"], seg.totals["warmup"])]
    # each point's quality with its 95% interval (days resampled, as the scenarios') and n judged
    low, high, n = frontier.proportional_quality_intervals(
        seg.q_day, seg.q_sum, seg.q_n, seg.q_mask, len(seg.days), fr.splits[fr.hull], RESAMPLES)
    rows = [{"split": ",".join(f"{t}={p}" for t, p in zip(fr.tiers, fr.splits[i])),
             "mix": "/".join(str(p) for p in fr.splits[i]),
             "cost_usd": _usd(Fraction(sum(int(p) * t for p, t in zip(fr.splits[i], totals)), 100)),
             "quality": float(fr.quality[i]), "quality_low": _num(low[j]), "quality_high": _num(high[j]),
             "quality_n": int(n[j])} for j, i in enumerate(fr.hull)]
    columns = [column("split", "Split", "text"), column("mix", "Mix %", "text"),
               column("cost_usd", "Cost", "usd"), column("quality", "Quality", "ratio"),
               column("quality_low", "Low", "ratio"), column("quality_high", "High", "ratio"),
               column("quality_n", "n judged", "count")]
    note = (f"Pareto frontier: the {len(rows):,} of the {len(fr.splits):,} splits in 1% steps that lie on the convex hull "
            "of cost vs quality (no mix of other splits beats them; quality per tier from replay judgements; chart in "
            "the HTML report, points in the JSON).")
    return table("frontier", "Cost-quality Pareto frontier", columns, rows, detail=True, notes=[note])


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def _coverage_note(seg: DailyTotals, coverage: list[tuple[str, dict]]) -> str:
    """What the scenarios' output tokens rest on: paired replays, else the logged count."""
    paired = [(text, c["replay"]) for text, c in coverage if c["replay"]["requests"] > 0]
    head = (f"Output tokens ({seg.options.output_tokens}): a request answered on a tier it did not run on keeps its "
            "logged output tokens unless it was replayed on that tier (paired evidence)")
    if not paired:
        return head + "; no request in this window was, so Cost and Same tokens are equal."
    return head + "; " + "; ".join(f"{text}: {c['requests']:.1%} of answers ({c['tokens']:.1%} of output tokens) "
                                   "rest on a replay" for text, c in paired) + ". Same tokens: none moved."


def _usd(nusd):
    """Exact nano-dollars (int, Fraction or a bootstrap float) as the report's USD string."""
    return None if nusd is None else nusd_to_usd(Fraction(nusd))


# Runs after the priced window: costlab.whatif reads its own window (the same with or without it).
SECTION = Section("whatif", "What if", build, optional=True, priced=False)
