"""The cost-quality frontier: every split on a 1% grid (5,151 for three tiers) or a policy's sweep,
the Pareto set, and RouteLLM/RouterBench metrics with dollars on the cost axis.

Definitions (RouteLLM `evals/evaluate.py`, RouterBench `evaluation/AIQ.py`), with cost in dollars:
  weak = every request on the cheapest tier, strong = every request on the most expensive tier.
  PGR(point)  = (q - q_weak) / (q_strong - q_weak)
  u(point)    = (cost - cost_weak) / (cost_strong - cost_weak)   the normalised cost (RouteLLM: strong-call share)
  CPT(x)      = the least cost (in dollars, and as u) at which the frontier reaches PGR >= x
  APGR        = area under the frontier's PGR over u in [0, 1] (trapezoids between frontier points,
                the curve held non-decreasing and extended flat to u = 1)
  AIQ         = area under the non-decreasing upper convex hull of (cost, quality) over [min cost, max cost],
                divided by that cost range (an average quality; RouterBench normalises by the cost range)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from costlab.display import ScriptSafeJSON
from costlab.errors import ConfigError
from costlab.money import NANOS_PER_USD
from costlab.whatif.arrays import Reduction, tier_quality
from costlab.whatif.policies import complexity_scores, percentile_buckets


def grid(tiers: int, step: int = 1) -> np.ndarray:
    """Every split of 100% over `tiers` tiers in `step`% steps, as int percentages [k, tiers]."""
    if tiers == 1:
        return np.array([[100]])
    if tiers == 2:
        a = np.arange(0, 101, step)
        return np.column_stack([a, 100 - a])
    if tiers == 3:
        a, b = np.meshgrid(np.arange(0, 101, step), np.arange(0, 101, step), indexing="ij")
        a, b = a.ravel(), b.ravel()
        keep = a + b <= 100
        return np.column_stack([a[keep], b[keep], 100 - a[keep] - b[keep]])
    raise ConfigError(f"the split grid covers two or three tiers; {tiers} are configured: choose three with --tiers")


@dataclass
class Frontier:
    splits: np.ndarray  # [k, T] int percentages
    cost: np.ndarray  # [k] dollars
    quality: np.ndarray  # [k]
    pareto: np.ndarray  # indices into splits, cheapest first
    tiers: tuple[str, ...]
    policy: str


def proportional(reduction: Reduction, step: int = 1, quality: np.ndarray | None = None) -> Frontier:
    """Every grid split under the proportional policy: cost and quality are linear in the split, so
    the whole grid is one matrix product over the tier totals."""
    g = grid(len(reduction.tiers), step)
    S = reduction.day_totals("cost")[0].astype(np.float64) + reduction.day_totals("warmup")[0]
    cost = g @ S / 100 / NANOS_PER_USD
    qbar = tier_quality(reduction) if quality is None else quality
    q = g @ np.nan_to_num(qbar) / 100 if qbar is not None else np.full(len(g), np.nan)
    return Frontier(g, cost, q, pareto_set(cost, q), reduction.tiers, "proportional")


def complexity(reduction: Reduction, step: int = 1, weights: dict[str, float] | None = None) -> Frontier:
    """Every grid split under the complexity policy. Split boundaries fall on whole percents of the
    requests, so one partial sort into 100 score buckets and per-bucket tier totals (int64, exact)
    give every split's cost as prefix sums over buckets: no full sort, a few lookups per split."""
    T = len(reduction.tiers)
    g = grid(T, step)
    bucket = percentile_buckets(complexity_scores(reduction, weights), 100)
    pct_end = np.cumsum(g, axis=1)  # whole percents: the first pct_end[:, t] buckets are tiers <= t
    pct_lo = np.hstack([np.zeros((len(g), 1), dtype=np.int64), pct_end[:, :-1]])
    cost = np.zeros(len(g))
    qsum = np.zeros(len(g))
    qn = np.zeros(len(g))
    for t in range(T):
        col = reduction.cost[:, t] + reduction.warmup[:, t]
        per_b = np.zeros(101, dtype=np.int64)
        per_b[1:] = np.cumsum(_int_bincount(bucket, col, 100))
        cost += (per_b[pct_end[:, t]] - per_b[pct_lo[:, t]]).astype(np.float64)
        known = np.isfinite(reduction.quality[:, t])
        if known.any():
            per_bucket = np.bincount(bucket[known], weights=reduction.quality[known, t], minlength=100)
            cq = np.concatenate([[0.0], np.cumsum(per_bucket)])
            ck = np.concatenate([[0], np.cumsum(np.bincount(bucket[known], minlength=100))])
            qsum += cq[pct_end[:, t]] - cq[pct_lo[:, t]]
            qn += ck[pct_end[:, t]] - ck[pct_lo[:, t]]
    cost /= NANOS_PER_USD
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(qn > 0, qsum / qn, np.nan)
    return Frontier(g, cost, q, pareto_set(cost, q), reduction.tiers, "complexity")


