"""Output tokens on a tier a request did not run on (--output-tokens same|replay|observed): moved only by
paired evidence (the same request replayed there) unless the observed sensitivity is asked for, which
never pools across sources, features or customers; the same-token figure and each rule's coverage
beside every answer. Hand-computed on small logs: no feature column, two features with unlike output
lengths, paired replays for some requests."""

from __future__ import annotations

from fractions import Fraction

import pytest

from costlab.errors import ConfigError
from costlab.whatif import Scenario, evaluate, evaluate_daily_totals, parse_split, reduce, reduce_daily_totals
from costlab.whatif.arrays import ReduceOptions

from helpers import REPLAY_DDL, TIERS, insert_request


def card(store, model: str) -> dict[str, int]:
    row = store.rows("select input_fusd, output_fusd from price_card where model = ? and speed = 'standard' "
                     "and platform = 'anthropic' and service_tier = 'standard' and geo_class = 'global' "
                     "and band_min_tokens = 0 order by seg_from desc limit 1", [model])[0]
    return dict(zip(("input", "output"), row))


def nano(tokens: int, fusd: int) -> int:
    return (tokens * fusd + 500_000) // 1_000_000


def order(store) -> dict[str, int]:
    """request id -> its row in the arrays (time order; every test request has its own minute)."""
    return {rid: i for i, (rid,) in enumerate(store.rows("select request_id from requests order by ts"))}


@pytest.fixture
def two_clients(store):
    """No feature column, one id per client: client A on haiku writes 100 output tokens a request, client
    B on opus 1,000 (A by customer id, B by user id only). One segment pooled them into a 10x ratio."""
    for i in range(30):
        insert_request(store, f"a{i}", "claude-haiku-5-5", ts=f"2026-11-10 10:{i:02d}:00", feature=None, output_tokens=100)
        insert_request(store, f"b{i}", "claude-opus-5-5", ts=f"2026-11-10 11:{i:02d}:00", feature=None, output_tokens=1000)
    store.execute("update requests set customer_id = 'A' where request_id like 'a%'")
    store.execute("update requests set user_id = 'B-user' where request_id like 'b%'")
    return store


def test_without_a_feature_column_output_tokens_stay_as_logged_and_are_never_pooled_across_clients(two_clients):
    store = two_clients
    o = card(store, "claude-opus-5-5")
    # all on opus: A's 30 requests at A's own 100 output tokens, B's at their logged cost
    expected = 30 * (nano(1000, o["input"]) + nano(100, o["output"])) + 30 * (nano(1000, o["input"]) + nano(1000, o["output"]))
    for mode in ("replay", "same", "observed"):
        red = reduce(store, tiers=TIERS, options=ReduceOptions(output_tokens=mode))
        k = red.tiers.index("opus")
        a0 = order(store)["a0"]
        assert red.cost[a0, k] == nano(1000, o["input"]) + nano(100, o["output"]), mode
        assert red.out_src[a0, k] == 3  # same: no paired replay, and no cell of A's that ran on opus
        res = evaluate(red, Scenario(parse_split("opus=100")))
        assert res.cost == expected == res.cost_same, mode
        assert res.output_mode == mode
        assert res.coverage["same"] == {"requests": 0.5, "tokens": pytest.approx(3000 / 33000)}
        assert res.coverage["own"]["requests"] == 0.5 and res.coverage["observed"]["requests"] == 0.0


def test_observed_ratios_stay_within_each_feature_and_the_same_token_figure_is_beside_them(store):
    # feature "short": haiku 50 output tokens, sonnet 100 (ratio 2); "long": haiku 1,000, sonnet 1,500 (1.5)
    for f, (h_out, s_out), hour in (("short", (50, 100), 10), ("long", (1000, 1500), 12)):
        for i in range(20):
            insert_request(store, f"{f}-h{i}", "claude-haiku-5-5", ts=f"2026-11-10 {hour}:{i:02d}:00", feature=f, output_tokens=h_out)
            insert_request(store, f"{f}-s{i}", "claude-sonnet-5-5", ts=f"2026-11-10 {hour + 1}:{i:02d}:00", feature=f, output_tokens=s_out)
    s = card(store, "claude-sonnet-5-5")
    own_sonnet = 20 * (nano(1000, s["input"]) + nano(100, s["output"])) + 20 * (nano(1000, s["input"]) + nano(1500, s["output"]))
    same = own_sonnet + 20 * (nano(1000, s["input"]) + nano(50, s["output"])) + 20 * (nano(1000, s["input"]) + nano(1000, s["output"]))
    observed = own_sonnet + 20 * (nano(1000, s["input"]) + nano(100, s["output"])) + 20 * (nano(1000, s["input"]) + nano(1500, s["output"]))

    default = evaluate(reduce(store, tiers=TIERS), Scenario(parse_split("sonnet=100")))
    assert default.cost == same == default.cost_same  # no replay: nothing moves by default
    assert default.coverage["same"]["requests"] == 0.5

    red = reduce(store, tiers=TIERS, options=ReduceOptions(output_tokens="observed"))
    k, pos = red.tiers.index("sonnet"), order(store)
    assert red.cost[pos["short-h0"], k] == nano(1000, s["input"]) + nano(100, s["output"])  # 50 x 2
    assert red.cost[pos["long-h0"], k] == nano(1000, s["input"]) + nano(1500, s["output"])  # 1,000 x 1.5
    assert red.out_src[pos["short-h0"], k] == 2
    res = evaluate(red, Scenario(parse_split("sonnet=100")))
    assert res.cost == observed and res.cost_same == same
    assert res.coverage["observed"] == {"requests": 0.5, "tokens": pytest.approx(21000 / 53000)}
    assert res.coverage["own"] == {"requests": 0.5, "tokens": pytest.approx(32000 / 53000)}
    # nothing ran on opus: same tokens there, even in the sensitivity
    assert red.out_src[pos["short-h0"], red.tiers.index("opus")] == 3


