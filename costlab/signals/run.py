"""run_signals: every enabled detector over the window, findings worst first.

    findings = run_signals(store, since="8w")        # a polars frame, worst first
    exceeds(findings, "high")                         # True when a weekly job should alert

The detectors (costlab.signals.detectors) are the SQL files in queries/signals/, each returning

    signal, severity, segment, evidence, observed, baseline, requests, weekly_impact_usd, suggestion

with their thresholds as header parameters (costlab.signals.params: costlab.toml [signals]), over
the window costlab.signals.window places and prices once.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any, Iterable

import polars as pl

from costlab import pricing
from costlab.config import Config, resolve_timezone
from costlab.errors import ConfigError, did_you_mean
from costlab.signals.detectors import BY_ID
from costlab.signals.findings import COLUMNS, NOTE, empty, order
from costlab.signals.params import resolve_params
from costlab.signals.window import EmptyWindow, drop_window, materialize, parse_since, window
from costlab.store import queries


def run_signals(store: Any, since: str | date | datetime | timedelta | None = None,
                until: date | datetime | None = None, config: Config | None = None,
                only: Iterable[str] | None = None, timings: dict[str, float] | None = None,
                prepared: bool = False, notes: list[str] | None = None,
                period_since: datetime | None = None, tz: str | None = None) -> pl.DataFrame:
    """Run every enabled detector over the window and return the findings, worst first.

    Args:
        store: an open costlab Store, or an engine over a lake (costlab.engine.open_engine: DuckDB or Spark).
        since: '8w' (default), '14d', a day, or a timedelta back from the window's end.
        until: the window's end (exclusive); default the end of the day of the last request.
        config: costlab.toml settings ([signals], [tiers]); default the store's.
        only: detector ids to run (default: all enabled ones).
        timings: if given, filled with wall seconds per step ('prepare', then each detector id).
        prepared: the caller has already run `materialize` for a span covering this window (the
            report does, to price once for its own sections and the detectors) and drops it itself.
        notes: if given, filled with what a detector could not judge in this window (a row of
            severity `note`: too short a baseline, no ids to count), one sentence each; such rows
            are never findings.
        period_since: the start of the period the caller reports on, inside a longer look-back
            (the report's week): detectors that judge only their own period (`-- period: own`,
            unpriced traffic) read from here, not from the look-back's start.
        tz: the time zone whose midnights divide the days (the window's ends, daily baselines, the
            days and times in the evidence); default costlab.toml [report] timezone, else UTC.

    Returns:
        One row per finding with the columns in COLUMNS; `query` is the detector's SQL file.

    Raises:
        ConfigError: bad settings, an unknown detector in `only`, or a name that is no time zone.
    """
    config = config if config is not None else store.config
    tz = resolve_timezone(tz, config)
    detectors, params = resolve_params(config)
    if only is not None:
        wanted = list(only)
        for name in wanted:
            if name not in BY_ID:
                raise ConfigError(f"no detector {name!r}.{did_you_mean(name, BY_ID)} Detectors: {', '.join(BY_ID)}.")
        detectors = [d for d in detectors if d.id in wanted]
    # a detector that needs a setting (an SLO, pin_versions) has nothing to look at without it
    detectors = [d for d in detectors if not d.needs or any(params[d.id].get(k) for k in d.needs)]
    # an engine over a lake (costlab.engine: Spark) runs the detectors whose file is marked for it, and says which not
    runs_here = getattr(store, "runs", None)
    if runs_here is not None:
        skipped = [d.id for d in detectors if not runs_here(d.query)]
        detectors = [d for d in detectors if runs_here(d.query)]
        if skipped and notes is not None:
            notes.append(f"not run on {store.kind}: {', '.join(skipped)} (their SQL is DuckDB-only; "
                         "run them with --engine duckdb, over the store or the same lake)")
    try:
        span = window(store, since, until, tz)
    except EmptyWindow as gap:  # a period before (or after) the data: nothing to find, and why
        if notes is not None:
            notes.append(str(gap))
        return empty()
    if span is None or not detectors:
        return empty()
    start, end = span
    frames = []
    if not prepared:
        drop_window(store)
    try:
        clock = time.perf_counter()
        # Stored prices are read as they are; only rows without a current one are priced, once.
        if not prepared and (hasattr(store, "materialize_window") or pricing.stale_count(store, start, end)
                             or not pricing.keyed(store)):
            materialize(store, start, end)  # an engine over a lake (Spark) always makes its own window
        elif not prepared:
            pricing.shadow_with_stored(store, start, end)
        if timings is not None:
            timings["prepare"] = time.perf_counter() - clock
        for d in detectors:
            clock = time.perf_counter()
            since_here = max(start, parse_since(period_since, tz)) if d.own_period and period_since is not None else start
            days = {"tz": tz} if any(p.name == "tz" for p in queries.load(d.query).params) else {}
            frame = store.run_query(d.query, since=since_here, until=end, **days, **params[d.id])
            frames.append(frame.with_columns(pl.lit(d.path).alias("query")))
            if timings is not None:
                timings[d.id] = time.perf_counter() - clock
    finally:
        if not prepared:
            drop_window(store)
    found = pl.concat([f.select(list(COLUMNS)) for f in frames], how="vertical") if frames else empty()
    said = found.filter(pl.col("severity") == NOTE)
    if notes is not None:
        notes.extend(f"{r['signal']}: {r['evidence']} ({r['suggestion']})" for r in said.iter_rows(named=True))
    return order(found.filter(pl.col("severity") != NOTE))
