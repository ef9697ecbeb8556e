"""The segment pass (aggregate-first: group the requests, then price the cube on each tier) gives the
per-request path's answer for proportional splits and --split current: exactly where every rate is a
whole number of nano-dollars per token, else within the per-request path's own rounding (< 0.5
nano-dollar per request and rounded category); it reads a table that shadows costed_requests; the
complexity policy's payload features come from the stored request bodies."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from costlab.config import Config
from costlab.errors import ConfigError
from costlab.generate import generate_sql
from costlab.open import open_store
from costlab.whatif import Scenario, bootstrap, evaluate, parse_split, reduce
from costlab.whatif.daily_totals import evaluate_daily_totals, reduce_daily_totals
from helpers import REPLAY_DDL, TIERS, insert_request

SPLITS = ["current", "haiku=70,sonnet=25,opus=5", "haiku=100", "sonnet=50,opus=50", "haiku=1/3,sonnet=1/3,opus=1/3"]
# requests whose every rate (tier models, standard service, global, Claude API) is whole nano-dollars per token
WHOLE = "cr.service_tier = 'standard' and cr.inference_geo is distinct from 'us' and cr.platform = 'anthropic'"
# docs/whatif.md: < 0.5 nano-dollar per request and rounded category: cost 5 (input, output, cache
# writes, cache reads, web search), warm-up 1, each cache delta 3; plus 0.5 per output row and sum
PER_REQUEST = {"cost": 2.5, "warmup": 0.5, "cache_read_delta": 1.5, "cache_write_delta": 1.5}


@pytest.fixture
def traffic(store):
    store.execute("insert into requests by name " + generate_sql(3000, seed=11, start="2026-11-02", days=10))
    # a request on a model that stands for no tier, one with no price, one some tier cannot price
    insert_request(store, "old", "claude-sonnet-4-5", ts="2026-11-03 10:00:00", input_tokens=5000, output_tokens=700)
    insert_request(store, "nope", "claude-nonexistent-9", ts="2026-11-04 10:00:00", input_tokens=10)
    insert_request(store, "geo", "claude-haiku-5-5", ts="2026-11-05 10:00:00", platform="bedrock", inference_geo="eu")
    return store


def assert_same(a, b) -> None:
    assert a.cost == b.cost and a.cost_no_warmup == b.cost_no_warmup  # exact rationals
    assert np.array_equal(a.day_cost, b.day_cost)  # the bootstrap's input, bit for bit
    assert a.interval["cost_nusd"] == b.interval["cost_nusd"]
    assert_same_quality(a, b)


def assert_same_quality(a, b) -> None:
    assert a.tier_share == b.tier_share and a.notes == b.notes and a.quality_n == b.quality_n
    if a.quality is None:
        assert b.quality is None
    else:  # quality sums are floats added in another order: equal to rounding
        assert b.quality == pytest.approx(a.quality, rel=1e-12)
        assert b.interval["quality"] == pytest.approx(a.interval["quality"], rel=1e-12)


def assert_within_rounding(red, seg, a, b, scenario) -> None:
    """b (cube) against a (per request): within the documented bound, never more."""
    parts = ["cost"] + (["warmup"] if scenario.warmup else []) + (
        ["cache_read_delta", "cache_write_delta"] if scenario.cache_hit_rate is not None else [])
    for name in parts:  # tier totals and per-day totals of every money array
        tol = PER_REQUEST[name] * red.n + 50
        ta, da = red.day_totals(name)
        tb, db = seg.day_totals(name)
        assert np.all(np.abs(ta - tb) <= tol) and np.all(np.abs(da - db) <= tol)
    tol = sum(PER_REQUEST[p] for p in parts) * red.n + 50
    assert abs(a.cost - b.cost) <= tol and abs(a.cost_no_warmup - b.cost_no_warmup) <= tol
    assert np.all(np.abs(a.day_cost - b.day_cost) <= tol)
    assert a.interval["cost_nusd"] == pytest.approx(b.interval["cost_nusd"], abs=tol)
    assert_same_quality(a, b)


def whole_nano_card(store) -> bool:
    return store.scalar(
        "select bool_and(input_fusd % 1000000 = 0 and output_fusd % 1000000 = 0 and cache_write_5m_fusd % 1000000 = 0 "
        "and cache_write_1h_fusd % 1000000 = 0 and cache_read_fusd % 1000000 = 0 and web_search_fusd % 1000000 = 0) "
        "from price_card where model in (select unnest($m)) and service_tier = 'standard' and geo_class = 'global' "
        "and platform = 'anthropic'", {"m": list(TIERS.values())})


@pytest.mark.parametrize("text", SPLITS)
def test_segment_pass_gives_the_per_request_point_and_intervals_exactly_on_whole_nano_rates(traffic, text):
    assert whole_nano_card(traffic)  # the premise: no request's category needs rounding
    red, seg = reduce(traffic, tiers=TIERS, filter_sql=WHOLE), reduce_daily_totals(traffic, tiers=TIERS, filter_sql=WHOLE)
    assert (seg.tiers, seg.days, seg.n, seg.unpriced) == (red.tiers, red.days, red.n, red.unpriced)
    assert seg.actual_total == int(red.actual.sum()) and seg.n > 2000
    for name in PER_REQUEST:
        assert np.array_equal(seg.day_totals(name)[0], red.day_totals(name)[0])
        assert np.array_equal(seg.day_totals(name)[1], red.day_totals(name)[1])
    scenario = Scenario(parse_split(text))
    assert_same(bootstrap(evaluate(red, scenario), 1000, seed=3), bootstrap(evaluate_daily_totals(seg, scenario), 1000, seed=3))


@pytest.mark.parametrize("text", SPLITS)
def test_segment_pass_is_within_the_per_request_rounding_on_fractional_rates(traffic, text):
    red, seg = reduce(traffic, tiers=TIERS), reduce_daily_totals(traffic, tiers=TIERS)
    assert (seg.tiers, seg.days, seg.n, seg.unpriced, seg.n_off) == (red.tiers, red.days, red.n, red.unpriced, 1)
    assert seg.unpriced_on_tier == red.unpriced_on_tier and seg.excluded_actual == red.excluded_actual
    assert abs(seg.actual_total - int(red.actual.sum())) <= 2.5 * red.n
    scenario = Scenario(parse_split(text))
    a, b = bootstrap(evaluate(red, scenario), 1000, seed=3), bootstrap(evaluate_daily_totals(seg, scenario), 1000, seed=3)
    assert_within_rounding(red, seg, a, b, scenario)


def test_the_actual_split_is_the_logged_cost_to_the_cent(traffic):
    seg = reduce_daily_totals(traffic, tiers=TIERS)
    # requests some tier cannot price are left out of every scenario, the actual split included
    logged = traffic.scalar("select sum(cost_usd) from costed_requests where priced") - Decimal(seg.excluded_actual) / 10**9
    res = evaluate_daily_totals(seg, Scenario(parse_split("current")))
    assert abs(Decimal(int(res.cost)) / 10**9 - logged) < Decimal("0.01")
    assert abs(int(res.cost) - int(logged * 10**9)) <= 2.5 * seg.n  # and within the rounding bound


def test_segment_pass_matches_with_cache_rate_no_warmup_and_judged_quality(traffic):
    traffic.execute_script(REPLAY_DDL)
    ids = [r[0] for r in traffic.rows("select request_id from requests order by request_id limit 400")]
    for i, rid in enumerate(ids):  # judged on two tiers for some requests, one tier for others
        for tier in ("haiku", "opus")[: 1 + i % 2]:
            traffic.execute("insert into judgements (run, source, request_id, tier, score, good) values ('r', 'gen', ?, ?, ?, ?)",
                            [rid, tier, (i % 7) / 7, i % 3 > 0])
    traffic.execute("update judgements set source = r.source from requests r where r.request_id = judgements.request_id")
    red, seg = reduce(traffic, tiers=TIERS), reduce_daily_totals(traffic, tiers=TIERS)
    for scenario in (Scenario(parse_split("haiku=60,opus=40"), cache_hit_rate=Fraction(9, 10)),
                     Scenario(parse_split("haiku=50,sonnet=50"), warmup=False),
                     Scenario(parse_split("haiku=30,opus=70"))):
        a, b = bootstrap(evaluate(red, scenario), 500), bootstrap(evaluate_daily_totals(seg, scenario), 500)
        assert_within_rounding(red, seg, a, b, scenario)
    assert a.quality is not None


def test_replayed_outputs_and_their_feature_ratios_price_as_per_request(traffic):
    traffic.execute_script(REPLAY_DDL)
    cols = [c for (c,) in traffic.rows("select column_name from duckdb_columns() where table_name = 'replays'")]
    rows = traffic.rows("select source, request_id, feature, output_tokens from requests "
                        "where model = 'claude-haiku-5-5' and status = 'ok' order by request_id limit 300")
    for i, (src, rid, _f, out) in enumerate(rows):
        vals = {"run": "r", "source": src, "request_id": rid, "tier": ("opus", "sonnet")[i % 2], "status": "ok",
                "output_tokens": (out or 0) * 2 + i % 5}
        keys = [k for k in vals if k in cols]
        traffic.execute(f"insert into replays ({', '.join(keys)}) values ({', '.join('?' for _ in keys)})",
                        [vals[k] for k in keys])
    red, seg = reduce(traffic, tiers=TIERS, filter_sql=WHOLE), reduce_daily_totals(traffic, tiers=TIERS, filter_sql=WHOLE)
    for text in ("sonnet=100", "haiku=20,sonnet=40,opus=40"):
        scenario = Scenario(parse_split(text))
        assert_same(bootstrap(evaluate(red, scenario), 300, seed=1), bootstrap(evaluate_daily_totals(seg, scenario), 300, seed=1))


def test_price_changes_and_long_context_bands_inside_the_window_split_the_cube(tmp_path):
    # a price change in the middle of the window and
    # prompts on both sides of the long-context threshold, as logged and as re-tokenized
    store = open_store(tmp_path / "p.duckdb", Config(prices=[
        {"model": "claude-sonnet-5-5", "valid_from": "2026-11-05", "input": 2, "output": 12}]))
    store.execute("insert into requests by name " + generate_sql(2000, seed=4, start="2026-11-02", days=7))
    store.execute("update requests set input_tokens = input_tokens + 190000 where hash(request_id) % 7 = 0")
    assert store.scalar("select count(*) from price_card where model = 'claude-sonnet-5-5' "
                        "and seg_from = '2026-11-05 00:00:00+00'") > 0
    red, seg = reduce(store, tiers=TIERS, filter_sql=WHOLE), reduce_daily_totals(store, tiers=TIERS, filter_sql=WHOLE)
    for text in SPLITS:
        scenario = Scenario(parse_split(text))
        assert_same(bootstrap(evaluate(red, scenario), 300, seed=2), bootstrap(evaluate_daily_totals(seg, scenario), 300, seed=2))
    store.close()


def test_segment_pass_refuses_what_needs_per_request_arrays(traffic):
    seg = reduce_daily_totals(traffic, tiers=TIERS)
    for scenario in (Scenario(parse_split("haiku=50,opus=50"), policy="complexity"),
                     Scenario(parse_split("haiku=100"), batch_features=("nightly-digest",))):
        with pytest.raises(ConfigError, match="per-request pass"):
            evaluate_daily_totals(seg, scenario)


def test_the_pass_reads_a_temporary_table_that_shadows_costed_requests(traffic):
    # a shadow with every column but only one feature's requests: the pass reads it, not the base table
    traffic.execute("create temp table costed_requests as select * from costed_requests where feature = 'translate'")
    try:
        seg = reduce_daily_totals(traffic, tiers=TIERS)
    finally:
        traffic.execute("drop table temp.costed_requests")
    only = reduce_daily_totals(traffic, tiers=TIERS, filter_sql="cr.feature = 'translate'")
    assert 0 < seg.n == only.n < 3000
    assert seg.actual_total == only.actual_total and np.array_equal(seg.totals["cost"], only.totals["cost"])


def test_the_pass_works_on_the_reports_and_the_detectors_priced_windows(traffic):
    from costlab.report.build import priced_once
    from costlab.signals import drop_window, materialize

    since, until = datetime(2026, 11, 2, tzinfo=timezone.utc), datetime(2026, 11, 12, tzinfo=timezone.utc)
    plain = evaluate_daily_totals(reduce_daily_totals(traffic, since=since, until=until, tiers=TIERS), Scenario(parse_split("haiku=80,opus=20")))
    with priced_once(traffic, since, until):  # the report's columns (no inference_geo etc.): read from the view
        in_report = evaluate_daily_totals(reduce_daily_totals(traffic, since=since, until=until, tiers=TIERS),
                                      Scenario(parse_split("haiku=80,opus=20")))
    materialize(traffic, since, until)  # the detectors' columns (no source): ids filled, the table read
    try:
        in_signals = evaluate_daily_totals(reduce_daily_totals(traffic, since=since, until=until, tiers=TIERS),
                                       Scenario(parse_split("haiku=80,opus=20")))
    finally:
        drop_window(traffic)
    assert plain.cost == in_report.cost == in_signals.cost
    assert np.array_equal(plain.day_cost, in_signals.day_cost)


def test_payload_features_come_from_the_request_bodies(store):
    bodies = {
        "docs": '{"messages":[{"role":"user","content":[{"type":"document","source":{}},{"type" : "document"},'
                '{"type":"text","text":"Summarise."}]}]}',
        "cond": '{"messages":[{"role":"user","content":"If the total is over 100, flag it."}]}',
        "steps": '{"messages":[{"role":"user","content":"First read it, then answer."}]}',
        "plain": '{"messages":[{"role":"user","content":"Translate: specific, iffy, thence."}]}',
    }
    for i, (rid, body) in enumerate(bodies.items()):
        insert_request(store, rid, "claude-haiku-5-5", ts=f"2026-11-10 12:0{i}:00")
        store.execute("insert into payloads values ('test', ?, ?::JSON, null)", [rid, body])
    insert_request(store, "nobody", "claude-haiku-5-5", ts="2026-11-10 12:09:00")
    red = reduce(store, tiers=TIERS)
    order = ["docs", "cond", "steps", "plain", "nobody"]  # time order
    assert red.documents.tolist() == [2, 0, 0, 0, 0]
    assert red.conditional.tolist() == [False, True, False, False, False]
    assert red.multistep.tolist() == [False, False, True, False, False]
    assert red.n == len(order)
