"""The report on a 1-in-1,000 sample: weighted figures, the "estimated from a 1-in-N sample" note
with the spend's sampling error, active users unscaled (said), and intervals widened for sampling."""

from __future__ import annotations

import math
from decimal import Decimal
from datetime import datetime, timezone

import pytest

from costlab.report import build_report, window
from costlab.report.sections import headline
from costlab.report.sections.cube import Sampling, widen

from helpers import inject

W46 = (datetime(2026, 11, 9, tzinfo=timezone.utc), datetime(2026, 11, 16, tzinfo=timezone.utc))


def test_headline_is_weighted_and_says_the_sample_and_its_error(store):
    # 70 logged rows at sample_weight 1,000, each $0.003 on claude-sonnet-5-5 (1,000 in x $2 + 100 out
    # x $10 per MTok): 70,000 requests, $210. Sampling variance: 70 x 1,000 x 999 x 0.003^2 = 629.37,
    # standard error $25.087, 95% half-width 1.96 x 25.087 = $49.17.
    inject(store, 70, *W46, model="'claude-sonnet-5-5'", output_tokens="100", user_id="'u' || (i % 3)",
           sample_weight="1000")
    report = build_report(store, window.week("2026-W46"), sections=[headline.SECTION])
    section = report["sections"]["headline"]
    values = {m["key"]: m["current"] for m in section["metrics"]}
    assert values["requests"] == 70_000
    assert Decimal(str(values["spend_usd"])) == Decimal("210")
    assert values["active_users"] == 3  # the ids seen: not scaled
    notes = " ".join(section["notes"])
    assert "Estimated from a 1-in-1,000 sample: 70 logged requests stand for 70,000" in notes
    assert "± $49.17" in notes
    assert "distinct counts cannot be scaled" in notes


def test_a_complete_log_has_no_sampling_note(store):
    inject(store, 70, *W46, model="'claude-sonnet-5-5'")
    report = build_report(store, window.week("2026-W46"), sections=[headline.SECTION])
    assert not any("sample" in n for n in report["sections"]["headline"]["notes"])


def test_intervals_widen_by_the_relative_sampling_error_in_quadrature():
    # spend $1,000 with a $50 standard error: 5% relative; a $100 point gets 1.96 x $5 = $9.80 more,
    # added in quadrature to the bootstrap's half-widths of $10: 100 -/+ sqrt(10^2 + 9.8^2) = 14.0014.
    s = Sampling(requests=1_000_000, logged=1_000, cost_se_usd=50.0)
    lo, hi = widen(100.0, 90.0, 110.0, s, 1_000.0)
    half = math.hypot(10.0, 1.959963984540054 * 5.0)
    assert (lo, hi) == pytest.approx((100 - half, 100 + half))
    assert widen(100.0, 90.0, 110.0, Sampling(1_000, 1_000, 0.0), 1_000.0) == (90.0, 110.0)


def test_an_expensive_request_at_a_large_weight_sums_exactly_everywhere(store):
    # One claude-opus request of 1M input tokens (a few dollars, no output) standing for 1,000: thousands in
    # the report's cube and the summary. DuckDB keeps the product of two DECIMAL(18,x) at width 18, so
    # with a DECIMAL(18,6) weight $5 x 1000 overflowed DECIMAL(18,15) and failed the whole query.
    from costlab import summary, signals

    inject(store, 1, *W46, model="'claude-opus-5-5'", input_tokens="1000000", output_tokens="0", sample_weight="1000")
    cost = Decimal(str(store.scalar("select cost_usd from costed_requests")))
    assert cost >= 1  # $1 x 1,000 is already past what DECIMAL(18,15) holds
    report = build_report(store, window.week("2026-W46"), sections=[headline.SECTION])
    values = {m["key"]: m["current"] for m in report["sections"]["headline"]["metrics"]}
    assert Decimal(str(values["spend_usd"])) == cost * 1000
    tiers = summary.cost_summary(store, since=W46[0], until=W46[1])["tier"]
    assert Decimal(str(tiers["cost_usd"][-1])) == cost * 1000  # the TOTAL row
    signals.run_signals(store, until=W46[1])  # every detector's weighted sums run without overflow
