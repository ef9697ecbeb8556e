"""Properties of request pricing that must hold for any usage, checked with hypothesis.

One store serves the whole module (building one takes ~0.1 s; a fresh one per example would dominate
the run time): each example empties `requests` first, so examples never see each other's rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from costlab.config import Config
from costlab.open import open_store
from costlab.store import Store

from helpers import copy_store

NOV = "2026-11-20 12:00:00+00"
PARTS = ("cost_input_usd", "cost_output_usd", "cost_cache_write_usd", "cost_cache_read_usd", "cost_tools_usd")
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")
COLUMNS = ("request_id", "ts", "source", "platform", "model", "service_tier", "speed", "inference_geo",
           *TOKENS, "web_search_requests")

# The autouse fixture (cwd and environment) is function-scoped; it does nothing a second example
# could trip over, and the store below is module-scoped, so hypothesis may reuse both.
PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def shared(tmp_path_factory, store_template):
    s = copy_store(store_template, tmp_path_factory.mktemp("props") / "props.duckdb")
    yield s
    s.close()


@pytest.fixture
def store(shared):
    shared.execute("delete from requests")
    return shared


def _model_speeds() -> list[tuple[str, str]]:
    # Read from the catalogue, not hard-coded, so new models are covered the day they are added.
    s = open_store(":memory:", Config())
    try:
        return [tuple(r) for r in s.rows(
            "select distinct model, speed from prices where valid_from <= ?::TIMESTAMPTZ order by 1, 2", [NOV])]
    finally:
        s.close()


MODEL_SPEEDS = _model_speeds()


def usage(max_tokens: int = 1_000_000, multiple: int = 1) -> st.SearchStrategy[dict[str, Any]]:
    count = st.integers(0, max_tokens // multiple).map(lambda n: n * multiple)
    return st.fixed_dictionaries({
        "model_speed": st.sampled_from(MODEL_SPEEDS),
        "platform": st.sampled_from(["anthropic", "bedrock", "vertex", "foundry"]),
        "service_tier": st.sampled_from(["standard", "batch", "priority"]),
        "inference_geo": st.sampled_from([None, "global", "us", "us-east-1"]),
        "input_tokens": count,
        "output_tokens": count,
        "cache_read_tokens": count,
        "cache_write_5m_tokens": count,
        "cache_write_1h_tokens": count,
        "web_search_requests": st.integers(0, 50),
    })


def insert(store: Store, request_id: str, u: dict[str, Any]) -> None:
    insert_many(store, {request_id: u})


def insert_many(store: Store, usages: dict[str, dict[str, Any]]) -> None:
    """All rows in one plain INSERT ... VALUES statement."""
    values, params = [], []
    for request_id, u in usages.items():
        model, speed = u["model_speed"]
        row = {**u, "request_id": request_id, "ts": NOV, "source": "props", "model": model, "speed": speed}
        values.append(f"({', '.join('?' for _ in COLUMNS)})")
        params.extend(row[c] for c in COLUMNS)
    store.execute(f"insert into requests ({', '.join(COLUMNS)}) values {', '.join(values)}", params)


def costs(store: Store) -> dict[str, dict[str, Any]]:
    return {r["request_id"]: r for r in store.frame(
        f"select request_id, priced, cost_usd, {', '.join(PARTS)} from costed_requests").iter_rows(named=True)}


def costs_and_total(store: Store) -> tuple[dict[str, dict[str, Any]], Decimal, int]:
    """Each request's cost, plus the table's total and row count as SQL sums them (one query)."""
    frame = store.frame(
        f"""select request_id, priced, cost_usd, {', '.join(PARTS)},
                   coalesce(sum(cost_usd) over (), 0) as total, count(*) over () as n
            from costed_requests""")
    rows = list(frame.iter_rows(named=True))
    each = {r["request_id"]: {k: v for k, v in r.items() if k not in ("total", "n")} for r in rows}
    return each, (rows[0]["total"] if rows else Decimal(0)), len(rows)


@settings(PROPERTY, max_examples=25)
@given(usages=st.lists(usage(), min_size=1, max_size=8), groups=st.data())
def test_cost_is_additive_over_any_partition_of_the_requests(store, usages, groups):
    assignment = [groups.draw(st.integers(0, 3)) for _ in usages]
    alone: dict[str, dict[str, Any]] = {}
    parts_total = Decimal(0)
    for g in set(assignment):
        store.execute("delete from requests")
        insert_many(store, {f"r{i}": u for i, u in enumerate(usages) if assignment[i] == g})
        each, subtotal, _ = costs_and_total(store)
        parts_total += subtotal
        alone.update(each)
    store.execute("delete from requests")
    insert_many(store, {f"r{i}": u for i, u in enumerate(usages)})
    together, grand_total, n = costs_and_total(store)
    assert grand_total == parts_total
    # Stronger: each request costs the same whatever else is in the table (one row each, no cross-talk).
    assert n == len(usages)
    assert together == alone


@PROPERTY
@given(u=usage())
def test_cost_is_never_negative_and_every_catalogue_usage_is_priced(store, u):
    insert(store, "r", u)
    row = costs(store)["r"]
    assert row["priced"] is True
    assert row["cost_usd"] >= 0
    assert all(row[p] >= 0 for p in PARTS)
    assert sum(row[p] for p in PARTS) == row["cost_usd"]


def test_catalogue_rates_are_whole_multiples_of_1e5_femto_dollars(store):
    # The premise of the exact batch property below: every rate in $/MTok has at most three decimals,
    # times at most one 1.1 factor (residency or regional), so it is a multiple of 1e5 femto-dollars per
    # token (1 $/MTok = 1e9 fUSD/token), and the batch rate is exactly half the standard rate.
    bad = store.rows(
        """select model, speed, platform, geo_class from price_card
           where service_tier = 'standard'
             and (input_fusd % 100000 <> 0 or output_fusd % 100000 <> 0 or cache_write_5m_fusd % 100000 <> 0
                  or cache_write_1h_fusd % 100000 <> 0 or cache_read_fusd % 100000 <> 0)"""
    )
    assert bad == []
    odd = store.rows(
        """select s.model from price_card s join price_card b
             on (b.model, b.speed, b.platform, b.geo_class, b.seg_from, b.band_min_tokens)
              = (s.model, s.speed, s.platform, s.geo_class, s.seg_from, s.band_min_tokens)
           where s.service_tier = 'standard' and b.service_tier = 'batch'
             and (2 * b.input_fusd <> s.input_fusd or 2 * b.output_fusd <> s.output_fusd
                  or 2 * b.cache_write_5m_fusd <> s.cache_write_5m_fusd
                  or 2 * b.cache_write_1h_fusd <> s.cache_write_1h_fusd or 2 * b.cache_read_fusd <> s.cache_read_fusd)"""
    )
    assert odd == []


def _twins(store: Store, u: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    # Web search fees are per call and not batch-discounted (only tokens are), so the twins have none.
    u = {**u, "web_search_requests": 0}
    insert_many(store, {"standard": {**u, "service_tier": "standard"}, "batch": {**u, "service_tier": "batch"}})
    c = costs(store)
    return c["standard"], c["batch"]


@PROPERTY
@given(u=usage(multiple=20))
def test_a_batch_request_costs_exactly_half_its_standard_twin_when_halving_is_exact(store, u):
    # Every rate is a multiple of 1e5 fUSD/token (test above). With token counts that are multiples of
    # 20, each category's exact standard cost is a multiple of 2e6 fUSD (2 nano-dollars) and the batch
    # cost, at exactly half the rate, a multiple of 1e6 fUSD: both are whole nano-dollars, no rounding
    # happens, so half must be exactly half, per category and in total.
    std, batch = _twins(store, u)
    for p in PARTS:
        assert batch[p] * 2 == std[p], p
    assert batch["cost_usd"] * 2 == std["cost_usd"]


@PROPERTY
@given(u=usage())
def test_a_batch_request_costs_half_its_standard_twin_within_the_nano_dollar_rounding(store, u):
    # With any token counts each category is rounded half-up to the nano-dollar on its own. If E is the
    # exact standard cost of a category in nano-dollars, standard = round(E) and batch = round(E / 2), so
    # |batch - standard / 2| <= |round(E/2) - E/2| + |E/2 - round(E)/2| <= 0.5 + 0.25 = 0.75 nano-dollars.
    # A wrong batch rule (cache at the full rate, a missing discount) is off by far more than that.
    std, batch = _twins(store, u)
    bound = Decimal("0.00000000075")
    for p in PARTS:
        assert abs(batch[p] - std[p] / 2) <= bound, p
    assert abs(batch["cost_usd"] - std["cost_usd"] / 2) <= 4 * bound


def _bands(store: Store, model: str) -> list[int]:
    return [r[0] for r in store.rows("select distinct band_min_tokens from prices where model = ?", [model])]


PROMPT = ("input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")


@PROPERTY
@given(u=usage(), column=st.sampled_from([*TOKENS, "web_search_requests"]), more=st.integers(1, 200_000))
def test_more_of_any_token_count_never_lowers_the_cost_within_a_band(store, u, column, more):
    bigger = {**u, column: u[column] + more}
    prompt_before = sum(u[c] for c in PROMPT)
    prompt_after = sum(bigger[c] for c in PROMPT)
    bands = _bands(store, u["model_speed"][0])
    band = lambda p: max(b for b in bands if b <= p)  # noqa: E731
    assume(band(prompt_before) == band(prompt_after))
    insert_many(store, {"before": u, "after": bigger})
    c = costs(store)
    assert c["after"]["cost_usd"] >= c["before"]["cost_usd"]
    for p in PARTS:
        assert c["after"][p] >= c["before"][p], p


@PROPERTY
@given(pairs=st.lists(st.tuples(
    st.one_of(st.integers(0, 5_000_000), st.integers(0, 10**12)), st.integers(0, 2 * 10**11),
    st.one_of(st.integers(0, 5_000_000), st.integers(0, 10**12)), st.integers(0, 2 * 10**11)),
    min_size=1, max_size=50))
def test_the_overflow_safe_cost_macros_equal_rounding_the_exact_product(store, pairs):
    # costed_requests prices tokens x rate without overflowing a BIGINT product (macros.sql): small
    # counts take the plain product, large ones a split of the rate. Both must give exactly the half-up
    # nano-dollar rounding of the exact product, computed here in HUGEINT. Up to 1e12 tokens at $200/MTok
    # (2e11 fUSD/token) is $2e8 per category, inside DECIMAL(18,9).
    rows = store.rows(
        """select costlab_cost_usd(n1, f1) = costlab_fusd_to_usd(n1::HUGEINT * f1),
                  costlab_cost2_usd(n1, f1, n2, f2) = costlab_fusd_to_usd(n1::HUGEINT * f1 + n2::HUGEINT * f2)
           from (select unnest($n1) as n1, unnest($f1) as f1, unnest($n2) as n2, unnest($f2) as f2)""",
        {"n1": [p[0] for p in pairs], "f1": [p[1] for p in pairs], "n2": [p[2] for p in pairs], "f2": [p[3] for p in pairs]},
    )
    assert rows == [(True, True)] * len(pairs)
