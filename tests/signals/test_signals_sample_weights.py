"""A 1-in-1,000 sample: dollar thresholds and severities read the weighted figures, so a finding
whose full-scale saving crosses the threshold fires although the logged rows alone do not."""

from __future__ import annotations

from decimal import Decimal

from costlab import signals
from costlab.config import Config

from helpers import END, START, inject


def _over_modeled(store, weight: str) -> None:
    # 300 logged rows on Opus (claude-opus-5-5: $4 in, $20 out per MTok), 1,000 input and 5 output
    # tokens each: $0.0041 a row; on Sonnet ($2, $10) $0.00205: $0.00205 saved per request.
    inject(store, 300, START, END, feature="'tagger'", model="'claude-opus-5-5'", input_tokens="1000",
           output_tokens="5", stop_reason="'end_turn'", sample_weight=weight)


def _over_modeling(store):
    found = signals.run_signals(store, config=Config(), since=START, until=END)
    return found.filter(found["signal"] == "over_modeling")


def test_over_modeling_is_below_the_threshold_on_the_logged_rows_alone(store):
    _over_modeled(store, "1")  # 300 x $0.00205 / 2 weeks = $0.3075 a week: under min_impact_usd ($25)
    assert _over_modeling(store).height == 0


def test_over_modeling_fires_at_full_scale_on_a_one_in_1000_sample(store):
    _over_modeled(store, "1000")  # 300,000 requests: 300,000 x $0.00205 / 2 = $307.50 a week, medium ($100-$1,000)
    rows = _over_modeling(store)
    assert rows.height == 1
    f = rows.row(0, named=True)
    assert f["weekly_impact_usd"] == Decimal("307.5")
    assert f["severity"] == "medium"
    assert f["requests"] == 300_000
    assert "300,000 requests" in f["evidence"]
