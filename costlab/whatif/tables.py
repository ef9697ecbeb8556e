"""The what-if answers as frames, the rows `costlab whatif` prints: one per scenario (cost with its
interval, quality, tier shares), one per frontier split (with PGR), and the backtest's one row.

Money stays exact: nano-dollars (integers or Fractions) become Decimal dollars with 9 places.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Iterable

import numpy as np
import polars as pl

from costlab.whatif.frontier import frontier_metrics, reduction_quality_intervals
from costlab.whatif.scenario import nusd_to_usd

if TYPE_CHECKING:
    from costlab.whatif.backtest import Backtest
    from costlab.whatif.frontier import Frontier, RandomRouter
    from costlab.whatif.reduce import Reduction
    from costlab.whatif.scenario import Result


def usd(nusd: float | int | Fraction) -> Decimal:
    """Nano-dollars as exact Decimal dollars (9 places)."""
    return Decimal(nusd_to_usd(Fraction(nusd)))


def scenario_table(red: "Reduction", results: Iterable["Result"]) -> pl.DataFrame:
    """One row per evaluated scenario: cost and its 95% interval, the same with every output token as
    logged beside it, against the logged cost of the same requests, warm-up, quality and its interval,
    each tier's share, which output-token rule covered how much of the traffic, requests counted."""
    return pl.DataFrame([scenario_row(red, res) for res in results], infer_schema_length=None)


# the output-token rules (costlab.whatif.arrays.OUT_SOURCES) as the table names them
COVERAGE_COLUMNS = {"own": "logged", "replay": "paired", "observed": "observed", "same": "same"}


def scenario_row(red: "Reduction", res: "Result") -> dict:
    actual = res.actual if res.n_window else int(red.actual.sum())
    lo, hi = res.interval.get("cost_nusd", (None, None))
    slo, shi = res.interval.get("cost_same_nusd", (None, None))
    qlo, qhi = res.interval.get("quality", (None, None))
    same = res.cost_same if res.cost_same is not None else res.cost
    row = {
        "scenario": res.label,
        "cost_usd": usd(res.cost),
        "cost_low_usd": usd(lo) if lo is not None else None,
        "cost_high_usd": usd(hi) if hi is not None else None,
        # always beside it: the same scenario with every request's output tokens as logged
        "cost_same_tokens_usd": usd(same),
        "cost_same_tokens_low_usd": usd(slo) if slo is not None else None,
        "cost_same_tokens_high_usd": usd(shi) if shi is not None else None,
        "output_tokens": res.output_mode,
        # like with like: the logged cost of the requests the scenario covers
        "actual_usd": usd(actual),
        "vs_actual_pct": round((float(res.cost) / actual - 1) * 100, 2) if actual else None,
        "same_tokens_vs_actual_pct": round((float(same) / actual - 1) * 100, 2) if actual else None,
        "warmup_usd": usd(res.cost - res.cost_no_warmup),
        "quality": res.quality,
        "quality_low": qlo,
        "quality_high": qhi,
        "quality_n": res.quality_n,
    }
    row.update({f"{t}_share": round(v, 4) for t, v in res.tier_share.items()})
    for what in ("requests", "tokens"):
        for k, name in COVERAGE_COLUMNS.items():
            share = res.coverage.get(k, {}).get(what)
            row[f"output_{name}_{what}_share"] = round(share, 4) if share is not None else None
    row["requests"] = res.n if res.n_window else red.n
    row["window_requests"] = res.n_window or red.n
    row["unpriced_requests"] = red.unpriced
    return row


def coverage_note(res: "Result") -> str:
    """One line: which output-token rule covered how much of a scenario's answers."""
    cov = res.coverage
    parts = [f"{cov[k]['requests']:.1%} of answers ({cov[k]['tokens']:.1%} of output tokens) {label}"
             for k, label in (("own", "ran on that tier (logged)"), ("replay", "rest on a paired replay"),
                              ("observed", "on an observed ratio"), ("same", "keep the logged output tokens"))
             if k in cov and (cov[k]["requests"] or k in ("replay", "same"))]
    return f"{res.label}: output tokens ({res.output_mode}): " + "; ".join(parts)


