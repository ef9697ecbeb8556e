"""The cost-quality frontier: every split on a 1% grid (5,151 for three tiers) or a policy's sweep,
its convex hull (the frontier), the grid's own Pareto staircase, RouteLLM/RouterBench metrics with
dollars on the cost axis, and the random router every router must beat.

Two frontiers, and which is which:
  hull         the non-decreasing upper convex hull of the achievable (cost, quality) points
               (RouterBench): any two points are mixed by routing a share of requests by each, so
               every point of a hull edge is achievable. THE frontier: its vertices are the Pareto
               set, its points on the grid are the table's rows, and APGR, CPT and AIQ are read off it.
  grid Pareto  the grid points no other GRID point beats on both cost and quality (a staircase): a
               point under a hull edge is on it, although a mix of two others beats it.

Definitions (RouteLLM `evals/evaluate.py`, RouterBench `evaluation/AIQ.py`), with cost in dollars:
  weak = every request on the cheapest tier, strong = every request on the most expensive tier.
  PGR(point)  = (q - q_weak) / (q_strong - q_weak)
  u(point)    = (cost - cost_weak) / (cost_strong - cost_weak)   the normalised cost (RouteLLM: strong-call share)
  CPT(x)      = the least cost (in dollars, and as u) at which the hull reaches PGR >= x (on an edge:
                interpolated, a mix of its two ends)
  APGR        = area under the hull's PGR over u in [0, 1] (linear between vertices, 0 before the
                cheapest point when it costs more than the weak one, flat after the best one)
  AIQ         = area under the hull over [min cost, max cost], divided by that cost range (an average
                quality; RouterBench normalises by the cost range)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from costlab import vega
from costlab.errors import ConfigError
from costlab.money import NANOS_PER_USD
from costlab.whatif.arrays import Reduction, tier_quality
from costlab.whatif.policies import complexity_scores, percentile_buckets

BOOTSTRAP_RESAMPLES = 1000  # as costlab.whatif.bootstrap's default


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
    pareto: np.ndarray  # the grid's Pareto staircase: indices into splits, cheapest first
    tiers: tuple[str, ...]
    policy: str
    hull: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # grid points on the hull, cheapest first
    vertices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # the hull's vertices: the Pareto set
    # each split's quality 95% interval (day-block bootstrap) and the requests it rests on; None until
    # computed (complexity fills them; proportional_quality_intervals gives them for a proportional grid)
    quality_low: np.ndarray | None = None
    quality_high: np.ndarray | None = None
    quality_n: np.ndarray | None = None

    def __post_init__(self):
        if not len(self.vertices) and len(self.cost):
            self.vertices, self.hull = hull_points(self.cost, self.quality)


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
    low, high = _complexity_intervals(reduction, bucket, pct_lo, pct_end)
    return Frontier(g, cost, q, pareto_set(cost, q), reduction.tiers, "complexity",
                    quality_low=low, quality_high=high, quality_n=qn.astype(np.int64))


def _complexity_intervals(reduction: Reduction, bucket: np.ndarray, pct_lo: np.ndarray, pct_end: np.ndarray,
                          resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each complexity split's quality interval: per-day, per-bucket quality sums and counts on each
    tier, whole days resampled (the draws costlab.whatif.bootstrap makes), each split's buckets summed."""
    D, T, k = len(reduction.days), len(reduction.tiers), len(pct_lo)
    if D == 0:
        return np.full(k, np.nan), np.full(k, np.nan)
    idx = np.random.default_rng(seed).integers(0, D, size=(resamples, D))
    counts = np.zeros((resamples, D))  # how often each day is drawn in each resample
    np.add.at(counts, (np.repeat(np.arange(resamples), D), idx.ravel()), 1)
    qsum = np.zeros((resamples, k))
    qn = np.zeros((resamples, k))
    for t in range(T):
        known = np.isfinite(reduction.quality[:, t])
        if not known.any():
            continue
        cell = reduction.day[known].astype(np.int64) * 100 + bucket[known]
        s = np.bincount(cell, weights=reduction.quality[known, t], minlength=D * 100).reshape(D, 100)
        c = np.bincount(cell, minlength=D * 100).reshape(D, 100).astype(np.float64)
        cs = np.hstack([np.zeros((resamples, 1)), np.cumsum(counts @ s, axis=1)])  # [B, 101]
        cc = np.hstack([np.zeros((resamples, 1)), np.cumsum(counts @ c, axis=1)])
        qsum += cs[:, pct_end[:, t]] - cs[:, pct_lo[:, t]]
        qn += cc[:, pct_end[:, t]] - cc[:, pct_lo[:, t]]
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(qn > 0, qsum / qn, np.nan)
    return _percentiles(q)


