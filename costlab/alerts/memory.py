"""What each destination was told: the `alert_state` table (migration m011), and the changes to send.

A finding's identity is (source, signal, segment). For one destination, against its open rows:

    new           no open row (never sent, or cleared since)         sent
    escalated     an open row at a lower severity                     sent
    de-escalated  an open row at a higher severity                    sent
    (same)        an open row at the same severity                    not sent again
    cleared       an open row whose finding is gone (or now below     sent once when the destination
                  the destination's min_severity), for a source       sets announce_clears; recorded
                  that ran this time                                   either way

`record` writes the outcome only after the destination took the message, so a failed delivery
is tried again whole on the next run.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import polars as pl

from costlab.signals.findings import COLUMNS, SEVERITIES

KEY = ["source", "signal", "segment"]
CHANGE_COLUMNS = {"change": pl.String, "previous_severity": pl.String, "source": pl.String, **COLUMNS}
_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # 0 = high


def open_rows(store: Any, destination: str) -> pl.DataFrame:
    """The destination's open (not cleared) rows: what it was last told and not told is gone."""
    return store.frame("select source, signal, segment, severity, evidence, weekly_impact_usd from alert_state "
                       "where destination = $d and not cleared", {"d": destination})


def changes(findings: pl.DataFrame, state: pl.DataFrame, sources_run: list[str], min_severity: str) -> pl.DataFrame:
    """What to tell a destination (CHANGE_COLUMNS), worst first, clears last.

    Args:
        findings: the current findings with a `source` column. state: open_rows.
        sources_run: the sources that ran (only their rows can clear). min_severity: the destination's.
    """
    wanted = list(SEVERITIES[: SEVERITIES.index(min_severity) + 1])
    current = findings.filter(pl.col("severity").is_in(wanted))
    prev = state.select(*KEY, pl.col("severity").alias("previous_severity"))
    joined = current.join(prev, on=KEY, how="left")
    rank = lambda c: pl.col(c).replace_strict(_RANK, default=len(_RANK), return_dtype=pl.Int32)  # noqa: E731
    sent = (joined.with_columns(
        pl.when(pl.col("previous_severity").is_null()).then(pl.lit("new"))
        .when(rank("severity") < rank("previous_severity")).then(pl.lit("escalated"))
        .when(rank("severity") > rank("previous_severity")).then(pl.lit("de-escalated"))
        .otherwise(None).alias("change"))
        .filter(pl.col("change").is_not_null()))
    gone = (state.filter(pl.col("source").is_in(sources_run))
            .join(current.select(KEY), on=KEY, how="anti")
            .with_columns(pl.lit("cleared").alias("change"), pl.col("severity").alias("previous_severity")))
    cleared = pl.DataFrame({
        **{c: gone[c] if c in gone.columns else pl.Series(c, [None] * gone.height, dtype=t)
           for c, t in CHANGE_COLUMNS.items()}}, schema=CHANGE_COLUMNS)
    sent = sent.select([pl.col(c).cast(t) for c, t in CHANGE_COLUMNS.items()])
    ordered = (sent.with_columns(rank("severity").alias("_r"))
               .sort(["_r", "weekly_impact_usd"], descending=[False, True], nulls_last=True).drop("_r"))
    return pl.concat([ordered, cleared.sort(KEY)], how="vertical")


def record(store: Any, destination: str, sent: pl.DataFrame, now: datetime | None = None) -> None:
    """Remember what `destination` was told (new, changed, cleared rows of `changes`), in one transaction."""
    now = now or datetime.now(timezone.utc)
    if sent.height == 0:
        return
    live = sent.filter(pl.col("change") != "cleared")
    gone = sent.filter(pl.col("change") == "cleared")
    with store.transaction():
        if live.height:
            with store.registered("_alert_sent", live.select(*KEY, "severity", "change", "evidence", "weekly_impact_usd")):
                store.execute(
                    "insert into alert_state (destination, source, signal, segment, severity, cleared, first_sent_at, "
                    "last_sent_at, cleared_at, evidence, weekly_impact_usd) "
                    "select $d, source, signal, segment, severity, false, $now, $now, null, evidence, weekly_impact_usd "
                    "from _alert_sent where true "
                    "on conflict (destination, source, signal, segment) do update set severity = excluded.severity, "
                    "cleared = false, first_sent_at = case when alert_state.cleared then excluded.first_sent_at "
                    "else alert_state.first_sent_at end, last_sent_at = excluded.last_sent_at, cleared_at = null, "
                    "evidence = excluded.evidence, weekly_impact_usd = excluded.weekly_impact_usd",
                    {"d": destination, "now": now})
        if gone.height:
            with store.registered("_alert_gone", gone.select(KEY)):
                store.execute(
                    "update alert_state set cleared = true, cleared_at = $now from _alert_gone g "
                    "where alert_state.destination = $d and alert_state.source = g.source "
                    "and alert_state.signal = g.signal and alert_state.segment = g.segment",
                    {"d": destination, "now": now})
