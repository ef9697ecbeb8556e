"""The tests `costlab compare` runs, on numpy arrays (floats: interval arithmetic only; the money
point estimates are exact and come from SQL totals, costlab.compare.run).

    Resampler        the bootstrap: resamples of each cohort's requests (with replacement, each row
                     keeping its sample_weight), drawn once and shared by every statistic, held as
                     counts per row so a mean is one matrix product and a quantile one cumulative sum
    weighted_quantile  the smallest value with at least q of the weight at or below it
    two_proportions  the two-proportion z test (pooled), with Kish's effective n for weighted rows,
                     and a Wald interval for the difference; each side's variance at least the one
                     clustered by hour (bursts of errors are not independent events)
    adjust           Holm (family-wise error) or Benjamini-Hochberg (false discovery rate) p-values

A bootstrap p-value is the normal approximation from the bootstrap's spread: z = estimate / SE,
where the estimate is log(b / a) for a ratio and b - a for a difference, and SE the standard
deviation of the same quantity over the resamples; the interval is the bootstrap's percentile
interval. Both rest on the requests being independent given the window (docs/playbook.md measures
what that costs in false positives on stationary traffic: benchmarks/RESULTS.md).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from dataclasses import dataclass
import numpy as np

CHUNK_CELLS = 4_000_000  # resample counts held at once (resamples x rows): 32 MB of int64


def normal_p(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    if not math.isfinite(z):
        return 0.0 if math.isinf(z) else 1.0
    return math.erfc(abs(z) / math.sqrt(2))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value with at least `q` of the weight at or below it (NaN when empty)."""
    if values.size == 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, q * cum[-1], side="left"))
    return float(values[order][min(k, values.size - 1)])


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = weights.sum()
    return float((values * weights).sum() / total) if total > 0 else float("nan")


@dataclass
class Statistic:
    """One statistic of a cohort: the rows it reads (mask), their values, and what it computes
    (a weighted mean, or the weighted quantile q)."""

    mask: np.ndarray
    values: np.ndarray
    kind: str  # mean or quantile
    q: float = 0.5


BINS = 4096  # a quantile's rows, in rank order, fall into this many bins of equal count: its resolution
MAX_ROWS = 200_000  # above this many rows a resample draws this many (m out of n), its spread scaled by sqrt(m/n)


