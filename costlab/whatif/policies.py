"""The routing policies' per-request choices on a Reduction: the complexity scorer (and fitting
its weights to judged outcomes), quantile and percentile buckets, the oracle and the cascade.

A policy here says which tier answers each request (or which tiers are paid for); what that costs
and how good it is, with intervals, is costlab.whatif.scenario's.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import numpy as np

from costlab.errors import ConfigError
from costlab.whatif.arrays import Reduction

POLICIES = ("proportional", "complexity", "cascade", "oracle", "learned")
# the policies that choose each request's tier by themselves: no split. cascade and oracle route by
# judged outcomes, so only the requests judged on every tier (evaluated against the logged cost of
# those same requests); learned by a fitted policy file (costlab.whatif.learned), every request
PER_REQUEST_POLICIES = ("cascade", "oracle", "learned")

DEFAULT_WEIGHTS = {
    "prompt": 1.0,  # log1p(prompt tokens) / log1p(median prompt tokens) - 1
    "documents": 0.5,
    "conditional": 0.3,
    "multistep": 0.5,
    "tool_use": 0.5,
    "web_search": 0.5,
    "feature": 2.0,  # the feature's share of logged traffic above the cheapest tier
}


def complexity_scores(reduction: Reduction, weights: dict[str, float] | None = None) -> np.ndarray:
    """A score per request: higher means harder. Linear in the features; weights configurable."""
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    unknown = set(w) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ConfigError(f"unknown complexity weight(s) {sorted(unknown)}; known: {', '.join(DEFAULT_WEIGHTS)}")
    score = np.zeros(reduction.n)
    for k, column in zip(DEFAULT_WEIGHTS, _feature_columns(reduction)):
        if w[k]:
            score += w[k] * column
    return score


def _feature_columns(reduction: Reduction):
    """The scorer inputs in DEFAULT_WEIGHTS order, one column at a time (no [n, 7] matrix)."""
    lp = np.log1p(np.maximum(reduction.prompt_tokens, 0).astype(np.float64))
    med = float(np.median(lp)) if reduction.n else 0.0
    yield lp / med - 1.0 if med > 0 else lp
    yield reduction.documents > 0
    yield reduction.conditional
    yield reduction.multistep
    yield reduction.tool_use
    yield reduction.web_search > 0
    nf = max(len(reduction.features), 1)
    above = np.bincount(reduction.feature, weights=(reduction.current > 0).astype(np.float64), minlength=nf)
    count = np.bincount(reduction.feature, minlength=nf).astype(np.float64)
    yield np.divide(above, count, out=np.zeros(nf), where=count > 0)[reduction.feature] if reduction.n else np.zeros(0)


def feature_matrix(reduction: Reduction) -> np.ndarray:
    """[n, 7] scorer inputs in DEFAULT_WEIGHTS order (for fitting)."""
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in _feature_columns(reduction)])


def fit_weights(reduction: Reduction, iterations: int = 25, ridge: float = 1e-3) -> dict[str, float]:
    """Fit the scorer's weights to judged outcomes: logistic regression of 'the cheapest tier was not
    good enough' on the features (Newton steps, small ridge). Needs judged requests on tier 0."""
    known = np.isfinite(reduction.good[:, 0])
    if known.sum() < 10:
        raise ConfigError("fitting the complexity weights needs judged outcomes on the cheapest tier for at least 10 requests")
    X = feature_matrix(reduction)[known]
    y = (reduction.good[known, 0] < 0.5).astype(float)
    Xb = np.column_stack([np.ones(len(X)), X])
    beta = np.zeros(Xb.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-Xb @ beta))
        g = Xb.T @ (p - y) + ridge * beta
        H = (Xb * (p * (1 - p))[:, None]).T @ Xb + ridge * np.eye(len(beta))
        beta -= np.linalg.solve(H, g)
    return dict(zip(DEFAULT_WEIGHTS, map(float, beta[1:])))


def quantile_assignment(scores: np.ndarray, shares: Sequence[Fraction | float]) -> np.ndarray:
    """Tier index per request: the lowest-scoring share[0] of requests to tier 0, and so on.
    A partial sort (argpartition at the boundaries), O(n), not a full sort."""
    n = len(scores)
    bounds = np.rint(np.cumsum([float(x) for x in shares]) * n).astype(np.int64)
    bounds[-1] = n
    return _buckets(scores, bounds).astype(np.int16)


def _buckets(scores: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Bucket b holds the requests at sorted positions [ends[b-1], ends[b]) (ends ascending, last = n)."""
    n = len(scores)
    kth = np.unique(ends[(ends > 0) & (ends < n)])
    part = np.argpartition(scores, kth) if len(kth) and n else np.arange(n)
    out = np.empty(n, dtype=np.int32)
    lo = 0
    for b, hi in enumerate(ends):
        out[part[lo:hi]] = b
        lo = max(lo, int(hi))
    return out


def percentile_buckets(scores: np.ndarray, buckets: int = 100) -> np.ndarray:
    """Each request's score bucket: bucket b = sorted positions [rint(b n / B), rint((b+1) n / B))."""
    n = len(scores)
    ends = np.rint(np.arange(1, buckets + 1) * n / buckets).astype(np.int64)
    ends[-1] = n
    return _buckets(scores, ends)


def oracle_assignment(reduction: Reduction) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest tier judged good per request (the cheapest tier when none is); and a mask of the
    requests whose outcome is known on every tier (only those can be routed by an oracle)."""
    known = np.isfinite(reduction.good).all(axis=1)
    good = np.nan_to_num(reduction.good, nan=0.0) >= 0.5
    any_good = good.any(axis=1)
    first = np.argmax(good, axis=1)
    cheapest = np.argmin(reduction.cost, axis=1) if reduction.n else np.zeros(0, dtype=np.int64)
    return np.where(any_good, first, cheapest).astype(np.int16), known


def cascade_paid(reduction: Reduction) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cheapest tier first, escalate while the check fails, paying for every attempt. Returns the
    paid matrix [n, T] (0/1), the answering tier, and the mask of requests with verdicts on every tier."""
    known = np.isfinite(reduction.good).all(axis=1)
    good = np.nan_to_num(reduction.good, nan=0.0) >= 0.5
    T = len(reduction.tiers)
    good_early = good[:, : T - 1]
    stop = np.where(good_early.any(axis=1), np.argmax(good_early, axis=1), T - 1)
    paid = (np.arange(T)[None, :] <= stop[:, None]).astype(np.int64)
    return paid, stop.astype(np.int16), known
