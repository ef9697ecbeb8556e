"""The what-if simulator: the one-pass reduction, splits, policies, batch/cache what-ifs, bootstrap,
frontier metrics and the backtest."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from costlab.errors import ConfigError
from costlab.generate import generate_sql
from costlab.whatif import Scenario, Split, bootstrap, evaluate, parse_split, reduce
from costlab.whatif import frontier as F
from costlab.whatif.backtest import backtest
from costlab.whatif.arrays import ReduceOptions
from costlab.whatif.policies import fit_weights, quantile_assignment
from costlab.whatif.tables import scenario_row, usd

from helpers import REPLAY_DDL, TIERS, insert_request


def card(store, model: str, service_tier: str = "standard") -> dict[str, int]:
    row = store.rows("select input_fusd, output_fusd, cache_write_5m_fusd, cache_read_fusd from price_card "
                     "where model = ? and speed = 'standard' and platform = 'anthropic' and service_tier = ? "
                     "and geo_class = 'global' and band_min_tokens = 0 order by seg_from desc limit 1", [model, service_tier])[0]
    return dict(zip(("input", "output", "cw5", "cr"), row))


def nano(tokens: int, fusd: int) -> int:
    return (tokens * fusd + 500_000) // 1_000_000


@pytest.fixture
def generated(store):
    store.execute("insert into requests by name " + generate_sql(3000, seed=5))
    return store


def test_split_current_reproduces_the_actual_cost_to_the_nano_dollar(generated):
    store = generated
    # rows the generator does not make: an older-tokenizer model, a US-geo batch row, a model with no price
    insert_request(store, "old", "claude-sonnet-4-5", input_tokens=5000, output_tokens=700)
    insert_request(store, "usbatch", "claude-opus-5-5", service_tier="batch", inference_geo="us")
    insert_request(store, "nope", "claude-nonexistent-9", input_tokens=10)
    red = reduce(store, tiers=TIERS)
    res = evaluate(red, Scenario(parse_split("current")))
    actual = store.scalar("select sum(cost_usd) from costed_requests where priced")
    assert Decimal(res.cost_nusd).scaleb(-9) == actual
    assert res.cost.denominator == 1
    # the unpriced request is counted and said, never simulated as $0
    assert red.unpriced == 1 == store.scalar("select count(*) from costed_requests where not priced")
    assert any("no price in force" in n and "not $0" in n for n in res.notes)


def test_a_request_on_its_tier_model_costs_exactly_its_logged_cost_on_that_tier(generated):
    red = reduce(generated, tiers=TIERS)
    on = red.own >= 0
    assert on.all()
    assert np.array_equal(red.cost[np.arange(red.n), red.own], red.actual)
    assert (red.warmup[np.arange(red.n), red.own] == 0).all()
    assert (red.out_src[np.arange(red.n), red.own] == 0).all()


def test_tokenizer_factor_scales_tokens_from_an_older_generation_to_a_newer_one(store):
    insert_request(store, "old", "claude-sonnet-4-5", input_tokens=1000, output_tokens=100)
    red = reduce(store, tiers=TIERS, options=ReduceOptions(tokenizer_factor=1.3))
    h = card(store, "claude-haiku-5-5")
    k = red.tiers.index("haiku")
    assert red.cost[0, k] == nano(1300, h["input"]) + nano(130, h["output"])
    assert red.out_src[0, k] == 3  # no replay: the same answer, re-tokenized like the input
    red1 = reduce(store, tiers=TIERS, options=ReduceOptions(tokenizer_factor=1.0))
    assert red1.cost[0, k] == nano(1000, h["input"]) + nano(100, h["output"])


def test_output_tokens_come_from_the_requests_own_replay_else_stay_as_logged(store):
    store.execute_script(REPLAY_DDL)
    # feature g ran on haiku and sonnet (25 each): sonnet writes twice as much, but that traffic is
    # another population (routing picks it), so by default it moves nothing
    for i in range(25):  # distinct timestamps: requests are numbered in time order
        insert_request(store, f"h{i}", "claude-haiku-5-5", ts=f"2026-11-10 12:{i:02d}:00", feature="g", output_tokens=100)
        insert_request(store, f"s{i}", "claude-sonnet-5-5", ts=f"2026-11-10 13:{i:02d}:00", feature="g", output_tokens=200)
    store.execute("insert into replays (run, source, request_id, tier, model, status, output_tokens) "
                  "values ('r', 'test', 'h0', 'sonnet', 'claude-sonnet-5-5', 'ok', 777)")
    red = reduce(store, tiers=TIERS, options=ReduceOptions(min_ratio_requests=20))
    s = card(store, "claude-sonnet-5-5")
    k = red.tiers.index("sonnet")
    order = [r[0] for r in store.rows("select request_id from requests order by ts")]
    h0, h1 = order.index("h0"), order.index("h1")
    assert red.out_src[h0, k] == 1 and red.cost[h0, k] == nano(1000, s["input"]) + nano(777, s["output"])
    # h1 was not replayed: its own 100 output tokens (no ratio from h0's replay or from the traffic)
    assert red.out_src[h1, k] == 3 and red.cost[h1, k] == nano(1000, s["input"]) + nano(100, s["output"])
    assert red.out_adjust[h0, k] == nano(777, s["output"]) - nano(100, s["output"]) and red.out_adjust[h1, k] == 0
    # the observed sensitivity: the traffic ratio 200 / 100 within feature g (one source, no customer)
    obs = reduce(store, tiers=TIERS, options=ReduceOptions(min_ratio_requests=20, output_tokens="observed"))
    assert obs.out_src[h1, k] == 2 and obs.cost[h1, k] == nano(1000, s["input"]) + nano(200, s["output"])
    assert obs.out_src[h0, k] == 1  # a paired replay before any ratio
    ko = red.tiers.index("opus")
    assert obs.out_src[h1, ko] == 3  # nothing ran on opus and nothing was replayed there


def test_cache_reads_moved_to_a_cold_tier_are_billed_as_writes_during_warm_up(store):
    insert_request(store, "a", "claude-haiku-5-5", ts="2026-11-10 12:00:00", input_tokens=100, cache_read_tokens=10_000)
    insert_request(store, "b", "claude-haiku-5-5", ts="2026-11-10 15:00:00", input_tokens=100, cache_read_tokens=10_000)
    red = reduce(store, tiers=TIERS, options=ReduceOptions(warmup_minutes=60))
    k = red.tiers.index("sonnet")
    s = card(store, "claude-sonnet-5-5")
    assert red.warmup[0, k] == nano(10_000, s["cw5"] - s["cr"]) > 0  # in the first hour of the feature
    assert red.warmup[1, k] == 0  # three hours later the cache is warm
    assert (red.warmup[:, red.tiers.index("haiku")] == 0).all()  # its own cache is warm already
    off = reduce(store, tiers=TIERS, options=ReduceOptions(warmup_minutes=0))
    assert (off.warmup == 0).all()
    res = evaluate(red, Scenario(parse_split("sonnet=100")))
    assert res.cost - res.cost_no_warmup == red.warmup[0, k]


def test_moving_a_feature_to_batch_costs_what_the_batch_api_bills(generated):
    store = generated
    red = reduce(store, tiers=TIERS)
    res = evaluate(red, Scenario(parse_split("current"), batch_features=("doc-summarize",)))
    expected = store.scalar("""
        select sum(case when feature = 'doc-summarize' and service_tier <> 'batch' then 0 else cost_usd end) from costed_requests""")
    store.execute("create table moved as select * from requests where feature = 'doc-summarize' and service_tier <> 'batch'")
    store.execute("delete from requests where feature = 'doc-summarize' and service_tier <> 'batch'")
    store.execute("insert into requests select * replace ('batch' as service_tier, null as price_version) from moved")
    batch_cost = store.scalar("select sum(cost_usd) from costed_requests where feature = 'doc-summarize' "
                              "and request_id in (select request_id from moved)")
    assert Decimal(res.cost_nusd).scaleb(-9) == expected + batch_cost
    with pytest.raises(ConfigError, match="no feature"):
        evaluate(red, Scenario(parse_split("current"), batch_features=("doc-summarise",)))


def test_cache_hit_rate_what_if_is_exact_and_linear_in_the_rate(generated):
    red = reduce(generated, tiers=TIERS)
    split = parse_split("haiku=60,sonnet=30,opus=10")
    c = {r: evaluate(red, Scenario(split, cache_hit_rate=Fraction(r, 100))).cost for r in (0, 50, 100)}
    assert c[100] < c[0]
    assert c[50] == (c[0] + c[100]) / 2


def test_splits_parse_percentages_or_shares_and_refuse_what_they_cannot_mean():
    assert parse_split("haiku=70,sonnet=25,opus=5").weights == parse_split("haiku=0.7,sonnet=0.25,opus=0.05").weights
    assert parse_split(" current ").current
    for bad in ("haiku", "haiku=-1,opus=2", "haiku=0", "haiku=x", "haiku=1,haiku=2"):
        with pytest.raises(ConfigError):
            parse_split(bad)


def test_a_split_that_does_not_add_up_to_100_or_1_is_refused_with_its_sum_never_rescaled():
    with pytest.raises(ConfigError, match="add up to 105;"):
        parse_split("haiku=70,sonnet=25,opus=10")
    with pytest.raises(ConfigError, match="add up to 1.5;"):
        parse_split("haiku=0.5,sonnet=1")
    with pytest.raises(ConfigError, match="add up to 50;"):
        parse_split("haiku=50")
    # within the tolerance (100 +- 0.01): thirds written to two places, exact thirds
    assert parse_split("haiku=33.33,sonnet=33.33,opus=33.34").weights[2][1] == Fraction(3334, 10000)
    assert [w for _, w in parse_split("haiku=33.333,sonnet=33.333,opus=33.333").weights] == [Fraction(1, 3)] * 3
    assert [w for _, w in parse_split("haiku=1/3,sonnet=1/3,opus=1/3").weights] == [Fraction(1, 3)] * 3
    assert dict(parse_split("haiku=100").weights) == {"haiku": 1}


def test_a_split_naming_an_unconfigured_tier_is_a_config_error_with_a_suggestion(generated):
    red = reduce(generated, tiers=TIERS)
    with pytest.raises(ConfigError, match="Did you mean 'haiku'"):
        evaluate(red, Scenario(parse_split("haiku=50,haikuu=50")))


def test_tiers_come_from_config_and_a_tier_model_without_a_price_is_refused(generated):
    with pytest.raises(ConfigError, match="no price for the tier model"):
        reduce(generated, tiers={"haiku": "claude-haiku-9-9"})
    red = reduce(generated)  # no [tiers]: each tier line's newest active model, from the models table
    assert set(red.tiers) == {"haiku", "sonnet", "opus"}
    assert red.tiers[0] == "haiku" and red.tiers[-1] == "opus"  # sorted by what they cost


def test_bootstrap_by_day_blocks_gives_an_interval_around_the_point(generated):
    red = reduce(generated, tiers=TIERS)
    res = bootstrap(evaluate(red, Scenario(parse_split("haiku=70,sonnet=25,opus=5"))), 1000, seed=1)
    lo, hi = res.interval["cost_nusd"]
    assert lo < float(res.cost) < hi
    qlo, qhi = res.interval["quality"]
    assert qlo <= res.quality <= qhi
    again = bootstrap(evaluate(red, Scenario(parse_split("haiku=70,sonnet=25,opus=5"))), 1000, seed=1)
    assert again.interval == res.interval
    assert len(red.days) == 14 and np.isclose(res.day_cost.sum(), float(res.cost))


def test_frontier_covers_5151_splits_and_its_pareto_set_is_not_dominated(generated):
    red = reduce(generated, tiers=TIERS)
    fr = F.proportional(red)
    assert fr.splits.shape == (5151, 3) and (fr.splits.sum(axis=1) == 100).all()
    p = fr.pareto
    for i in p:
        dominated = (fr.cost < fr.cost[i] - 1e-12) & (fr.quality >= fr.quality[i])
        assert not dominated.any()
    assert np.all(np.diff(fr.cost[p]) > 0) and np.all(np.diff(fr.quality[p]) > 0)
    fc = F.complexity(red)
    assert fc.cost.shape == (5151,)
    # the complexity grid agrees with evaluating one split directly
    i = int(np.nonzero((fc.splits == [70, 25, 5]).all(axis=1))[0][0])
    direct = evaluate(red, Scenario(parse_split("haiku=70,sonnet=25,opus=5"), policy="complexity"))
    assert np.isclose(fc.cost[i] * 1e9, float(direct.cost))


def test_router_metrics_on_a_straight_line_tradeoff():
    u = np.linspace(0, 1, 101)
    m = F.metrics(u * 10, 0.6 + 0.2 * u, 0.0, 10.0, 0.6, 0.8)
    assert m.apgr == pytest.approx(0.5)
    assert m.cpt[0.5][0] == pytest.approx(5.0) and m.cpt[0.8][1] == pytest.approx(0.8)
    assert m.aiq == pytest.approx(0.7)
    # a concave frontier is better than the straight line on every metric
    m2 = F.metrics(u * 10, 0.6 + 0.2 * np.sqrt(u), 0.0, 10.0, 0.6, 0.8)
    assert m2.apgr > 0.6 and m2.aiq > 0.7 and m2.cpt[0.5][0] < 5.0


def test_oracle_and_cascade_use_judged_outcomes(store):
    store.execute_script(REPLAY_DDL)
    for i in range(4):
        insert_request(store, f"r{i}", "claude-sonnet-5-5", ts=f"2026-11-1{i} 12:00:00")
    # r0: haiku good; r1: haiku bad, sonnet good; r2: only opus good; r3: nobody good
    goods = {"r0": (1, 1, 1), "r1": (0, 1, 1), "r2": (0, 0, 1), "r3": (0, 0, 0)}
    for rid, g in goods.items():
        for tier, ok in zip(("haiku", "sonnet", "opus"), g):
            store.execute("insert into judgements (source, request_id, tier, judge, score, good) values ('test', ?, ?, 'j', ?, ?)",
                          [rid, tier, float(ok), bool(ok)])
    red = reduce(store, tiers=TIERS)
    t = {name: i for i, name in enumerate(red.tiers)}
    oracle = evaluate(red, Scenario(parse_split("haiku=100"), policy="oracle"))
    C = red.cost
    assert oracle.cost == C[0, t["haiku"]] + C[1, t["sonnet"]] + C[2, t["opus"]] + C[3, t["haiku"]]
    assert oracle.quality == pytest.approx(np.nanmax(red.quality, axis=1).mean())
    cascade = evaluate(red, Scenario(parse_split("haiku=100"), policy="cascade"))
    assert cascade.cost == (C[0, :1].sum() + C[1, :2].sum() + C[2].sum() + C[3].sum())
    assert cascade.quality == pytest.approx(0.75)


def test_cascade_and_oracle_on_a_partial_replay_compare_with_the_logged_cost_of_the_same_requests(store):
    store.execute_script(REPLAY_DDL)
    for i in range(6):  # six requests logged, two of them judged on every tier (a 2-request replay)
        insert_request(store, f"r{i}", "claude-sonnet-5-5", ts=f"2026-11-1{i} 12:00:00", output_tokens=100 * (i + 1))
    for rid, g in {"r0": (1, 1, 1), "r1": (0, 1, 1)}.items():
        for tier, ok in zip(("haiku", "sonnet", "opus"), g):
            store.execute("insert into judgements (source, request_id, tier, judge, score, good) values ('test', ?, ?, 'j', ?, ?)",
                          [rid, tier, float(ok), bool(ok)])
    red = reduce(store, tiers=TIERS)
    t = {name: i for i, name in enumerate(red.tiers)}
    logged = [int(x) for x in red.actual]  # time order: r0 .. r5
    for policy, cost in (("oracle", red.cost[0, t["haiku"]] + red.cost[1, t["sonnet"]]),
                         ("cascade", red.cost[0, t["haiku"]] + red.cost[1, t["haiku"]] + red.cost[1, t["sonnet"]])):
        res = evaluate(red, Scenario(Split(), policy=policy))  # they take no split
        assert res.label == policy
        assert res.cost == cost
        assert (res.n, res.actual) == (2, logged[0] + logged[1])  # the judged requests on both sides
        assert (res.n_window, res.actual_window) == (6, sum(logged))
        row = scenario_row(red, res)
        assert row["actual_usd"] == usd(logged[0] + logged[1])
        assert row["vs_actual_pct"] == round((float(cost) / (logged[0] + logged[1]) - 1) * 100, 2)
        assert (row["requests"], row["window_requests"]) == (2, 6)
        assert any("2 requests judged on every tier (of 6)" in n for n in res.notes)


def test_oracle_without_judgements_says_what_it_needs(generated):
    red = reduce(generated, tiers=TIERS)
    with pytest.raises(ConfigError, match="judged outcomes"):
        evaluate(red, Scenario(parse_split("haiku=100"), policy="oracle"))


def test_complexity_policy_sends_the_hardest_requests_to_the_top_tier():
    scores = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
    a = quantile_assignment(scores, [Fraction(2, 5), Fraction(2, 5), Fraction(1, 5)])
    assert a.tolist() == [2, 0, 1, 0, 1]


def test_complexity_weights_can_be_fitted_to_judged_outcomes(generated):
    red = reduce(generated, tiers=TIERS)
    rng = np.random.default_rng(0)
    lp = np.log1p(red.prompt_tokens)
    hard = lp > np.median(lp)
    red.good[:, 0] = np.where(rng.random(red.n) < np.where(hard, 0.2, 0.9), 1.0, 0.0)
    w = fit_weights(red)
    assert w["prompt"] > 0.5  # longer prompts fail more on the cheapest tier


def test_backtest_predicts_a_period_whose_split_changed_within_3_percent(store):
    store.execute("insert into requests by name " + generate_sql(40_000, seed=11, start="2026-11-02", days=7, mix=(0.6, 0.32, 0.08)))
    store.execute("insert into requests by name " + generate_sql(40_000, seed=21, start="2026-11-09", days=7, mix=(0.75, 0.2, 0.05)))
    red = reduce(store, tiers=TIERS)
    bt = backtest(red, (date(2026, 11, 2), date(2026, 11, 9)), (date(2026, 11, 9), date(2026, 11, 16)))
    assert bt.test_split["haiku"] > bt.train_split["haiku"] + 0.1  # the split did change
    assert abs(bt.error) < 0.03
    assert bt.actual_nusd == int(red.actual[np.array(red.days)[red.day] >= date(2026, 11, 9)].sum())


def test_a_window_with_only_unpriced_requests_simulates_nothing_and_says_so(store):
    insert_request(store, "x", "claude-bogus-1")
    red = reduce(store, tiers=TIERS)
    assert red.n == 0 and red.unpriced == 1
    res = evaluate(red, Scenario(parse_split("current")))
    assert res.cost == 0 and any("cost unknown (not $0)" in n for n in res.notes)


def test_filter_restricts_the_window_to_matching_requests(generated):
    red = reduce(generated, tiers=TIERS, filter_sql="cr.feature = 'code-review'")
    assert red.features[red.feature[0]] == "code-review" and set(red.feature.tolist()) == {red.feature[0]}
    with pytest.raises(ConfigError):
        reduce(generated, tiers=TIERS, filter_sql="true; drop table requests")
