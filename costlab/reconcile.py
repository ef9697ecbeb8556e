"""Reconciliation: costlab's computed cost and logged tokens against what was reported.

`reconcile(store, ...)` runs queries/reconcile/reconcile.sql (the same SQL an engineer can run by
hand) and returns a polars frame, one row per day x model x service tier x basis. Bases: `admin`
(the Admin API usage and cost reports loaded into usage_buckets, against Claude API requests) and one
per source that reports its own cost per request (LiteLLM `spend`). Rows whose token or cost gap
exceeds the tolerance are flagged; `Reconciliation.flagged` says whether any is.

A reconciliation with nothing to compare against (no usage or cost report in the window and no
logged reported cost) checks nothing: `Reconciliation.missing` says what is missing and how to get
it, and the CLI exits 6 (`ExitCode.NOTHING_CHECKED`) rather than passing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from costlab.errors import ConfigError
from costlab.store import Store

QUERY = "reconcile/reconcile"
COVERAGE = "reconcile/coverage"

HOW_TO_GET = (
    "an Admin API usage and cost report (`costlab pull-usage --since DAY --until DAY` with "
    "ANTHROPIC_ADMIN_KEY, or `costlab ingest` of a saved admin report file), or a gateway log with "
    "reported costs (e.g. LiteLLM spend logs: `reported_cost_usd`)"
)


@dataclass
class Reconciliation:
    rows: pl.DataFrame
    tolerance: float
    coverage: dict | None = None

    @property
    def missing(self) -> str | None:
        """None when something was compared; else what is missing and how to get it."""
        if self.rows.height:
            return None
        cov = self.coverage or {}
        requests = cov.get("requests", 0)
        what = ("no Admin API usage report, no Admin API cost report and no logged request with a "
                "reported cost")
        logs = (f"{requests:,} logged requests in the window" if requests
                else "no logged requests in the window either")
        return (f"Nothing to reconcile: {what} in this window ({logs}), so nothing was checked. "
                f"Load {HOW_TO_GET}, then run reconcile again.")

    @property
    def flagged(self) -> int:
        return int(self.rows["flagged"].sum()) if self.rows.height else 0

    def to_json(self) -> dict:
        rows = self.rows.with_columns(
            pl.col("day").cast(pl.Utf8),
            *(pl.col(c).cast(pl.Utf8) for c in ("computed_usd", "reported_usd", "cost_gap_usd")),
        )
        return {"tolerance": self.tolerance, "flagged": self.flagged, "rows": rows.to_dicts()}


def reconcile(store: Store, since: datetime | None = None, until: datetime | None = None,
              tolerance: float = 0.01) -> Reconciliation:
    if not 0 <= tolerance < 1:
        raise ConfigError(f"--tolerance {tolerance}: expected a fraction between 0 and 1 (0.01 = 1%)")
    params: dict[str, object] = {"tolerance": tolerance}
    if since:
        params["since"] = since
    if until:
        params["until"] = until
    rows = store.run_query(QUERY, **params)
    coverage = None
    if rows.height == 0:
        window = {k: v for k, v in params.items() if k != "tolerance"}
        coverage = store.run_query(COVERAGE, **window).to_dicts()[0]
    return Reconciliation(rows, tolerance, coverage)
