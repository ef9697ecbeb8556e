"""A team's own eval set, imported with `replay import` into a store with no logged requests, routed
directly (costlab.whatif.evals): cost from the file's tokens at the tier's model price, or the file's
cost, or an assumed size said as such; frontier, oracle, cascade and intervals from it."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from costlab.errors import ConfigError
from costlab.replay.importer import import_outcomes
from costlab.whatif import Scenario, bootstrap, evaluate, parse_split
from costlab.whatif import frontier as F
from costlab.whatif.evals import load_eval

from helpers import FIXTURES

# $1/$5, $3/$15, $5/$25 per million input/output tokens
MODELS = {"haiku": "claude-haiku-4-5", "sonnet": "claude-sonnet-4-6", "opus": "claude-opus-4-7"}
MAP = {"small": "haiku", "mid": "sonnet", "big": "opus"}

EVAL = """prompt_id,model,score,input_tokens,output_tokens
p1,small,1,1000,200
p1,mid,1,1000,300
p1,big,1,1000,400
p2,small,0,2000,100
p2,mid,1,2000,100
p2,big,1,2000,100
p3,small,0,500,500
p3,mid,0,500,500
p3,big,1,500,500
p4,small,1,100,100
p4,mid,0,100,100
p4,big,1,100,100
"""
# nano-dollars per answer (input x rate + output x rate):
#        haiku      sonnet      opus
# p1  2,000,000   7,500,000  15,000,000
# p2  2,500,000   7,500,000  12,500,000
# p3  3,000,000   9,000,000  15,000,000
# p4    600,000   1,800,000   3,000,000
# sum 8,100,000  25,800,000  45,500,000; quality 0.5, 0.5, 1.0: sonnet costs more than haiku for
# the same quality (dominated); the hull is haiku -> opus.


@pytest.fixture
def eval_store(store, tmp_path):
    f = tmp_path / "eval.csv"
    f.write_text(EVAL)
    import_outcomes(store, f, "csv", "e3", MAP)
    assert store.scalar("select count(*) from requests") == 0
    return store


def test_eval_tokens_are_priced_at_each_tiers_model_to_the_nano_dollar(eval_store):
    ev = load_eval(eval_store, "e3", tiers=MODELS)
    red = ev.reduction
    assert red.tiers == ("haiku", "sonnet", "opus") and red.n == 4
    # prompts in request-id order (a hash of the prompt id)
    assert sorted(red.cost.tolist()) == sorted([[2_000_000, 7_500_000, 15_000_000], [2_500_000, 7_500_000, 12_500_000],
                                                [3_000_000, 9_000_000, 15_000_000], [600_000, 1_800_000, 3_000_000]])
    assert ev.basis == {"tokens": 12} and "the file's tokens priced at" in ev.cost_note()
    assert "opus=claude-opus-4-7" in ev.cost_note()


def test_eval_oracle_cascade_and_splits_are_hand_computed(eval_store):
    red = load_eval(eval_store, "e3", tiers=MODELS).reduction
    orc = evaluate(red, Scenario(parse_split("haiku=100"), policy="oracle"))
    # p1 haiku, p2 sonnet, p3 opus, p4 haiku: 2.0 + 7.5 + 15.0 + 0.6 = 25.1M nano-dollars, every answer good
    assert orc.cost == 25_100_000 and orc.quality == 1.0 and not orc.notes
    cas = evaluate(red, Scenario(parse_split("haiku=100"), policy="cascade"))
    # p1 2.0; p2 2.5 + 7.5; p3 3.0 + 9.0 + 15.0; p4 0.6 = 39.6M
    assert cas.cost == 39_600_000 and cas.quality == 1.0
    half = bootstrap(evaluate(red, Scenario(parse_split("haiku=50,opus=50"))), 200)
    assert half.cost == Fraction(53_600_000, 2) and half.quality == pytest.approx(0.75)
    lo, hi = half.interval["cost_nusd"]
    assert lo < float(half.cost) < hi  # resampled over prompts (one block each), not one day


def test_eval_frontier_is_the_haiku_opus_hull_with_hand_computed_metrics(eval_store):
    red = load_eval(eval_store, "e3", tiers=MODELS).reduction
    fr = F.proportional(red)
    assert [tuple(fr.splits[i]) for i in fr.vertices] == [(100, 0, 0), (0, 0, 100)]
    m = F.frontier_metrics(red, fr)
    assert (m.cost_weak, m.cost_strong) == pytest.approx((0.0081, 0.0455))
    # straight line from (0.0081, 0.5) to (0.0455, 1.0): APGR 1/2, AIQ the mean of its ends, 0.75
    assert m.apgr == pytest.approx(0.5) and m.aiq == pytest.approx(0.75)
    rr = F.random_router(red)
    assert rr.cost[0] == pytest.approx(0.0081) and rr.cost[-1] == pytest.approx(0.0455)
    assert rr.quality[0] == 0.5 and rr.quality[-1] == 1.0


def test_eval_without_tokens_is_relative_or_priced_at_an_assumed_size_and_says_so(store, tmp_path):
    f = tmp_path / "bare.csv"
    f.write_text("".join(f"{p},{m},{s}\n" for p, m, s in (("q1", "small", 1), ("q1", "big", 1), ("q2", "small", 0),
                                                          ("q2", "big", 1))).join(["prompt_id,model,correct\n", ""]))
    import_outcomes(store, f, "csv", "bare", {"small": "haiku", "big": "opus"})
    rel = load_eval(store, "bare", tiers=MODELS)
    assert rel.relative and "no cost" in rel.cost_note() and "not dollars" in rel.cost_note()
    # 1 input + 1 output token: haiku 1,000 + 5,000, opus 5,000 + 25,000 nano-dollars
    assert rel.reduction.cost.tolist() == [[6_000, 30_000], [6_000, 30_000]]
    ass = load_eval(store, "bare", tiers=MODELS, assume_tokens=(800, 200))
    assert not ass.relative and ass.basis == {"assumed": 4} and "ASSUMED tokens" in ass.cost_note()
    assert ass.reduction.cost[0].tolist() == [800 * 1000 + 200 * 5000, 800 * 5000 + 200 * 25000]


def test_eval_cost_per_answer_from_the_file_is_used_as_given(store, tmp_path):
    f = tmp_path / "cost.csv"
    f.write_text("prompt_id,model,correct,cost_usd\na,small,true,0.000123456\na,big,true,0.01\n"
                 "b,small,false,0.0002\nb,big,true,0.02\nc,small,true,0.0001\n")
    import_outcomes(store, f, "csv", "c", {"small": "haiku", "big": "opus"})
    ev = load_eval(store, "c")
    assert ev.basis == {"file": 4} and "the file's cost per answer" in ev.cost_note()
    assert sorted(ev.reduction.cost.tolist()) == [[123_456, 10_000_000], [200_000, 20_000_000]]
    assert any("2 of 3 prompts have outcomes on every tier" in n for n in ev.notes)


def test_eval_refuses_a_tier_with_no_model_and_an_unknown_name(store, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("prompt_id,model,correct,output_tokens\na,s,1,10\na,b,0,10\n")
    import_outcomes(store, f, "csv", "x", {"s": "small", "b": "big"})
    with pytest.raises(ConfigError, match="tier 'big' stands for no model.*--tiers big=MODEL"):
        load_eval(store, "x")
    with pytest.raises(ConfigError, match="no imported eval set 'y'. Imports: x."):
        load_eval(store, "y")


def test_routellm_records_route_from_the_import_with_the_random_router_beside(store):
    import_outcomes(store, FIXTURES / "routellm_whatif" / "gsm8k_outcomes.csv", "routellm", "gsm8k",
                    {"weak": "haiku", "strong": "opus"})
    ev = load_eval(store, "gsm8k", tiers=MODELS)
    red = ev.reduction
    assert red.n == 1_319 and ev.relative  # every GSM8K prompt; RouteLLM gives no tokens
    q_weak, q_strong = np.nanmean(red.quality, axis=0)
    assert abs(q_weak - 0.638) < 0.01 and abs(q_strong - 0.857) < 0.01
    orc = evaluate(red, Scenario(parse_split("haiku=100"), policy="oracle"))
    assert orc.quality == pytest.approx(float(np.nanmax(red.quality, axis=1).mean()))
    m = F.frontier_metrics(red, F.proportional(red))
    mean, lo, hi = F.random_router(red).apgr(m)
    assert abs(mean - 0.5) < 0.03 and lo < 0.5 < hi
    assert m.apgr == pytest.approx(0.5)  # two tiers, mixed in proportion: the chord
