"""What-if on sampled logs: each request stands for sample_weight requests in both passes (per
request and daily totals). Prices per token: haiku-5-5 $0.10 in / $0.50 out per MTok, sonnet-5-5
$2 / $10, opus-5-5 $4 / $20; a request of 1,000 in and 100 out costs 150,000 nano-dollars on haiku,
3,000,000 on sonnet, 6,000,000 on opus."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest

from costlab.whatif import Scenario, bootstrap, evaluate, parse_split, reduce
from costlab.whatif.daily_totals import evaluate_daily_totals, reduce_daily_totals
from helpers import TIERS, insert_request

HAIKU, SONNET, OPUS = 150_000, 3_000_000, 6_000_000


def log(store, rows):
    """rows: (model, weight, feedback) per request, spread over two days."""
    for i, (model, weight, fb) in enumerate(rows):
        insert_request(store, f"r{i}", model, ts=f"2026-11-{10 + i % 2} 12:{i:02d}:00", output_tokens=100,
                       sample_weight=weight)
        if fb is not None:
            store.execute("update requests set feedback_score = ? where request_id = ?", [fb, f"r{i}"])


def test_split_totals_and_actual_are_1000x_the_logged_on_a_1_in_1000_sample(store):
    from typer.testing import CliRunner
    import typer
    from costlab.cli.whatif import register

    log(store, [("claude-sonnet-5-5", 1000, None)] * 10)
    db = str(store.path) if hasattr(store, "path") else store.scalar("select path from duckdb_databases() where database_name = current_database()")
    store.close()
    app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    register(app)
    r = CliRunner().invoke(app, ["whatif", "--db", db, "--split", "current", "--split", "haiku=70,sonnet=25,opus=5",
                                 "--format", "json", "--tiers", ",".join(f"{t}={m}" for t, m in TIERS.items())])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    # logged: 10 x $0.003 = $0.03; 10 x (0.7 x 150,000 + 0.25 x 3,000,000 + 0.05 x 6,000,000) = $0.01155
    assert rows[0]["cost_usd"] == "30.000000000"
    assert rows[1]["cost_usd"] == "11.550000000"


def test_the_per_request_pass_weighs_cost_counts_and_quality_on_a_mixed_weight_log(store):
    # 5 sonnet requests at weight 1 (feedback 1.0) and 5 haiku requests at weight 2.333333 (feedback 0.0).
    log(store, [("claude-sonnet-5-5", 1, 1.0), ("claude-haiku-5-5", Decimal("2.333333"), 0.0)] * 5)
    red = reduce(store, tiers=TIERS)
    assert red.weighted and sorted(red.weight.tolist()) == [1.0] * 5 + [2.333333] * 5
    cur = evaluate(red, Scenario(parse_split("current")))
    # haiku: 150,000 x 2.333333 = 349,999.95, half up to 350,000 per request
    assert cur.cost_nusd == 5 * SONNET + 5 * 350_000 == cur.actual
    assert cur.n == 17  # 5 + 11.666665 requests, to the nearest
    assert cur.tier_share["haiku"] == pytest.approx(11.666665 / 16.666665)
    # quality weighted by the requests each stands for: 5 x 1.0 / 16.666665, not 0.5
    assert cur.quality == pytest.approx(5 / 16.666665)
    on_haiku = evaluate(red, Scenario(parse_split("haiku=100")))
    assert on_haiku.cost_nusd == 5 * HAIKU + 5 * 350_000
    assert on_haiku.coverage["same"]["requests"] == pytest.approx(5 / 16.666665)
    b = bootstrap(evaluate(red, Scenario(parse_split("sonnet=100"))), resamples=200)
    # day blocks of weighted sums: every resample lies between two copies of one day and of the other
    assert b.cost_nusd == 5 * SONNET + 5 * round(SONNET * 2.333333)
    assert b.interval["cost_nusd"][0] >= 2 * min(b.day_cost) - 1 and b.interval["cost_nusd"][1] <= 2 * max(b.day_cost) + 1


def test_a_complete_log_is_unweighted(store):
    log(store, [("claude-sonnet-5-5", 1, None)] * 4)
    red = reduce(store, tiers=TIERS)
    assert not red.weighted and red.weight.tolist() == [1.0] * 4
    r = evaluate(red, Scenario(parse_split("opus=100")))
    assert r.cost_nusd == 4 * OPUS and r.n == 4 and r.actual == 4 * SONNET


def test_the_two_passes_agree_on_a_sampled_log(store):
    log(store, [("claude-sonnet-5-5", 1000, 1.0), ("claude-haiku-5-5", 1, 0.5), ("claude-opus-5-5", 250, 0.0)] * 4)
    red = reduce(store, tiers=TIERS)
    seg = reduce_daily_totals(store, tiers=TIERS)
    assert seg.n == 4 * 1251 and seg.actual_total == int(red.actual.sum()) == 4 * (1000 * SONNET + HAIKU + 250 * OPUS)
    for split in ("current", "haiku=70,sonnet=25,opus=5", "opus=100"):
        sc = Scenario(parse_split(split))
        a, b = bootstrap(evaluate(red, sc), resamples=200), bootstrap(evaluate_daily_totals(seg, sc), resamples=200)
        assert a.cost == b.cost and np.array_equal(a.day_cost, b.day_cost)
        assert a.interval["cost_nusd"] == b.interval["cost_nusd"]
        assert a.tier_share == b.tier_share and a.n == b.n
        assert b.quality == pytest.approx(a.quality, rel=1e-12)
