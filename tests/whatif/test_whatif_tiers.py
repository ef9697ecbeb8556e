"""Tier resolution follows the data, not the catalogue's newest models: with [tiers] unset (or not
naming a line), a tier line with traffic in the window stands for its model with the most traffic
there, and a note says so; the per-request pass, the daily totals and the report share it."""

from __future__ import annotations

from datetime import datetime, timezone
from fractions import Fraction

from costlab.config import Config
from costlab.open import open_store
from costlab.report.build import build_report
from costlab.report.settings import ReportSettings
from costlab.report.window import date_range
from costlab.testing.factories import insert_requests
from costlab.whatif import Scenario, evaluate, parse_split, reduce
from costlab.whatif.daily_totals import evaluate_daily_totals, reduce_daily_totals

START, END = datetime(2026, 11, 9, tzinfo=timezone.utc), datetime(2026, 11, 16, tzinfo=timezone.utc)
# 6 haiku-4-5, 3 sonnet-4-6, 1 opus-4-7 request, each 1,000 input and 100 output tokens
MODEL = "case when i < 6 then 'claude-haiku-4-5' when i < 9 then 'claude-sonnet-4-6' else 'claude-opus-4-7' end"
NANO_USD = 1_000_000_000


def _store(tmp_path, model=MODEL, n=10, **config):
    # tokenizer_factor 1: the opus-4-7 request's tokens are the same on every tier (hand arithmetic)
    store = open_store(tmp_path / "t.duckdb", Config(whatif={"tokenizer_factor": 1.0}, **config))
    insert_requests(store, n, START, END, model=model, input_tokens="1000", output_tokens="100")
    return store


def test_default_tiers_stand_for_the_logged_models_with_the_most_traffic_and_say_so(tmp_path):
    store = _store(tmp_path)
    red = reduce(store, since=START, until=END)
    assert dict(zip(red.tiers, red.models)) == {"haiku": "claude-haiku-4-5", "sonnet": "claude-sonnet-4-6",
                                                "opus": "claude-opus-4-7"}
    assert any(n.startswith("tier sonnet stands for claude-sonnet-4-6, the sonnet model with the most traffic "
                            "in the window (3 of 3 sonnet requests)") for n in red.tier_notes)
    current = evaluate(red, Scenario(parse_split("current")))
    assert not any("stand for no tier" in n for n in current.notes)  # every request is on its tier's model
    # hand prices: haiku-4-5 $1/$5, sonnet-4-6 $3/$15 per MTok: 1,000 in + 100 out = $0.0015 / $0.0045
    assert Fraction(current.cost) == 6 * 1_500_000 + 3 * 4_500_000 + int(red.actual[9])
    assert Fraction(evaluate(red, Scenario(parse_split("haiku=100"))).cost) == 10 * 1_500_000
    assert Fraction(evaluate(red, Scenario(parse_split("sonnet=100"))).cost) == 10 * 4_500_000
    # the daily totals (the report's what-if) resolve the same tiers and the same figures
    daily = reduce_daily_totals(store, since=START, until=END)
    assert daily.models == red.models and daily.tier_notes == red.tier_notes and daily.n_off == 0
    assert Fraction(evaluate_daily_totals(daily, Scenario(parse_split("sonnet=100"))).cost) == 10 * 4_500_000
    report = build_report(store, date_range(START.date(), END.date()), ReportSettings(whatif_splits=("sonnet=100",)))
    whatif = report["sections"]["whatif"]
    assert any(n.startswith("tier sonnet stands for claude-sonnet-4-6") for n in whatif["notes"])
    row = next(r for r in whatif["tables"][0]["rows"] if r["scenario"] == "sonnet=100")
    assert row["cost_usd"] == "0.045000000"
    store.close()


def test_a_line_on_two_models_stands_for_the_busier_one_and_the_note_counts_the_other(tmp_path):
    model = "case when i < 2 then 'claude-sonnet-4-5' else 'claude-sonnet-4-6' end"
    store = _store(tmp_path, model=model, n=5)
    red = reduce(store, since=START, until=END)
    assert dict(zip(red.tiers, red.models)) == {"sonnet": "claude-sonnet-4-6"}
    note = next(n for n in red.tier_notes if n.startswith("tier sonnet"))
    assert "(3 of 5 sonnet requests)" in note and "the other 2 sonnet requests ran on 1 other sonnet model(s)" in note
    current = evaluate(red, Scenario(parse_split("current")))
    assert any(n.startswith("2 requests ran on models that stand for no tier") for n in current.notes)  # true: they do
    store.close()


def test_tiers_named_in_config_are_kept_and_only_unnamed_lines_with_traffic_are_filled(tmp_path):
    store = _store(tmp_path, tiers={"sonnet": "claude-sonnet-5-5"})
    red = reduce(store, since=START, until=END)
    assert dict(zip(red.tiers, red.models))["sonnet"] == "claude-sonnet-5-5"
    assert dict(zip(red.tiers, red.models))["haiku"] == "claude-haiku-4-5"
    assert not any(n.startswith("tier sonnet") for n in red.tier_notes)
    store.close()
