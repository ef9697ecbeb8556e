"""Unpriced traffic is one finding per model over the days it happened (not one per day), and the
weekly report lists only the unpriced traffic inside its own week (issue 16, issue 17)."""

from __future__ import annotations

import polars as pl

from costlab import signals
from costlab.generate import generate_sql
from costlab.report import SECTIONS, build_report, window


def unpriced_haiku_5_5_in_september(store) -> int:
    """Generated traffic from 2026-09-28 for 14 days whose Haiku rows claim Haiku 5.5, which has no
    price before 2026-10-07 (the bug the generator had): the number of such requests."""
    store.execute("insert into requests by name " + generate_sql(6000, seed=3, start="2026-09-28", days=14))
    store.execute("update requests set model = 'claude-haiku-5-5', price_version = null where model = 'claude-haiku-4-5'")
    return store.scalar("select count(*) from costed_requests where not priced")


def test_a_model_used_before_its_first_price_is_one_finding_with_its_day_range(store):
    unpriced = unpriced_haiku_5_5_in_september(store)
    assert unpriced > 0
    found = signals.run_signals(store).filter(pl.col("signal") == "unpriced")
    assert found.height == 1, found.select("segment", "evidence")
    finding = found.row(0, named=True)
    assert finding["segment"] == "model=claude-haiku-5-5"
    assert finding["requests"] == unpriced
    assert "on 9 days from 2026-09-28 to 2026-10-06" in finding["evidence"]
    assert "in force then" in finding["evidence"]


def test_the_weekly_report_lists_only_unpriced_traffic_inside_its_week(store):
    unpriced_haiku_5_5_in_september(store)                 # September: before the report's week
    store.execute("insert into requests by name " + generate_sql(4000, seed=4, start="2026-11-09", days=7))
    week = window.week("2026-W46")
    report = build_report(store, week, sections=[s for s in SECTIONS if s.name == "findings"])
    rows = report["sections"]["findings"]["tables"][0]["rows"] if report["sections"]["findings"]["tables"] else []
    assert [r for r in rows if r["signal"] == "unpriced"] == []
    # the detectors' own look-back (8 weeks) still sees it, for `costlab signals`
    looked_back = signals.run_signals(store, until=week.until)
    assert "unpriced" in looked_back["signal"].to_list()


def test_unpriced_traffic_inside_the_week_is_still_reported(store):
    store.execute("insert into requests by name " + generate_sql(4000, seed=4, start="2026-11-09", days=7))
    store.execute("update requests set model = 'claude-nova-9', price_version = null where feature = 'moderation'")
    week = window.week("2026-W46")
    report = build_report(store, week, sections=[s for s in SECTIONS if s.name == "findings"])
    rows = report["sections"]["findings"]["tables"][0]["rows"]
    assert [r["segment"] for r in rows if r["signal"] == "unpriced"] == ["model=claude-nova-9"]