def _percentiles(q: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Per column of [B, k] bootstrap draws: the percentile interval (NaN where every draw is NaN)."""
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    ok = ~np.isnan(q).all(axis=0)
    low, high = np.full(q.shape[1], np.nan), np.full(q.shape[1], np.nan)
    if ok.any():
        low[ok], high[ok] = np.nanpercentile(q[:, ok], [lo, hi], axis=0)
    return low, high


def proportional_quality_intervals(day: np.ndarray, qsum: np.ndarray, qn: np.ndarray, known: np.ndarray, days: int,
                                   splits: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, n) for proportional splits [k, T] (percentages): the quality the frontier gives
    them (tier_quality: per-tier means over the requests known on every tier, else each tier's
    own, combined by the split's shares), its 95% interval by resampling whole days (the draws
    costlab.whatif.bootstrap makes), and the requests it rests on (known on a tier the split uses).
    Rows are requests (or aggregated rows): day index, quality sum [.., T], count, known mask [.., T]."""
    splits = np.asarray(splits, dtype=np.float64).reshape(-1, known.shape[1])
    T, k = known.shape[1], len(splits)
    both = known.all(axis=1) & (qn > 0)
    use = np.broadcast_to(both[:, None], known.shape) if both.any() else known
    on = splits > 0
    n = np.zeros(k, dtype=np.int64)
    for pattern in np.unique(on, axis=0):  # at most 2**T - 1 sets of tiers used
        rows = (on == pattern).all(axis=1)
        n[rows] = int(qn[use[:, pattern].any(axis=1)].sum())
    if days == 0:
        return np.full(k, np.nan), np.full(k, np.nan), n
    per_sum, per_n = np.zeros((days, T)), np.zeros((days, T))
    for t in range(T):
        mk = use[:, t]
        per_sum[:, t] = np.bincount(day[mk], weights=np.where(mk, qsum[:, t], 0.0)[mk], minlength=days)
        per_n[:, t] = np.bincount(day[mk], weights=qn[mk], minlength=days)
    idx = np.random.default_rng(seed).integers(0, days, size=(resamples, days))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = per_sum[idx].sum(axis=1) / per_n[idx].sum(axis=1)  # [B, T], NaN where a tier drew no judged day
    q = np.nan_to_num(means) @ splits.T / splits.sum(axis=1)
    q[(np.isnan(means).astype(np.float64) @ on.T.astype(np.float64)) > 0] = np.nan
    low, high = _percentiles(q)
    return low, high, n


def reduction_quality_intervals(reduction: Reduction, splits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """proportional_quality_intervals on a Reduction's per-request quality (NaN: unknown)."""
    known = np.isfinite(reduction.quality)
    return proportional_quality_intervals(reduction.day.astype(np.int64), np.where(known, reduction.quality, 0.0),
                                          np.ones(reduction.n), known, len(reduction.days), splits)


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

    envelope=True reads them off the points' upper convex hull (a frontier of many splits: any two
    are mixed by routing a share of requests by each); envelope=False integrates the points as they
    are, as RouteLLM does for one router's threshold sweep (a hull or running maximum over noisy
    points would bias a random router's APGR above 0.5)."""
    if q_strong == q_weak or cost_strong == cost_weak:
        raise ConfigError("the cheapest and the most expensive tier have the same quality or cost: PGR is undefined")
    c, q = np.asarray(cost, float), np.asarray(quality, float)
    if envelope:
        v, _ = hull_points(c, q)
        c, q = c[v], q[v]
    u = (c - cost_weak) / (cost_strong - cost_weak)
    pgr = (q - q_weak) / (q_strong - q_weak)
    order = np.argsort(u, kind="stable")
    u, p = np.clip(u[order], 0, 1), pgr[order]
    xs = np.concatenate([[0.0], u, [1.0]])
    ys = np.concatenate([[p[0] if u[0] <= 0 else 0.0], p, [p[-1]]])
    apgr = float(np.trapezoid(ys, xs))
    cpt = {}
    for x in targets:  # the least cost whose point (on the hull: on an edge, interpolated) reaches PGR x
        hit = np.nonzero(p >= x - 1e-12)[0]
        if not len(hit):
            cpt[x] = (float("nan"), float("nan"))
            continue
        k = hit[0]
        uk = float(u[k])
        if envelope and k > 0 and p[k] > p[k - 1]:
            uk = float(u[k - 1] + (x - p[k - 1]) * (u[k] - u[k - 1]) / (p[k] - p[k - 1]))
        cpt[x] = (float(cost_weak + uk * (cost_strong - cost_weak)), uk)
    return Metrics(q_weak, q_strong, cost_weak, cost_strong, apgr, cpt, aiq(cost, quality))


def hull_points(cost: np.ndarray, quality: np.ndarray, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, on_hull): the indices of the non-decreasing upper convex hull's vertices, cheapest
    first (the Pareto set of everything achievable by mixing points), and of every point lying on it
    (within `tol` of the quality range), cheapest first."""
    c, q = np.asarray(cost, float), np.asarray(quality, float)
    ok = np.nonzero(np.isfinite(c) & np.isfinite(q))[0]
    if len(ok) == 0:
        k = np.array([int(np.nanargmin(c))]) if len(c) and np.isfinite(c).any() else np.zeros(0, dtype=np.int64)
        return k, k
    order = ok[np.lexsort((-q[ok], c[ok]))]
    # the turn test on coordinates scaled to [0, 1], so float noise (1e-16) in points on one line
    # (mixes of two tiers) does not make corners of them
    cs = (c - c[ok].min()) / max(float(c[ok].max() - c[ok].min()), 1e-300)
    span = max(float(q[ok].max() - q[ok].min()), 1e-300)
    qs = (q - q[ok].min()) / span
    verts: list[int] = []
    for i in order:
        if verts and q[i] <= q[verts[-1]]:  # non-decreasing: a costlier point that is no better adds nothing
            continue
        while len(verts) >= 2:
            a, b = verts[-2], verts[-1]
            if (cs[b] - cs[a]) * (qs[i] - qs[a]) - (qs[b] - qs[a]) * (cs[i] - cs[a]) >= -tol:  # b on or under a-i
                verts.pop()
            else:
                break
        verts.append(int(i))
    v = np.array(verts, dtype=np.int64)
    inside = ok[(c[ok] >= c[v[0]]) & (c[ok] <= c[v[-1]])]
    line = np.interp(c[inside], c[v], q[v]) if len(v) > 1 else np.full(len(inside), q[v[0]])
    on = inside[q[inside] >= line - tol * span]
    on = on[np.lexsort((-q[on], c[on]))]
    return v, on


def aiq(cost: np.ndarray, quality: np.ndarray) -> float:
    """Area under the non-decreasing upper convex hull of the points, over the cost range, / the range."""
    c, q = np.asarray(cost, float), np.asarray(quality, float)
    ok = np.isfinite(c) & np.isfinite(q)
    if not ok.any():
        return float("nan")
    if c[ok].max() == c[ok].min():
        return float(q[ok].max())
    v, _ = hull_points(c, q)
    hx = np.append(c[v], c[ok].max())
    hy = np.append(q[v], q[v[-1]])
    return float(np.trapezoid(hy, hx) / (c[ok].max() - c[ok].min()))


@dataclass
class RandomRouter:
    """The random router: each request routed at random between two adjacent tiers of the tier
    points' hull (the cheapest tier to the best one, through a middle tier only when it is on the
    hull) with the level's probabilities, one draw per request and seed shared by every level. Its
    mean is the proportional frontier; its range over seeds is the noise any router must clear."""

    tiers: tuple[str, ...]
    shares: np.ndarray  # [L, T] share of requests sent to each tier at each level (whole percents)
    cost: np.ndarray  # [L] mean realised cost over seeds, dollars
    quality: np.ndarray  # [L] mean realised quality over seeds
    quality_low: np.ndarray  # [L] lowest over seeds
    quality_high: np.ndarray  # [L] highest over seeds
    per_seed_cost: np.ndarray  # [S, L] dollars
    per_seed_quality: np.ndarray  # [S, L]
    n_quality: int  # requests whose quality is known on every tier (the quality is theirs)

    @property
    def seeds(self) -> int:
        return int(self.per_seed_cost.shape[0])

    def apgr(self, m: "Metrics") -> tuple[float, float, float]:
        """(mean, lowest, highest) APGR over the seeds, each seed's curve as it is (RouteLLM)."""
        a = [metrics(c, q, m.cost_weak, m.cost_strong, m.q_weak, m.q_strong, envelope=False).apgr
             for c, q in zip(self.per_seed_cost, self.per_seed_quality)]
        return float(np.mean(a)), float(np.min(a)), float(np.max(a))


