"""The run-rate forecast of a budget's period: weekday seasonality, a linear trend, and an interval.

Daily spend over the history (up to `lookback_weeks`, ending on the last day counted) is decomposed
multiplicatively, as classical decomposition does:

    spend(day) = (a + b * t) * s[weekday] * (1 + e)

`s` are the weekday factors (mean 1; the median ratio of each weekday's spend to the trend, iterated
with the trend fit three times) and `a + b * t` the Theil-Sen line through the deseasonalised days
(the median of the pairwise slopes: one expensive day, a runaway prompt or an incident, does not
tilt it). The forecast of each day left in the period is the line carried forward times its
weekday's factor (never below zero). Under two weeks of history there are no weekday factors, and
under three weeks no trend (seven factors and a slope from fewer days overfit: in the backtest,
benchmarks/RESULTS.md "Budget forecast", a slope from two weeks missed a month's end by 12% on
average and its interval held the truth 64% of the time): the level is the mean deseasonalised day;
a single day is carried forward with no interval.

The interval is a residual bootstrap (B = 2,000, seeded): the relative residuals `e` (inflated by
sqrt(n / (n - p)) for the p parameters fitted) are resampled onto the fitted days, the line is
refitted (Theil-Sen) to each resample, and each future day gets a resampled residual of its own; the 5th and
95th percentiles of the replicates' remaining spend are the 90% interval, and their cumulative paths
date the earliest and latest day the budget would be crossed. It covers day-to-day noise and the
trend's uncertainty, not a change of regime (a launch, a migration) that the history has not seen.

Arrays of at most a few hundred days: numpy, no loop over days or replicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

REPLICATES = 2000
MAX_PAIRS = 1000  # pairwise slopes per bootstrap replicate (all of them up to 45 days of history)
LEVEL = 0.90  # the interval's coverage
_LO, _HI = 100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2


@dataclass(frozen=True)
class Forecast:
    """Spend forecast for the days left in a period (not counting spend to date)."""

    daily: np.ndarray  # point forecast per future day, in order
    total: float  # sum of `daily`
    low: float | None  # the interval of the total (None when it cannot be estimated)
    high: float | None
    cum_low: np.ndarray | None  # per future day, the low and high percentiles of the cumulative spend
    cum_high: np.ndarray | None
    history_days: int  # n: the days the forecast rests on
    method: str  # what it rests on, for people


def forecast(days: list[date], spend: np.ndarray, future: list[date], seed: int = 0) -> Forecast:
    """Forecast `future` days from the daily `spend` (dollars, floats) on the consecutive `days`."""
    y = np.asarray(spend, dtype=float)
    n, k = len(y), len(future)
    if k == 0:
        return Forecast(np.zeros(0), 0.0, 0.0, 0.0, np.zeros(0), np.zeros(0), n, "the period is over: nothing to forecast")
    if n == 0:
        return Forecast(np.zeros(k), 0.0, None, None, None, None, 0, "no history: no forecast")
    t = np.arange(n, dtype=float)
    tf = np.arange(n, n + k, dtype=float)
    wd = np.array([d.weekday() for d in days])
    wdf = np.array([d.weekday() for d in future])
    seasonal, trend = n >= 14, n >= 21
    s = np.ones(7)
    for _ in range(3 if seasonal else 0):  # the line given the factors, the factors given the line
        a, b = _fit(t, y / s[wd], trend)
        fit = a + b * t
        ratio = np.divide(y, fit, out=np.ones(n), where=fit > 0)
        s = np.array([np.median(ratio[wd == w]) if (wd == w).any() else 1.0 for w in range(7)])
        s = s / s.mean() if s.mean() > 0 else np.ones(7)
    a, b = _fit(t, y / s[wd], trend)  # the line the forecast carries, given the final factors
    fitted = np.clip((a + b * t) * s[wd], 0, None)
    daily = np.clip((a + b * tf) * s[wdf], 0, None)
    what = (("weekday-seasonal " if seasonal else "") + ("linear trend" if trend else "mean day")
            + f" over {n} day{'s' if n != 1 else ''}")
    if n < 2 or fitted.sum() <= 0:
        return Forecast(daily, float(daily.sum()), None, None, None, None, n, what + "; too little history for an interval")

    params = 2 * trend + 6 * seasonal + (not trend)
    rel = np.divide(y, fitted, out=np.ones(n), where=fitted > 0) - 1
    rel = rel * np.sqrt(n / max(n - params, 1))
    rng = np.random.default_rng(seed)
    # Resampled days: the fitted days with resampled residuals, the line refitted to each (B x n).
    ystar = fitted * (1 + rel[rng.integers(0, n, size=(REPLICATES, n))])
    zstar = ystar / s[wd]
    if trend:  # Theil-Sen on every replicate at once: B x pairs slopes
        i, j = np.triu_indices(n, k=1)
        if len(i) > MAX_PAIRS:  # 26 weeks of history is 16,471 pairs: a seeded sample keeps B x pairs small
            keep = rng.choice(len(i), MAX_PAIRS, replace=False)
            i, j = i[keep], j[keep]
        bstar = np.median((zstar[:, j] - zstar[:, i]) / (t[j] - t[i]), axis=1)[:, None]
        astar = np.median(zstar - bstar * t[None, :], axis=1)[:, None]
    else:
        astar, bstar = zstar.mean(axis=1)[:, None], np.zeros((REPLICATES, 1))
    paths = np.clip((astar + bstar * tf[None, :]) * s[wdf][None, :], 0, None)
    paths = np.clip(paths * (1 + rel[rng.integers(0, n, size=(REPLICATES, k))]), 0, None)
    cum = np.cumsum(paths, axis=1)
    totals = cum[:, -1]
    return Forecast(daily, float(daily.sum()), float(np.percentile(totals, _LO)), float(np.percentile(totals, _HI)),
                    np.percentile(cum, _LO, axis=0), np.percentile(cum, _HI, axis=0), n,
                    what + f"; {int(LEVEL * 100)}% interval by residual bootstrap ({REPLICATES:,} replicates)")


def _fit(t: np.ndarray, z: np.ndarray, trend: bool) -> tuple[float, float]:
    return _line(t, z) if trend else (float(z.mean()), 0.0)


def _line(t: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """Theil-Sen line of z over t: the median of the pairwise slopes, then the median intercept, so
    one expensive day (a runaway prompt, an incident) does not tilt the trend."""
    i, j = np.triu_indices(len(t), k=1)
    b = float(np.median((z[j] - z[i]) / (t[j] - t[i]))) if len(i) else 0.0
    return float(np.median(z - b * t)), b


def first_day(future: list[date], cumulative: np.ndarray | None, need: float) -> date | None:
    """The first future day on which `cumulative` spend reaches `need` dollars (None: not in the period)."""
    if cumulative is None or len(cumulative) == 0:
        return None
    hit = np.nonzero(cumulative >= need)[0]
    return future[int(hit[0])] if hit.size else None


def calendar(start: date, end: date) -> list[date]:
    """Every day in [start, end)."""
    return [start + timedelta(days=i) for i in range((end - start).days)]
