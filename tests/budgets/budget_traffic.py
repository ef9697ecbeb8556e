"""Daily traffic with a known shape for the budget tests: a linear trend times a weekday pattern."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np

from costlab.testing.factories import insert_requests

# One claude-sonnet-5-5 request of 1,000 input and 100 output tokens: 1,000 x $2 + 100 x $10 per MTok.
COST = 0.003
WEEKDAY = (1.15, 1.3, 1.3, 1.2, 1.0, 0.55, 0.5)  # Monday .. Sunday


def counts(first: date, days: int, base: float = 1000, growth: float = 0.01, noise: float = 0.0,
           seed: int = 0) -> dict[date, int]:
    """Requests per day: base x (1 + growth x t) x weekday factor x (1 + noise x N(0, 1))."""
    rng = np.random.default_rng(seed)
    out = {}
    for t in range(days):
        day = first + timedelta(days=t)
        n = base * (1 + growth * t) * WEEKDAY[day.weekday()] * (1 + noise * rng.standard_normal())
        out[day] = max(int(round(n)), 0)
    return out


def insert(store, per_day: dict[date, int], **columns: str) -> None:
    """The requests of `per_day`, each day's spread over its 24 hours (ids unique across calls)."""
    prefix = columns.pop("prefix", "r")
    for day, n in per_day.items():
        if n:
            start = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)
            insert_requests(store, n, start, start + timedelta(days=1),
                            request_id=f"'{prefix}{day:%Y%m%d}_' || i", **columns)