def random_router(reduction: Reduction, seeds: int = 10, steps: int = 20, seed: int = 0) -> RandomRouter | None:
    """The random router's curve on a Reduction (None when no request has quality on every tier):
    `steps` levels per hull edge (5% steps), every request routed (cost over all of them, as the
    frontier's), quality over the requests known on every tier."""
    known = np.isfinite(reduction.quality).all(axis=1)
    if not known.any() or reduction.n == 0:
        return None
    money = reduction.cost + reduction.warmup
    q = reduction.quality
    v, _ = hull_points(money.sum(axis=0).astype(float), q[known].mean(axis=0))
    T = len(reduction.tiers)
    levels = [(int(v[0]), int(v[0]), 0.0)]
    for a, b in zip(v[:-1], v[1:]):
        levels += [(int(a), int(b), j / steps) for j in range(1, steps + 1)]
    L = len(levels)
    shares = np.zeros((L, T))
    for k, (a, b, p) in enumerate(levels):
        shares[k, a] += 1 - p
        shares[k, b] += p
    rng = np.random.default_rng(seed)
    cost = np.zeros((seeds, L))
    qual = np.zeros((seeds, L))
    for s in range(seeds):
        draw = rng.random(reduction.n)
        for k, (a, b, p) in enumerate(levels):
            pick = draw < p
            cost[s, k] = float(np.where(pick, money[:, b], money[:, a]).sum()) / NANOS_PER_USD
            qual[s, k] = float(np.where(pick, q[:, b], q[:, a])[known].mean())
    return RandomRouter(reduction.tiers, np.rint(shares * 100), cost.mean(axis=0), qual.mean(axis=0),
                        qual.min(axis=0), qual.max(axis=0), cost, qual, int(known.sum()))


