"""Backtest: predict a test period's actual cost from a train period's traffic, re-weighted to the
test period's actual split and volume, and compare with what the test period actually cost.

Prediction = sum over cells (feature x tier the request ran on) of
    test requests in the cell  x  the train period's mean cost per request in that cell,
where a cell with no train traffic takes the train requests of that feature re-priced on that tier
(the simulator's per-tier cost), and a feature absent from train takes all train requests on that tier.
The coarser tier-only re-weighting (no features) is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from costlab.errors import ConfigError
from costlab.whatif.arrays import Reduction


@dataclass
class Backtest:
    train_requests: int
    test_requests: int
    actual_nusd: int
    predicted_nusd: float
    predicted_tier_only_nusd: float
    train_split: dict[str, float]
    test_split: dict[str, float]

    @property
    def error(self) -> float:
        return (self.predicted_nusd - self.actual_nusd) / self.actual_nusd if self.actual_nusd else float("nan")

    @property
    def error_tier_only(self) -> float:
        return (self.predicted_tier_only_nusd - self.actual_nusd) / self.actual_nusd if self.actual_nusd else float("nan")


def _split(reduction: Reduction) -> dict[str, float]:
    t = np.bincount(reduction.current[reduction.current >= 0], minlength=len(reduction.tiers))
    return {name: float(t[i]) / max(reduction.n, 1) for i, name in enumerate(reduction.tiers)}


def backtest(reduction: Reduction, train: tuple[date, date], test: tuple[date, date]) -> Backtest:
    """`reduction` covers both periods (one pass); train and test are [first day, day after last)."""
    days = np.array(reduction.days, dtype=object)
    d = days[reduction.day]
    tr = (d >= train[0]) & (d < train[1])
    te = (d >= test[0]) & (d < test[1])
    if (tr & te).any():
        raise ConfigError("--train and --test overlap")
    if not tr.any() or not te.any():
        raise ConfigError(f"no requests in the {'train' if not tr.any() else 'test'} period")
    A, B = reduction.subset(tr), reduction.subset(te)
    T, F = len(reduction.tiers), len(reduction.features)
    cell = lambda r: r.feature * (T + 1) + (r.current + 1)  # noqa: E731  (tier -1 = not a configured tier)
    ncell = F * (T + 1)
    sums = np.bincount(cell(A), weights=A.actual.astype(float), minlength=ncell)
    cnts = np.bincount(cell(A), minlength=ncell).astype(float)
    mean = np.divide(sums, cnts, out=np.full(ncell, np.nan), where=cnts > 0)
    # fallbacks: the feature's train requests re-priced on the tier; then all train requests on it
    fcnt = np.bincount(A.feature, minlength=F).astype(float)
    for t in range(T):
        fsum = np.bincount(A.feature, weights=A.cost[:, t].astype(float), minlength=F)
        sim = np.divide(fsum, fcnt, out=np.full(F, A.cost[:, t].mean()), where=fcnt > 0)
        idx = np.arange(F) * (T + 1) + t + 1
        mean[idx] = np.where(np.isnan(mean[idx]), sim, mean[idx])
    other = np.arange(F) * (T + 1)
    mean[other] = np.where(np.isnan(mean[other]), A.actual.mean(), mean[other])
    test_cnt = np.bincount(cell(B), minlength=ncell).astype(float)
    predicted = float((test_cnt * mean).sum())
    # tier only
    tsum = np.bincount(A.current + 1, weights=A.actual.astype(float), minlength=T + 1)
    tcnt = np.bincount(A.current + 1, minlength=T + 1).astype(float)
    tmean = np.divide(tsum, tcnt, out=np.concatenate([[A.actual.mean()], A.cost.mean(axis=0)]), where=tcnt > 0)
    predicted_tier = float((np.bincount(B.current + 1, minlength=T + 1) * tmean).sum())
    return Backtest(A.n, B.n, int(B.actual.sum()), predicted, predicted_tier, _split(A), _split(B))
