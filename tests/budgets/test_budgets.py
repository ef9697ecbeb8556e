"""Budgets: exact spend to date per scope, the forecast on traffic with a known trend and weekday
pattern (the truth inside its interval), breach and forecast-breach findings, and `costlab budget`."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from costlab import budgets
from costlab.budgets import forecast
from costlab.cli import budget as budget_cli
from costlab.config import Config
from costlab.errors import ConfigError
from costlab.open import open_store
from costlab.signals import COLUMNS

from helpers import one_command_app
from budget_traffic import COST, counts, insert

NOV = date(2026, 11, 1)


def cfg(*tables: dict) -> Config:
    return Config(budgets=list(tables))


def status(store, config: Config, through: date) -> dict:
    rows = budgets.budget_status(store, config, through=through)
    assert rows.height == 1
    return rows.row(0, named=True)


def test_noise_free_trend_and_weekday_pattern_are_forecast_almost_exactly(store):
    days = counts(NOV - timedelta(days=28), 58)  # four weeks before November, then November
    insert(store, days)
    truth = Decimal(sum(n for d, n in days.items() if d.month == 11)) * Decimal("0.003")
    row = status(store, cfg({"name": "org", "period": "month", "amount_usd": "1000000"}), date(2026, 11, 10))
    assert row["history_days"] == 38 and row["days_elapsed"] == 10 and row["days_left"] == 20
    assert abs(row["forecast_usd"] - truth) / truth < Decimal("0.01"), (row["forecast_usd"], truth)
    assert row["forecast_low_usd"] <= row["forecast_usd"] <= row["forecast_high_usd"]
    assert "weekday-seasonal linear trend over 38 days" in row["method"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_traffic_is_forecast_within_a_few_percent_of_the_month_end_truth(store, seed):
    days = counts(NOV - timedelta(days=28), 58, noise=0.06, seed=seed)
    insert(store, days)
    truth = Decimal(sum(n for d, n in days.items() if d.month == 11)) * Decimal("0.003")
    row = status(store, cfg({"name": "org", "period": "month", "amount_usd": "1000000"}), date(2026, 11, 10))
    assert abs(row["forecast_usd"] - truth) / truth < Decimal("0.05"), (row["forecast_usd"], truth)
    # the interval is informative: narrower than +-15% of the forecast
    assert row["forecast_high_usd"] - row["forecast_low_usd"] < Decimal("0.3") * row["forecast_usd"]


@pytest.mark.slow
def test_the_90_percent_interval_covers_the_truth_about_nine_times_in_ten():
    """100 series with a known trend, weekday pattern and noise: six weeks of history, 20 days ahead
    (binomial sd of the coverage at 90%: 3 points)."""
    hits = 0
    for seed in range(100):
        per_day = counts(date(2026, 9, 20), 62, noise=0.08, seed=seed)
        days = sorted(per_day)
        spend = np.array([per_day[d] * COST for d in days])
        fc = forecast(days[:42], spend[:42], days[42:], seed=seed)
        hits += fc.low <= spend[42:].sum() <= fc.high
    assert 0.78 <= hits / 100 <= 0.99, hits


def test_a_flat_forecast_ignoring_the_weekday_pattern_would_be_worse(store):
    """Seasonality matters: on a Friday through-day the weekend is ahead; the weekly forecast knows it."""
    days = counts(NOV - timedelta(days=28), 43, growth=0.0)
    insert(store, days)
    friday = date(2026, 11, 13)
    row = status(store, cfg({"name": "w", "period": "week", "amount_usd": "1000000"}), friday)
    truth = Decimal(sum(n for d, n in days.items() if date(2026, 11, 9) <= d <= date(2026, 11, 15))) * Decimal("0.003")
    flat = row["spend_usd"] / 5 * 7
    assert abs(row["forecast_usd"] - truth) < abs(flat - truth) / 5


def test_spend_to_date_is_the_exact_decimal_sum_in_the_period_and_weighted(store):
    insert(store, {NOV + timedelta(days=i): 100 for i in range(5)})
    insert(store, {NOV + timedelta(days=2): 10}, prefix="w", sample_weight="10")  # 10 rows standing for 100
    insert(store, {NOV - timedelta(days=1): 500}, prefix="oct")  # October: not this period's spend
    row = status(store, cfg({"name": "org", "period": "month", "amount_usd": "5"}), date(2026, 11, 5))
    assert row["spend_usd"] == Decimal(600) * Decimal("0.003")
    assert row["requests"] == 600
    assert row["unpriced_requests"] == 0


@pytest.mark.parametrize("scope, expected", [
    ("org", 100 + 40 + 7 + 3), ("feature=chat", 100), ("customer=acme", 40), ("tier=opus", 7), ("model=claude-haiku-5-5", 3),
])
def test_each_scope_counts_only_its_own_requests(store, scope, expected):
    insert(store, {NOV: 100}, prefix="c", feature="'chat'", customer_id="'globex'")
    insert(store, {NOV: 40}, prefix="a", feature="'search'", customer_id="'acme'")
    insert(store, {NOV: 7}, prefix="o", feature="'agent'", customer_id="'initech'", model="'claude-opus-5-5'",
           output_tokens="0", input_tokens="0")
    insert(store, {NOV: 3}, prefix="h", feature="'tag'", customer_id="'initech'", model="'claude-haiku-5-5'",
           output_tokens="0", input_tokens="0")
    row = status(store, cfg({"name": "b", "period": "month", "amount_usd": "100", "scope": scope}), NOV)
    assert row["requests"] == expected and row["scope"] == scope


def test_breach_is_a_high_finding_and_a_forecast_breach_a_medium_one(store):
    insert(store, counts(NOV - timedelta(days=28), 38))  # ~ $3.5 a day
    config = cfg({"name": "spent", "period": "month", "amount_usd": "10"},
                 {"name": "will", "period": "month", "amount_usd": "60"},
                 {"name": "fine", "period": "month", "amount_usd": "1000"})
    rows = budgets.budget_status(store, config, through=date(2026, 11, 10))
    assert dict(zip(rows["budget"], rows["status"])) == {"spent": "breached", "will": "forecast breach", "fine": "ok"}
    found = budgets.findings(rows)
    assert found.schema == pl.Schema(COLUMNS)
    assert found.select("severity", "segment").rows() == [("high", "budget=spent period=2026-11"),
                                                         ("medium", "budget=will period=2026-11")]
    spent = rows.filter(pl.col("budget") == "spent").row(0, named=True)
    assert spent["crosses_on"] <= date(2026, 11, 10)
    will = rows.filter(pl.col("budget") == "will").row(0, named=True)
    assert date(2026, 11, 11) <= will["crosses_on"] <= date(2026, 11, 30)
    assert will["crosses_earliest"] <= will["crosses_on"]
    assert "forecast" in found["evidence"][1] and "90% interval" in found["evidence"][1]
    assert found["query"][0].startswith("queries/budgets/daily_spend.sql -p since=2026-11-01")


def test_a_week_budget_is_the_iso_week_and_a_new_period_is_a_new_finding(store):
    insert(store, counts(NOV - timedelta(days=28), 45))
    config = cfg({"name": "wk", "period": "week", "amount_usd": "1"})
    a = budgets.findings(budgets.budget_status(store, config, through=date(2026, 11, 11)))
    b = budgets.findings(budgets.budget_status(store, config, through=date(2026, 11, 13)))
    c = budgets.findings(budgets.budget_status(store, config, through=date(2026, 11, 14) + timedelta(days=2)))
    assert a["segment"].to_list() == b["segment"].to_list() == ["budget=wk period=2026-W46"]
    assert c["segment"].to_list() == ["budget=wk period=2026-W47"]


@pytest.mark.parametrize("table, message", [
    ({"period": "month", "amount_usd": 1}, "name is required"),
    ({"name": "a", "period": "year", "amount_usd": 1}, "period must be month or week"),
    ({"name": "a", "amount_usd": -5}, "more than zero"),
    ({"name": "a", "amount_usd": "lots"}, "not a number"),
    ({"name": "a", "amount_usd": 5, "scope": "team=x"}, "scope must be org or one of"),
    ({"name": "a", "amount_usd": 5, "amout": 3}, "Did you mean"),
])
def test_bad_budget_settings_are_refused_with_the_reason(table, message):
    with pytest.raises(ConfigError, match=message):
        budgets.budgets([table])


def test_amounts_are_read_as_written_not_as_binary_floats():
    (b,) = budgets.budgets([{"name": "a", "amount_usd": 1234.1}])
    assert b.amount_usd == Decimal("1234.1")


def test_costlab_budget_writes_the_table_as_json_and_fail_on_high_exits_5(tmp_path, store):
    insert(store, counts(NOV - timedelta(days=28), 38))
    store.close()
    (tmp_path / "costlab.toml").write_text('[[budgets]]\nname = "org"\nperiod = "month"\namount_usd = "10"\n')
    app = one_command_app(budget_cli.register)
    result = CliRunner().invoke(app, ["budget", "--db", str(tmp_path / "test.duckdb"), "--through", "2026-11-10",
                                      "--format", "json", "--fail-on", "high"])
    assert result.exit_code == 5, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["status"] == "breached" and row["budget"] == "org"
    assert Decimal(row["spend_usd"]) > Decimal(10)
    assert "forecast rests on 38 days" in result.stderr


def test_costlab_budget_without_budgets_is_a_usage_error(tmp_path, store):
    store.close()
    result = CliRunner().invoke(one_command_app(budget_cli.register), ["budget", "--db", str(tmp_path / "test.duckdb")])
    assert result.exit_code == 2 and "no [[budgets]]" in result.stderr


def test_two_budgets_with_one_name_and_an_unknown_name_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\[\[budgets\]\] #2 \('a'\): 'a' is already defined"):
        budgets.budgets([{"name": "a", "amount_usd": 5}, {"name": "a", "amount_usd": 6}])
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(ConfigError, match="no budget 'org-monthy'.*Did you mean 'org-monthly'"):
        budgets.budget_status(store, cfg({"name": "org-monthly", "amount_usd": "5"}), names=["org-monthy"])
    store.close()