def frontier_metrics(reduction: Reduction, fr: Frontier) -> Metrics | None:
    qbar = tier_quality(reduction)
    if qbar is None:
        return None
    S = (reduction.day_totals("cost")[0] + reduction.day_totals("warmup")[0]) / NANOS_PER_USD
    return metrics(fr.cost, fr.quality, float(S[0]), float(S[-1]), float(qbar[0]), float(qbar[-1]))


def chart(frontiers: list[Frontier], path: str | Path, rand: RandomRouter | None = None) -> Path:
    """An Altair chart to a file (.html: Vega inlined, renders offline; .json; .png/.svg through vl-convert): every evaluated split
    (faint points), each frontier's convex hull (line), and the random router's mean (dashed) with
    its range over seeds (band): the baseline any router must beat."""
    import altair as alt  # heavy, and only for a chart
    import polars as pl

    rows = []
    for fr in frontiers:
        on = np.zeros(len(fr.cost), dtype=bool)
        on[fr.hull] = True
        labels = [",".join(f"{t}={p}" for t, p in zip(fr.tiers, s)) for s in fr.splits]
        rows.append(pl.DataFrame({"policy": fr.policy, "split": labels, "cost_usd": fr.cost,
                                  "quality": fr.quality, "on_hull": on}))
    data = alt.Data(values=pl.concat(rows).to_dicts())
    base = alt.Chart(data).encode(
        x=alt.X("cost_usd:Q", title="cost (USD)"), y=alt.Y("quality:Q", title="quality", scale=alt.Scale(zero=False)),
        color=alt.Color("policy:N"), tooltip=["policy:N", "split:N", "cost_usd:Q", "quality:Q"])
    layers = [base.mark_circle(size=8, opacity=0.25), base.transform_filter("datum.on_hull").mark_line(point=True)]
    if rand is not None:
        rvals = [{"policy": f"random router ({rand.seeds} seeds)", "cost_usd": float(c), "quality": float(q),
                  "low": float(lo), "high": float(hi),
                  "split": ",".join(f"{t}={int(p)}" for t, p in zip(rand.tiers, sh))}
                 for c, q, lo, hi, sh in zip(rand.cost, rand.quality, rand.quality_low, rand.quality_high, rand.shares)]
        rbase = alt.Chart(alt.Data(values=rvals)).encode(x="cost_usd:Q", color=alt.Color("policy:N"))
        layers += [rbase.mark_area(opacity=0.15).encode(y="low:Q", y2="high:Q"),
                   rbase.mark_line(strokeDash=[4, 3]).encode(y="quality:Q", tooltip=["split:N", "cost_usd:Q", "quality:Q",
                                                                                    "low:Q", "high:Q"])]
    title = "cost vs quality: every split (points), convex-hull frontier (line), random router mean and range (dashed, band)"
    return vega.save(alt.layer(*layers).properties(title=title, width=560, height=360), path, title)  # .html renders offline