class Resampler:
    """Bootstrap resamples of one cohort's rows, shared by every statistic.

    Each resample is n row indices drawn with replacement (each row keeping its sample_weight). A
    mean over it is a sum of gathered rows; a quantile reads the resample's weight in each of BINS
    rank bins of its column (rows sorted by value, cut into bins of equal count), so its
    resolution is one bin: 1/4096 of the rows, far inside any interval at the sizes where a
    bootstrap is meaningful. The point estimates themselves are exact (weighted_quantile).

    Above MAX_ROWS rows a resample draws MAX_ROWS of them (the m-out-of-n bootstrap) and each
    statistic's distance from its full-sample value is scaled by sqrt(m / n): the spread of a mean
    or a quantile shrinks as 1/sqrt(n), so the interval is the same to first order while the work
    stops growing with the log (10M requests cost what 200,000 do)."""

    def __init__(self, weights: np.ndarray, resamples: int, rng: np.random.Generator):
        self.w = weights
        self.n = weights.size
        self.resamples = resamples
        self.rng = rng

    def run(self, stats: dict[str, Statistic]) -> dict[str, np.ndarray]:
        """Each statistic over every resample (an array of `resamples` values)."""
        out = {name: np.full(self.resamples, np.nan) for name in stats}
        if self.n == 0:
            return out
        m = min(self.n, MAX_ROWS)
        mean_names = [name for name, s in stats.items() if s.kind == "mean"]
        columns, full = [], {}
        for name in mean_names:
            s = stats[name]
            use = s.mask & np.isfinite(s.values)
            columns += [np.where(use, self.w * np.where(use, s.values, 0.0), 0.0), np.where(use, self.w, 0.0)]
            full[name] = weighted_mean(s.values[use], self.w[use])
        matrix = np.ascontiguousarray(np.stack(columns, axis=1)) if columns else None
        groups: dict[tuple, tuple] = {}
        for name, s in stats.items():
            if s.kind != "quantile":
                continue
            key = (id(s.values), s.mask.tobytes())
            if key not in groups:
                rows = np.flatnonzero(s.mask & np.isfinite(s.values))
                rows = rows[np.argsort(s.values[rows], kind="stable")]
                k = min(BINS, max(rows.size, 1))
                bin_of = np.full(self.n, k, dtype=np.int64)  # rows outside the statistic: bin k, ignored
                bin_of[rows] = np.arange(rows.size) * k // max(rows.size, 1)
                # each bin stands for its highest value: the quantile is the first bin reaching q
                top = np.full(k, np.nan)
                if rows.size:
                    top[bin_of[rows]] = s.values[rows]
                groups[key] = (bin_of, k, top, {}, rows)
            groups[key][3][name] = s.q
            rows = groups[key][4]
            full[name] = weighted_quantile(s.values[rows], self.w[rows], s.q)
        equal = bool(np.all(self.w == self.w[0]))
        chunk = max(1, CHUNK_CELLS // m)
        for lo in range(0, self.resamples, chunk):
            hi = min(self.resamples, lo + chunk)
            c = hi - lo
            idx = self.rng.integers(0, self.n, size=(c, m), dtype=np.int64)
            if matrix is not None:
                if m == self.n:  # every row drawn: per-row counts, then one matrix product
                    flat = (idx + (np.arange(c, dtype=np.int64) * self.n)[:, None]).ravel()
                    sums = np.bincount(flat, minlength=c * self.n).reshape(c, self.n).astype(np.float64) @ matrix
                else:  # m of n rows drawn: gather them, column by column
                    sums = np.stack([np.take(matrix[:, j], idx).sum(axis=1) for j in range(matrix.shape[1])], axis=1)
                for j, name in enumerate(mean_names):
                    with np.errstate(invalid="ignore", divide="ignore"):
                        out[name][lo:hi] = sums[:, 2 * j] / sums[:, 2 * j + 1]
            for bin_of, k, top, qs, _rows in groups.values():
                flat = (bin_of[idx] + np.arange(c, dtype=np.int64)[:, None] * (k + 1)).ravel()
                weights = None if equal else self.w[idx].ravel()
                mass = np.bincount(flat, weights=weights, minlength=c * (k + 1)).reshape(c, k + 1)[:, :k]
                cum = np.cumsum(mass, axis=1)
                for name, q in qs.items():
                    first = (cum < (q * cum[:, -1])[:, None]).sum(axis=1)
                    out[name][lo:hi] = top[np.minimum(first, k - 1)]
        if m < self.n:
            scale = np.sqrt(m / self.n)
            for name in out:
                if math.isfinite(full.get(name, float("nan"))):
                    out[name] = full[name] + (out[name] - full[name]) * scale
        return out


def ratio_test(a: float, b: float, boot_a: np.ndarray, boot_b: np.ndarray, level: float = 0.95):
    """(change in percent, interval low, high in percent, p) of b against a, from the resamples."""
    if not (a > 0 and b > 0):
        return (float("nan"),) * 3 + (float("nan"),)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = boot_b / boot_a
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    if ratio.size < 10:
        return (b / a - 1) * 100, float("nan"), float("nan"), float("nan")
    lo, hi = np.percentile(ratio, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    se = float(np.std(np.log(ratio), ddof=1))
    est = math.log(b / a)
    p = normal_p(est / se) if se > 0 else (1.0 if est == 0 else 0.0)
    return (b / a - 1) * 100, (lo - 1) * 100, (hi - 1) * 100, p


def diff_test(a: float, b: float, boot_a: np.ndarray, boot_b: np.ndarray, level: float = 0.95, scale: float = 1.0):
    """(b - a, interval low, high, p), each times `scale`, from the resamples."""
    d = boot_b - boot_a
    d = d[np.isfinite(d)]
    if d.size < 10 or not (math.isfinite(a) and math.isfinite(b)):
        return (b - a) * scale, float("nan"), float("nan"), float("nan")
    lo, hi = np.percentile(d, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    se = float(np.std(d, ddof=1))
    est = b - a
    p = normal_p(est / se) if se > 0 else (1.0 if est == 0 else 0.0)
    return est * scale, lo * scale, hi * scale, p


def kish_n(weights: np.ndarray) -> float:
    """Kish's effective sample size: (sum w)^2 / sum w^2 (the row count when every weight is equal)."""
    s2 = float((weights ** 2).sum())
    return float(weights.sum()) ** 2 / s2 if s2 > 0 else 0.0


def clustered_variance(hits: np.ndarray, w: np.ndarray, clusters: np.ndarray) -> float:
    """The variance of the weighted share sum(w y) / sum(w) with rows correlated within clusters
    (the sandwich estimator: each cluster's total residual, squared, with the H / (H - 1) correction)."""
    total = float(w.sum())
    if total <= 0:
        return float("nan")
    share = float((hits * w).sum()) / total
    _, index = np.unique(clusters, return_inverse=True)
    h = int(index.max()) + 1 if index.size else 0
    if h < 2:
        return float("nan")
    residual = np.bincount(index, weights=w * (hits - share), minlength=h)
    return float(h / (h - 1) * (residual ** 2).sum() / total ** 2)


def two_proportions(hits_a: np.ndarray, w_a: np.ndarray, hits_b: np.ndarray, w_b: np.ndarray, level: float = 0.95,
                    hours_a: np.ndarray | None = None, hours_b: np.ndarray | None = None):
    """(share a, share b, difference in points, interval low, high in points, p): the two-proportion
    z test on weighted shares, n taken as Kish's effective n of each side (the pooled test as
    published when every weight is 1 and no hours are given).

    With `hours_a`/`hours_b` (each row's hour), each side's variance is the larger of the binomial
    one and the one clustered by hour: errors come in bursts (an overload incident is one event in
    one hour, not thousands of independent ones), and a binomial variance alone then calls a burst
    on one side a significant change."""
    na, nb = kish_n(w_a), kish_n(w_b)
    if na == 0 or nb == 0:
        return (float("nan"),) * 6
    pa = float((hits_a * w_a).sum() / w_a.sum())
    pb = float((hits_b * w_b).sum() / w_b.sum())
    pooled = (pa * na + pb * nb) / (na + nb)
    var0_a, var0_b = pooled * (1 - pooled) / na, pooled * (1 - pooled) / nb
    var_a, var_b = pa * (1 - pa) / na, pb * (1 - pb) / nb
    if hours_a is not None and hours_b is not None:
        ca, cb = clustered_variance(hits_a, w_a, hours_a), clustered_variance(hits_b, w_b, hours_b)
        if math.isfinite(ca):
            var0_a, var_a = max(var0_a, ca), max(var_a, ca)
        if math.isfinite(cb):
            var0_b, var_b = max(var0_b, cb), max(var_b, cb)
    se0 = math.sqrt(var0_a + var0_b)
    diff = pb - pa
    p = normal_p(diff / se0) if se0 > 0 else (1.0 if diff == 0 else 0.0)
    z = _z(level)
    se = math.sqrt(var_a + var_b)
    # a difference of two shares lies in [-1, 1]: a normal interval on a few requests can reach past it
    low, high = max(diff - z * se, -1.0), min(diff + z * se, 1.0)
    return pa, pb, diff * 100, low * 100, high * 100, p


def _z(level: float) -> float:
    """The standard normal quantile for a two-sided interval at `level` (the standard library's)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


def adjust(p: list[float], method: str) -> list[float]:
    """Adjusted p-values (NaN stays NaN and is left out of the family): holm or bh."""
    idx = [i for i, v in enumerate(p) if v is not None and math.isfinite(v)]
    m = len(idx)
    out = [float("nan")] * len(p)
    if not m:
        return out
    order = sorted(idx, key=lambda i: p[i])
    if method == "holm":
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * p[i]))
            out[i] = running
    elif method == "bh":
        running = 1.0
        for rank in range(m - 1, -1, -1):
            i = order[rank]
            running = min(running, min(1.0, m / (rank + 1) * p[i]))
            out[i] = running
    else:
        raise ValueError(method)
    return out