@pytest.fixture
def replayed(store):
    """Four haiku requests (output 100, 300, 200, 400); the first two replayed on sonnet (150, 600)."""
    store.execute_script(REPLAY_DDL)
    for i, out in enumerate((100, 300, 200, 400)):
        insert_request(store, f"r{i}", "claude-haiku-5-5", ts=f"2026-11-1{i} 12:00:00", output_tokens=out)
    for rid, out in (("r0", 150), ("r1", 600)):
        store.execute("insert into replays (run, source, request_id, tier, model, status, output_tokens) "
                      "values ('r', 'test', ?, 'sonnet', 'claude-sonnet-5-5', 'ok', ?)", [rid, out])
    return store


def test_paired_replays_move_only_their_own_requests_and_coverage_says_how_many(replayed):
    store = replayed
    s = card(store, "claude-sonnet-5-5")
    inp = nano(1000, s["input"])
    paired = 4 * inp + nano(150, s["output"]) + nano(600, s["output"]) + nano(200, s["output"]) + nano(400, s["output"])
    same = 4 * inp + sum(nano(x, s["output"]) for x in (100, 300, 200, 400))

    red = reduce(store, tiers=TIERS)  # default: replay
    k = red.tiers.index("sonnet")
    assert list(red.out_src[:, k]) == [1, 1, 3, 3]  # r2, r3: no ratio carried over from r0, r1
    res = evaluate(red, Scenario(parse_split("sonnet=100")))
    assert res.cost == paired and res.cost_same == same
    assert res.coverage["replay"] == {"requests": 0.5, "tokens": pytest.approx(0.4)}
    assert res.coverage["same"] == {"requests": 0.5, "tokens": pytest.approx(0.6)}
    half = evaluate(red, Scenario(parse_split("haiku=50,sonnet=50")))
    assert half.cost - half.cost_same == Fraction(paired - same, 2)
    assert {r: v["requests"] for r, v in half.coverage.items()} == {"own": 0.5, "replay": 0.25, "observed": 0.0, "same": 0.25}

    # the daily-totals pass (the report's) gives the same figures and coverage
    daily = evaluate_daily_totals(reduce_daily_totals(store, tiers=TIERS), Scenario(parse_split("haiku=50,sonnet=50")))
    assert (daily.cost, daily.cost_same) == (half.cost, half.cost_same)
    assert daily.coverage == half.coverage

    # --output-tokens same: the replays are not used, and coverage says so
    red_same = reduce(store, tiers=TIERS, options=ReduceOptions(output_tokens="same"))
    res_same = evaluate(red_same, Scenario(parse_split("sonnet=100")))
    assert res_same.cost == res_same.cost_same == same
    assert res_same.coverage["replay"]["requests"] == 0.0 and res_same.coverage["same"]["requests"] == 1.0
    daily_same = reduce_daily_totals(store, tiers=TIERS, options=ReduceOptions(output_tokens="same"))
    assert evaluate_daily_totals(daily_same, Scenario(parse_split("sonnet=100"))).cost == same


def test_an_unknown_output_tokens_mode_and_the_removed_ratio_knob_are_refused():
    with pytest.raises(ConfigError, match="same, replay, observed"):
        ReduceOptions(output_tokens="ratio")
    from costlab.config import Config
    with pytest.raises(ConfigError, match="default_output_ratio is no longer a setting"):
        ReduceOptions.from_config(Config(whatif={"default_output_ratio": 1.4}))
    assert ReduceOptions.from_config(Config(whatif={"output_tokens": "observed"})).output_tokens == "observed"
    assert ReduceOptions.from_config(Config(whatif={"output_tokens": "observed"}), output_tokens="same").output_tokens == "same"


def test_observed_ratios_need_the_per_request_pass(replayed):
    with pytest.raises(ConfigError, match="per-request pass"):
        reduce_daily_totals(replayed, tiers=TIERS, options=ReduceOptions(output_tokens="observed"))
