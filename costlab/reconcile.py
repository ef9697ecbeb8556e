"""Reconciliation: costlab's computed cost and logged tokens against what was reported.

`reconcile(store, ...)` runs queries/reconcile/reconcile.sql (the same SQL an engineer can run by
hand) and returns a polars frame, one row per day x model x service tier x basis. Bases: `admin`
(the Admin API usage and cost reports loaded into usage_buckets, against Claude API requests) and one
per source that reports its own cost per request (LiteLLM `spend`). Rows whose token or cost gap
exceeds the tolerance are flagged; `Reconciliation.flagged` says whether any is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from costlab.errors import ConfigError
from costlab.store import Store

QUERY = "reconcile/reconcile"


@dataclass
class Reconciliation:
    rows: pl.DataFrame
    tolerance: float

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
    return Reconciliation(store.run_query(QUERY, **params), tolerance)