def frontier_table(red: "Reduction", frontiers: list["Frontier"], all_points: bool = False,
                   rand: "RandomRouter | None" = None, relative: bool = False) -> tuple[pl.DataFrame, list[str]]:
    """The frontier of each policy, one row per grid split on its convex hull (every split with
    `all_points`): cost, quality, PGR, and which frontier it is on (`on_hull`: on the convex hull of
    what is achievable, the frontier; `hull_vertex`: one of its corners, the Pareto set; `grid_pareto`:
    no other grid split beats it on both, the 1% staircase); then the random router's levels (mean
    quality over seeds, and the lowest and highest). One note per frontier with its metrics (APGR,
    AIQ, CPT on the hull), or saying it is cost only when nothing is judged. `relative`: cost is a
    share of all-on-the-strongest-tier (no dollars: `relative_cost`)."""
    rows, notes = [], []
    money = "relative_cost" if relative else "cost_usd"
    m = None
    for fr in frontiers:
        m = frontier_metrics(red, fr)
        if m is None:
            notes.append("no judged quality or feedback: the frontier is cost only (the cheapest split)")
        else:
            unit = (lambda c: f"{c / m.cost_strong:.3f}x") if relative else (lambda c: f"${c:,.2f}" if c >= 100 else f"${c:.4g}")
            notes.append(f"{fr.policy}: APGR {m.apgr:.3f}, AIQ {m.aiq:.4f} (on the convex hull), "
                         + ", ".join(f"CPT({int(x * 100)}%) {unit(c)} (u={u:.2f})" for x, (c, u) in m.cpt.items())
                         + f"; weak {red.tiers[0]} {unit(m.cost_weak)} q={m.q_weak:.3f}, strong {red.tiers[-1]} "
                         f"{unit(m.cost_strong)} q={m.q_strong:.3f}; {len(fr.vertices)} hull vertices, "
                         f"{len(fr.hull):,} grid splits on the hull, {len(fr.pareto):,} on the grid's Pareto staircase; "
                         "quality_low..quality_high is each split's 95% interval (whole days resampled), quality_n "
                         "the judged requests its quality rests on")
        idx = np.arange(len(fr.cost)) if all_points else fr.hull
        # every quality with its 95% interval (whole days resampled) and the requests it rests on
        if fr.quality_n is not None:
            low, high, n_q = fr.quality_low[idx], fr.quality_high[idx], fr.quality_n[idx]
        else:
            low, high, n_q = reduction_quality_intervals(red, fr.splits[idx])
        on, corner, stair = set(fr.hull.tolist()), set(fr.vertices.tolist()), set(fr.pareto.tolist())
        top = m.cost_strong if m is not None else (float(np.nanmax(fr.cost)) or 1.0)
        for j, i in enumerate(idx):
            row = {"policy": fr.policy}
            row.update({f"{t}_pct": int(p) for t, p in zip(fr.tiers, fr.splits[i])})
            row[money] = fr.cost[i] / top if relative else usd(fr.cost[i] * 1e9)
            row["quality"] = None if not np.isfinite(fr.quality[i]) else float(fr.quality[i])
            known = row["quality"] is not None
            row["quality_low"] = float(low[j]) if known and np.isfinite(low[j]) else None
            row["quality_high"] = float(high[j]) if known and np.isfinite(high[j]) else None
            row["quality_n"] = int(n_q[j]) if known else None
            if m is not None:
                row["pgr"] = float((fr.quality[i] - m.q_weak) / (m.q_strong - m.q_weak))
            row.update(on_hull=i in on, hull_vertex=i in corner, grid_pareto=i in stair)
            rows.append(row)
    if rand is not None and m is not None:
        mean, lo, hi = rand.apgr(m)
        notes.append(f"random router (the baseline any router must beat): APGR {mean:.3f} (range {lo:.3f}..{hi:.3f} "
                     f"over {rand.seeds} seeds); quality_low..quality_high is its range over the seeds at each level, "
                     f"over {rand.n_quality:,} requests known on every tier (quality_n)")
        top = m.cost_strong
        for k in range(len(rand.cost)):
            row = {"policy": f"random router ({rand.seeds} seeds)"}
            row.update({f"{t}_pct": int(p) for t, p in zip(rand.tiers, rand.shares[k])})
            row[money] = rand.cost[k] / top if relative else usd(round(rand.cost[k] * 1e9))
            row.update(quality=float(rand.quality[k]), quality_low=float(rand.quality_low[k]),
                       quality_high=float(rand.quality_high[k]), quality_n=int(rand.n_quality),
                       pgr=float((rand.quality[k] - m.q_weak) / (m.q_strong - m.q_weak)),
                       on_hull=False, hull_vertex=False, grid_pareto=False)
            rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None), notes


def backtest_table(bt: "Backtest") -> pl.DataFrame:
    """The backtest as one row: actual and predicted cost, the error, and each period's tier split."""
    return pl.DataFrame([{
        "train_requests": bt.train_requests, "test_requests": bt.test_requests,
        "actual_usd": usd(bt.actual_nusd), "predicted_usd": usd(bt.predicted_nusd),
        "error_pct": round(bt.error * 100, 3),
        "predicted_tier_only_usd": usd(bt.predicted_tier_only_nusd),
        "error_tier_only_pct": round(bt.error_tier_only * 100, 3),
        **{f"train_{t}": round(v, 4) for t, v in bt.train_split.items()},
        **{f"test_{t}": round(v, 4) for t, v in bt.test_split.items()},
    }])
