"""Where findings come from: THE registry of finding sources `costlab alert` reads.

A source is a name and a function returning a findings frame in the signals' shape
(costlab.signals.COLUMNS: severity, signal, segment, weekly_impact_usd, evidence, observed, baseline,
requests, suggestion, query). A finding's identity is (source, signal, segment): `segment` must be a
stable key of what the finding is about (never text that changes from day to day), since it is what
the store remembers as sent (costlab/alerts/memory.py).

Adding a source is one function and one line in SOURCES: the three are the wrong-model signals, the
budgets and the guardrail verdicts of a model switch (`[compare]`'s default comparison: a breach of
`[compare.guardrails]` is a high finding; no default comparison, no findings).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable

import polars as pl

from costlab import budgets, compare, signals
from costlab.config import Config


@dataclass(frozen=True)
class Window:
    """What the sources read: the signals' window (since, until) and the budgets' last day counted."""

    since: str | None = None  # signals: '8w' (default), '14d', a first day
    until: datetime | None = None  # signals: the window's end, exclusive (default: after the last request's day)
    through: date | None = None  # budgets: the last day counted (default: the last day with data, before today)


Findings = Callable[[Any, Config, Window, list[str]], pl.DataFrame]


@dataclass(frozen=True)
class Source:
    name: str
    describe: str
    findings: Findings  # (store, config, window, notes) -> a frame with signals.COLUMNS; notes: sentences for stderr


def _signals(store: Any, config: Config, window: Window, notes: list[str]) -> pl.DataFrame:
    return signals.run_signals(store, since=window.since, until=window.until, config=config, notes=notes)


def _budgets(store: Any, config: Config, window: Window, notes: list[str]) -> pl.DataFrame:
    return budgets.budget_findings(store, config, window.through, notes=notes)


def _compare(store: Any, config: Config, window: Window, notes: list[str]) -> pl.DataFrame:
    return compare.compare_findings(store, config)


SIGNALS = Source("signals", "the wrong-model detectors (costlab signals)", _signals)
BUDGETS = Source("budgets", "budget breaches (high) and forecast breaches (medium) of [[budgets]] (costlab budget)", _budgets)

COMPARE = Source("compare", "kill-switch guardrail breaches of [compare]'s default comparison (costlab compare)", _compare)

SOURCES: dict[str, Source] = {s.name: s for s in (SIGNALS, BUDGETS, COMPARE)}