def _int_bincount(bucket: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Exact int64 sums of non-negative int64 values per bucket. np.bincount sums in float64, exact
    only below 2**53; splitting each value into 24-bit halves keeps every partial sum far below it."""
    v = values.astype(np.int64)
    lo = np.bincount(bucket, weights=(v & 0xFFFFFF).astype(np.float64), minlength=k)
    hi = np.bincount(bucket, weights=(v >> 24).astype(np.float64), minlength=k)
    return (hi.astype(np.int64) << 24) + lo.astype(np.int64)


def pareto_set(cost: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both cost (lower) and quality (higher), cheapest first."""
    quality = np.where(np.isnan(quality), -np.inf, quality)
    if np.isinf(quality).all():
        return np.array([int(np.argmin(cost))]) if len(cost) else np.zeros(0, dtype=np.int64)
    order = np.lexsort((-quality, cost))
    best = -np.inf
    keep = []
    for i in order:
        if quality[i] > best + 1e-12:
            keep.append(i)
            best = quality[i]
    return np.array(keep, dtype=np.int64)


@dataclass
class Metrics:
    q_weak: float
    q_strong: float
    cost_weak: float
    cost_strong: float
    apgr: float
    cpt: dict[float, tuple[float, float]]  # x -> (dollars, normalised cost u)
    aiq: float


def metrics(cost: np.ndarray, quality: np.ndarray, cost_weak: float, cost_strong: float, q_weak: float,
            q_strong: float, targets: tuple[float, ...] = (0.2, 0.5, 0.8), envelope: bool = True) -> Metrics:
    """PGR/CPT/APGR (RouteLLM) and AIQ (RouterBench) of a set of (cost, quality) points.

    envelope=True integrates the best quality reachable at each cost (a frontier of many splits);
    envelope=False integrates the points as they are, as RouteLLM does for one router's threshold
    sweep (a running maximum over noisy points would bias a random router's APGR above 0.5)."""
    if q_strong == q_weak or cost_strong == cost_weak:
        raise ConfigError("the cheapest and the most expensive tier have the same quality or cost: PGR is undefined")
    u = (np.asarray(cost) - cost_weak) / (cost_strong - cost_weak)
    pgr = (np.asarray(quality) - q_weak) / (q_strong - q_weak)
    order = np.argsort(u, kind="stable")
    u, p = np.clip(u[order], 0, 1), (np.maximum.accumulate(pgr[order]) if envelope else pgr[order])
    xs = np.concatenate([[0.0], u, [1.0]])
    ys = np.concatenate([[p[0] if u[0] <= 0 else 0.0], p, [p[-1]]])
    apgr = float(np.trapezoid(ys, xs))
    cpt = {}
    for x in targets:  # the least cost whose point reaches PGR x
        hit = np.nonzero(p >= x - 1e-12)[0]
        if len(hit):
            k = hit[0]
            cpt[x] = (float(cost_weak + u[k] * (cost_strong - cost_weak)), float(u[k]))
        else:
            cpt[x] = (float("nan"), float("nan"))
    return Metrics(q_weak, q_strong, cost_weak, cost_strong, apgr, cpt, aiq(cost, quality))


def aiq(cost: np.ndarray, quality: np.ndarray) -> float:
    """Area under the non-decreasing upper convex hull of the points, over the cost range, / the range."""
    c, q = np.asarray(cost, float), np.asarray(quality, float)
    ok = np.isfinite(c) & np.isfinite(q)
    c, q = c[ok], q[ok]
    if len(c) == 0 or c.max() == c.min():
        return float(q.max()) if len(q) else float("nan")
    order = np.lexsort((-q, c))
    hull: list[tuple[float, float]] = []
    for x, y in zip(c[order], q[order]):
        if hull and y <= hull[-1][1]:  # non-decreasing: a costlier point that is no better adds nothing
            continue
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) >= 0:  # hull[-1] lies under the chord: drop it
                hull.pop()
            else:
                break
        hull.append((x, y))
    hx = np.array([h[0] for h in hull] + [c.max()])
    hy = np.array([h[1] for h in hull] + [hull[-1][1]])
    return float(np.trapezoid(hy, hx) / (c.max() - c.min()))


def frontier_metrics(reduction: Reduction, fr: Frontier) -> Metrics | None:
    qbar = tier_quality(reduction)
    if qbar is None:
        return None
    S = (reduction.day_totals("cost")[0] + reduction.day_totals("warmup")[0]) / NANOS_PER_USD
    return metrics(fr.cost, fr.quality, float(S[0]), float(S[-1]), float(qbar[0]), float(qbar[-1]))


def chart(frontiers: list[Frontier], path: str | Path) -> Path:
    """An Altair chart of every evaluated split (faint) and each Pareto frontier (line) to a file
    (.html, .json; .png/.svg need vl-convert)."""
    import altair as alt  # heavy, and only for a chart
    import polars as pl

    rows = []
    for fr in frontiers:
        on = np.zeros(len(fr.cost), dtype=bool)
        on[fr.pareto] = True
        labels = [",".join(f"{t}={p}" for t, p in zip(fr.tiers, s)) for s in fr.splits]
        rows.append(pl.DataFrame({"policy": fr.policy, "split": labels, "cost_usd": fr.cost,
                                  "quality": fr.quality, "pareto": on}))
    data = alt.Data(values=pl.concat(rows).to_dicts())
    base = alt.Chart(data).encode(
        x=alt.X("cost_usd:Q", title="cost (USD)"), y=alt.Y("quality:Q", title="quality", scale=alt.Scale(zero=False)),
        color=alt.Color("policy:N"), tooltip=["policy:N", "split:N", "cost_usd:Q", "quality:Q"])
    points = base.mark_circle(size=8, opacity=0.25)
    line = base.transform_filter("datum.pareto").mark_line(point=True)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    (points + line).properties(title="cost vs quality: every split, Pareto frontier as a line",
                               width=560, height=360).save(str(out), json_kwds={"cls": ScriptSafeJSON})
    return out
