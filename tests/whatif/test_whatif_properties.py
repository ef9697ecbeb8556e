"""Property tests of the what-if simulator (hypothesis): cost is linear in the split under the
proportional policy, and moving volume to a cheaper tier never raises cost when tokens are unchanged."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costlab.config import Config
from costlab.generate import generate_sql
from costlab.store import Store

from helpers import copy_store
from costlab.whatif import Scenario, Split, evaluate, reduce
from costlab.whatif.arrays import ReduceOptions

TIERS = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}
# Token counts identical on every tier: same tokenizer generation (all 5.5), no traffic ratios, default ratio 1.
SAME_TOKENS = ReduceOptions(tokenizer_factor=1.3, output_tokens="same")


@pytest.fixture(scope="module")
def red(store_template, tmp_path_factory):
    s = copy_store(store_template, tmp_path_factory.mktemp("red") / "red.duckdb")
    s.execute("insert into requests by name " + generate_sql(2000, seed=9))
    try:
        yield reduce(s, tiers=TIERS, options=SAME_TOKENS)
    finally:
        s.close()


shares = st.lists(st.integers(0, 100), min_size=3, max_size=3).filter(lambda x: sum(x) > 0)


def split(w) -> Split:
    total = sum(w)
    return Split(tuple((t, Fraction(x, total)) for t, x in zip(("haiku", "sonnet", "opus"), w)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=shares, b=shares, lam=st.fractions(0, 1))
def test_proportional_cost_is_linear_in_the_split(red, a, b, lam):
    sa, sb = split(a), split(b)
    mixed = Split(tuple((t, lam * wa + (1 - lam) * wb) for (t, wa), (_, wb) in zip(sa.weights, sb.weights)))
    for warm in (True, False):
        ca = evaluate(red, Scenario(sa, warmup=warm)).cost
        cb = evaluate(red, Scenario(sb, warmup=warm)).cost
        cm = evaluate(red, Scenario(mixed, warmup=warm)).cost
        assert cm == lam * ca + (1 - lam) * cb  # exact, as rationals


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(w=shares, move=st.integers(1, 100), src=st.sampled_from([1, 2]), dst_gap=st.integers(1, 2))
def test_moving_volume_to_a_cheaper_tier_never_raises_cost(red, w, move, src, dst_gap):
    dst = src - dst_gap
    if dst < 0 or w[src] == 0:
        return
    tiers = list(red.tiers)
    assert tiers == ["haiku", "sonnet", "opus"]
    moved = list(w)
    delta = min(move, w[src])
    moved[src] -= delta
    moved[dst] += delta
    before = evaluate(red, Scenario(split(w), warmup=False)).cost
    after = evaluate(red, Scenario(split(moved), warmup=False)).cost
    assert after <= before


@pytest.fixture(scope="module")
def one_request_store(store_template, tmp_path_factory):
    """A fresh store (a template copy) for the module; the test below empties it for each example."""
    with copy_store(store_template, tmp_path_factory.mktemp("one") / "one.duckdb") as s:
        yield s


@settings(max_examples=15, deadline=None)
@given(inp=st.integers(0, 300_000), out=st.integers(0, 64_000), cr=st.integers(0, 200_000),
       cw=st.integers(0, 50_000), batch=st.booleans())
def test_with_equal_tokens_each_request_costs_no_more_on_a_cheaper_tier(one_request_store, inp, out, cr, cw, batch):
    s = one_request_store
    s.execute("delete from requests")  # hypothesis runs every example on the one module store: empty it first
    s.execute("insert into requests (request_id, ts, source, model, service_tier, input_tokens, output_tokens, "
              "cache_read_tokens, cache_write_5m_tokens, status, feature) values "
              "('x', '2026-11-10', 't', 'claude-opus-5-5', ?, ?, ?, ?, ?, 'ok', 'f')",
              ["batch" if batch else "standard", inp, out, cr, cw])
    r = reduce(s, tiers=TIERS, options=SAME_TOKENS)
    c = r.cost[0]
    assert c[0] <= c[1] <= c[2]
