"""The segment-level pass (one GROUP BY, per-day totals per tier) gives the per-request path's answer
for proportional splits and --split current; the pass reads a table that shadows costed_requests;
the complexity policy's payload features come from the stored request bodies."""

from __future__ import annotations

from datetime import datetime, timezone
from fractions import Fraction

import numpy as np
import pytest

from costlab.errors import ConfigError
from costlab.generate import generate_sql
from costlab.whatif import Scenario, bootstrap, evaluate, parse_split, reduce
from costlab.whatif.segments import evaluate_segments, reduce_segments
from tests.test_whatif import REPLAY_DDL, TIERS, insert

SPLITS = ["current", "haiku=70,sonnet=25,opus=5", "haiku=100", "sonnet=50,opus=50", "haiku=1,sonnet=1,opus=1"]


@pytest.fixture
def traffic(store):
    store.execute("insert into requests " + generate_sql(3000, seed=11, start="2026-11-02", days=10))
    # a request on a model that stands for no tier, one with no price, one some tier cannot price
    insert(store, "old", "claude-sonnet-4-5", ts="2026-11-03 10:00:00", input_tokens=5000, output_tokens=700)
    insert(store, "nope", "claude-nonexistent-9", ts="2026-11-04 10:00:00", input_tokens=10)
    insert(store, "geo", "claude-haiku-5-5", ts="2026-11-05 10:00:00", platform="bedrock", inference_geo="eu")
    return store


def assert_same(a, b) -> None:
    assert a.cost == b.cost and a.cost_no_warmup == b.cost_no_warmup  # exact rationals
    assert np.array_equal(a.day_cost, b.day_cost)  # the bootstrap's input, bit for bit
    assert a.interval["cost_nusd"] == b.interval["cost_nusd"]
    assert a.tier_share == b.tier_share and a.notes == b.notes and a.quality_n == b.quality_n
    if a.quality is None:
        assert b.quality is None
    else:  # quality sums are floats added in another order: equal to rounding
        assert b.quality == pytest.approx(a.quality, rel=1e-12)
        assert b.interval["quality"] == pytest.approx(a.interval["quality"], rel=1e-12)


@pytest.mark.parametrize("text", SPLITS)
def test_segment_pass_gives_the_per_request_point_and_intervals(traffic, text):
    red, seg = reduce(traffic, tiers=TIERS), reduce_segments(traffic, tiers=TIERS)
    assert (seg.tiers, seg.days, seg.n, seg.unpriced) == (red.tiers, red.days, red.n, red.unpriced)
    assert seg.actual_total == int(red.actual.sum())
    scenario = Scenario(parse_split(text))
    assert_same(bootstrap(evaluate(red, scenario), 1000, seed=3), bootstrap(evaluate_segments(seg, scenario), 1000, seed=3))


def test_segment_pass_matches_with_cache_rate_no_warmup_and_judged_quality(traffic):
    traffic.execute_script(REPLAY_DDL)
    ids = [r[0] for r in traffic.rows("select request_id from requests order by request_id limit 400")]
    for i, rid in enumerate(ids):  # judged on two tiers for some requests, one tier for others
        for tier in ("haiku", "opus")[: 1 + i % 2]:
            traffic.execute("insert into judgements (run, source, request_id, tier, score, good) values ('r', 'gen', ?, ?, ?, ?)",
                            [rid, tier, (i % 7) / 7, i % 3 > 0])
    traffic.execute("update judgements set source = r.source from requests r where r.request_id = judgements.request_id")
    red, seg = reduce(traffic, tiers=TIERS), reduce_segments(traffic, tiers=TIERS)
    for scenario in (Scenario(parse_split("haiku=60,opus=40"), cache_hit_rate=Fraction(9, 10)),
                     Scenario(parse_split("haiku=50,sonnet=50"), warmup=False),
                     Scenario(parse_split("haiku=30,opus=70"))):
        a, b = bootstrap(evaluate(red, scenario), 500), bootstrap(evaluate_segments(seg, scenario), 500)
        assert_same(a, b)
    assert a.quality is not None


def test_segment_pass_refuses_what_needs_per_request_arrays(traffic):
    seg = reduce_segments(traffic, tiers=TIERS)
    for scenario in (Scenario(parse_split("haiku=50,opus=50"), policy="complexity"),
                     Scenario(parse_split("haiku=100"), batch_features=("nightly-digest",))):
        with pytest.raises(ConfigError, match="per-request pass"):
            evaluate_segments(seg, scenario)


def test_the_pass_reads_a_temporary_table_that_shadows_costed_requests(traffic):
    # a shadow with every column but only one feature's requests: the pass reads it, not the view
    traffic.execute("create temp table costed_requests as select * from costed_requests where feature = 'translate'")
    try:
        seg, red = reduce_segments(traffic, tiers=TIERS), reduce(traffic, tiers=TIERS)
    finally:
        traffic.execute("drop table temp.costed_requests")
    only = reduce(traffic, tiers=TIERS, filter_sql="cr.feature = 'translate'")
    assert seg.n == red.n == only.n < 3000
    assert seg.actual_total == int(only.actual.sum()) and np.array_equal(red.cost, only.cost)


def test_the_pass_works_on_the_reports_and_the_detectors_priced_windows(traffic):
    from costlab.report.build import priced_once
    from costlab.signals import drop_window, materialize

    since, until = datetime(2026, 11, 2, tzinfo=timezone.utc), datetime(2026, 11, 12, tzinfo=timezone.utc)
    plain = evaluate_segments(reduce_segments(traffic, since=since, until=until, tiers=TIERS), Scenario(parse_split("haiku=80,opus=20")))
    with priced_once(traffic, since, until):  # the report's columns (no inference_geo etc.): read from the view
        in_report = evaluate_segments(reduce_segments(traffic, since=since, until=until, tiers=TIERS),
                                      Scenario(parse_split("haiku=80,opus=20")))
    materialize(traffic, since, until)  # the detectors' columns (no source): ids filled, the table read
    try:
        in_signals = evaluate_segments(reduce_segments(traffic, since=since, until=until, tiers=TIERS),
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
        insert(store, rid, "claude-haiku-5-5", ts=f"2026-11-10 12:0{i}:00")
        store.execute("insert into payloads values ('test', ?, ?::JSON, null)", [rid, body])
    insert(store, "nobody", "claude-haiku-5-5", ts="2026-11-10 12:09:00")
    red = reduce(store, tiers=TIERS)
    order = ["docs", "cond", "steps", "plain", "nobody"]  # time order
    assert red.documents.tolist() == [2, 0, 0, 0, 0]
    assert red.conditional.tolist() == [False, True, False, False, False]
    assert red.multistep.tolist() == [False, False, True, False, False]
    assert red.n == len(order)
