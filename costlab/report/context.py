"""What a section's build function gets: the store, the window, the [report] settings, and the query
files' results, each run once per report however many sections ask for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from costlab.report.settings import ReportSettings
from costlab.report.window import Window
from costlab.store import Store, queries


@dataclass
class ReportContext:
    """What a section builder gets: the store, the window, the [report] settings, shared query results."""

    store: Store
    window: Window
    settings: ReportSettings
    # The priced window when it also covers the signal detectors' look-back ((start, end)), so the
    # findings section runs them on it (run_signals(prepared=True)) instead of pricing again.
    signals_window: tuple[datetime, datetime] | None = None
    _cache: dict[tuple, pl.DataFrame] = field(default_factory=dict)

    @property
    def since(self):
        return self.window.since

    @property
    def until(self):
        return self.window.until

    @property
    def prev_since(self):
        return self.window.prev_since

    @property
    def since_day(self) -> date:
        return self.window.since.date()

    @property
    def tz(self) -> str:
        """The time zone whose midnights divide the report's days (the window's: --tz, [report] timezone, UTC)."""
        return self.window.tz

    def query(self, name: str, **params: Any) -> pl.DataFrame:
        """store.run_query(name, **params), run once per report however many sections ask; a query that
        takes `tz` (its days) gets the report's time zone."""
        if "tz" not in params and any(p.name == "tz" for p in queries.load(name).params):
            params["tz"] = self.tz
        key = (name, tuple(sorted((k, str(v)) for k, v in params.items())))
        if key not in self._cache:
            self._cache[key] = self.store.run_query(name, **params)
        return self._cache[key]

    def current(self, name: str) -> pl.DataFrame:
        return self.query(name, since=self.since, until=self.until)

    def previous(self, name: str) -> pl.DataFrame:
        return self.query(name, since=self.prev_since, until=self.since)

    def both(self, name: str) -> pl.DataFrame:
        """A query taking since, until and prev_since (the queries/report/*.sql that scan both periods once)."""
        return self.query(name, since=self.since, until=self.until, prev_since=self.prev_since)
