"""Golden pricing cases: one usage per pricing rule, each with its exact cost worked out by hand.

Every figure comes from /work/shared/reference/claude-pricing-and-api.md, section 1 (rates in $/MTok,
so tokens x rate / 1,000,000 is dollars). The arithmetic is written next to each case so a reviewer
can check it without running anything; the test inserts the usage into `requests` with plain SQL and
compares `costed_requests` to the hand-worked Decimal, to the nano-dollar, never with a tolerance.

Several cases name the bug they would catch in other cost tools (reference/prior-art.md 2.1, 2.13, 4.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from costlab.config import Config
from costlab.store import Store

from helpers import copy_store

# A day on which every current model is on sale and the latest catalogue rates are in force.
NOV = "2026-11-20 12:00:00+00"

COLUMNS = (
    "request_id", "ts", "source", "platform", "model", "service_tier", "speed", "inference_geo",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "web_search_requests", "status", "http_status", "error_type",
)
PARTS = ("cost_input_usd", "cost_output_usd", "cost_cache_write_usd", "cost_cache_read_usd", "cost_tools_usd")


@pytest.fixture(scope="module")
def priced_store(tmp_path_factory, store_template):
    """One store for the module; each test empties `requests` first."""
    s = copy_store(store_template, tmp_path_factory.mktemp("golden") / "golden.duckdb")
    yield s
    s.close()


@pytest.fixture
def store(priced_store):
    priced_store.execute("delete from requests")
    return priced_store


def insert(store: Store, request_id: str, **usage: Any) -> None:
    """One row into `requests` with plain SQL; unspecified token counts are 0, as a log would say."""
    row = {
        "request_id": request_id, "ts": NOV, "source": "golden", "platform": "anthropic",
        "model": None, "service_tier": "standard", "speed": "standard", "inference_geo": None,
        "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "cache_write_5m_tokens": 0,
        "cache_write_1h_tokens": 0, "web_search_requests": 0, "status": "ok", "http_status": 200,
        "error_type": None,
    }
    unknown = set(usage) - set(row)
    assert not unknown, f"typo in a test case: {unknown}"
    row.update(usage)
    store.execute(
        f"insert into requests ({', '.join(COLUMNS)}) values ({', '.join('?' for _ in COLUMNS)})",
        [row[c] for c in COLUMNS],
    )


def costed(store: Store, request_id: str) -> dict[str, Any]:
    frame = store.frame("select * from costed_requests where request_id = $id", {"id": request_id})
    assert frame.height == 1, f"{request_id}: expected one costed row, got {frame.height}"
    return frame.row(0, named=True)


@dataclass(frozen=True)
class Case:
    id: str                      # the behaviour, as the test id
    usage: dict[str, Any]
    cost: str                    # the exact total, in dollars
    parts: dict[str, str] = field(default_factory=dict)   # cost_*_usd columns worth pinning


CASES = [
    # --- base rates -------------------------------------------------------------------------------
    Case(
        "input_and_output_bill_at_the_base_rates",
        # claude-sonnet-4-6: $3 in, $15 out.
        #   input  12,345 x 3  / 1e6 = 0.037035
        #   output  6,789 x 15 / 1e6 = 0.101835
        #   total                     = 0.138870
        dict(model="claude-sonnet-4-6", input_tokens=12_345, output_tokens=6_789),
        "0.138870",
        {"cost_input_usd": "0.037035", "cost_output_usd": "0.101835", "cost_cache_write_usd": "0",
         "cost_cache_read_usd": "0", "cost_tools_usd": "0"},
    ),
    Case(
        "a_single_token_is_priced_to_the_nano_dollar_not_rounded_away",
        # claude-haiku-4-5: $1 in, $5 out. 1 x 1 / 1e6 = 0.000001; 3 x 5 / 1e6 = 0.000015.
        dict(model="claude-haiku-4-5", input_tokens=1, output_tokens=3),
        "0.000016",
    ),
    Case(
        "sub_nano_dollar_amounts_round_half_up_once_per_category",
        # claude-haiku-5-5 with US-only inference (x 1.1), one token of each kind, in nano-dollars:
        #   input      1 x 0.10  x 1.1 = 0.11   $/MTok -> 110 nUSD
        #   5m write   1 x 0.125 x 1.1 = 0.1375 $/MTok -> 137.5 nUSD } writes together 357.5 nUSD,
        #   1h write   1 x 0.20  x 1.1 = 0.22   $/MTok -> 220 nUSD   } rounded half up once: 358
        #   cache read 1 x 0.01  x 1.1 = 0.011  $/MTok -> 11 nUSD
        #   output     1 x 0.50  x 1.1 = 0.55   $/MTok -> 550 nUSD
        #   total 110 + 358 + 11 + 550 = 1,029 nUSD = 0.000001029 (truncating would give 0.000001028)
        dict(model="claude-haiku-5-5", inference_geo="us", input_tokens=1, cache_write_5m_tokens=1,
             cache_write_1h_tokens=1, cache_read_tokens=1, output_tokens=1),
        "0.000001029",
        {"cost_cache_write_usd": "0.000000358"},
    ),
    # --- prompt caching -------------------------------------------------------------------------
    Case(
        "five_minute_cache_writes_bill_at_1_25x_input",
        # claude-opus-4-8: $5 in, 5m write 6.25 (= 1.25 x 5), $25 out.
        #   input      1,000 x 5    / 1e6 = 0.005
        #   5m write  20,000 x 6.25 / 1e6 = 0.125
        #   output       500 x 25   / 1e6 = 0.0125
        #   total                          = 0.1425
        dict(model="claude-opus-4-8", input_tokens=1_000, cache_write_5m_tokens=20_000, output_tokens=500),
        "0.1425",
        {"cost_cache_write_usd": "0.125"},
    ),
    Case(
        "one_hour_cache_writes_bill_at_twice_input_not_the_5m_rate",
        # claude-opus-4-8: 1h write $10 (= 2 x 5).
        #   input      1,000 x 5  / 1e6 = 0.005
        #   1h write  20,000 x 10 / 1e6 = 0.2     (at the 5m rate it would be 0.125: total 0.1425)
        #   output       500 x 25 / 1e6 = 0.0125
        #   total                        = 0.2175
        dict(model="claude-opus-4-8", input_tokens=1_000, cache_write_1h_tokens=20_000, output_tokens=500),
        "0.2175",
        {"cost_cache_write_usd": "0.2"},
    ),
    Case(
        "five_minute_and_one_hour_writes_in_one_request_each_bill_at_their_own_rate",
        # claude-haiku-4-5: 5m $1.25, 1h $2.
        #   5m  8,000 x 1.25 / 1e6 = 0.01
        #   1h  3,000 x 2    / 1e6 = 0.006
        #   output 100 x 5   / 1e6 = 0.0005
        #   total                  = 0.0165   (1h at the 5m rate: 0.01375 + 0.0005 = 0.01425)
        dict(model="claude-haiku-4-5", cache_write_5m_tokens=8_000, cache_write_1h_tokens=3_000, output_tokens=100),
        "0.0165",
        {"cost_cache_write_usd": "0.016"},
    ),
    Case(
        "cache_reads_bill_at_0_1x_input",
        # claude-haiku-4-5: read $0.10 (= 0.1 x 1).
        #   input          100 x 1    / 1e6 = 0.0001
        #   cache read 150,000 x 0.10 / 1e6 = 0.015
        #   output         200 x 5    / 1e6 = 0.001
        #   total                           = 0.0161
        dict(model="claude-haiku-4-5", input_tokens=100, cache_read_tokens=150_000, output_tokens=200),
        "0.0161",
        {"cost_cache_read_usd": "0.015"},
    ),
    Case(
        "opus_5_5_cache_reads_bill_at_0_05x_input_not_0_1x",
        # claude-opus-5-5: $4 in, read $0.20 (= 0.05 x 4), $20 out.
        #   input        1,000 x 4    / 1e6 = 0.004
        #   cache read 100,000 x 0.20 / 1e6 = 0.02    (at 0.1x: 0.04)
        #   output       1,000 x 20   / 1e6 = 0.02
        #   total                           = 0.044
        dict(model="claude-opus-5-5", input_tokens=1_000, cache_read_tokens=100_000, output_tokens=1_000),
        "0.044",
        {"cost_cache_read_usd": "0.02"},
    ),
    Case(
        "fable_5_2_cache_reads_bill_at_0_025x_input",
        # claude-fable-5-2: $8 in, read $0.20 (= 0.025 x 8), $40 out.
        #   input        2,000 x 8    / 1e6 = 0.016
        #   cache read 100,000 x 0.20 / 1e6 = 0.02    (at 0.1x: 0.08)
        #   output       3,000 x 40   / 1e6 = 0.12
        #   total                           = 0.156
        dict(model="claude-fable-5-2", input_tokens=2_000, cache_read_tokens=100_000, output_tokens=3_000),
        "0.156",
        {"cost_cache_read_usd": "0.02"},
    ),
    Case(
        "cache_tokens_are_not_counted_again_as_input",
        # LiteLLM #9812 class: input_tokens EXCLUDES cache reads and writes (Anthropic usage semantics).
        # claude-sonnet-4-5: $3 in, 5m $3.75, read $0.30, $15 out.
        #   input       2,000 x 3    / 1e6 = 0.006
        #   5m write   10,000 x 3.75 / 1e6 = 0.0375
        #   cache read 30,000 x 0.30 / 1e6 = 0.009
        #   output      1,000 x 15   / 1e6 = 0.015
        #   total                          = 0.0675
        # Charging the 40,000 cache tokens as input too would add 40,000 x 3 / 1e6 = 0.12 (total 0.1875).
        dict(model="claude-sonnet-4-5", input_tokens=2_000, cache_write_5m_tokens=10_000,
             cache_read_tokens=30_000, output_tokens=1_000),
        "0.0675",
        {"cost_input_usd": "0.006", "cost_cache_write_usd": "0.0375", "cost_cache_read_usd": "0.009",
         "cost_output_usd": "0.015"},
    ),
    # --- batch ------------------------------------------------------------------------------------
    Case(
        "batch_halves_input_output_and_every_cache_category",
        # PR #38341 / #19704 class: the cache multipliers stack with the batch discount.
        # claude-sonnet-5-5 (from 2026-10-07): $2 in, 5m $2.50, 1h $4, read $0.10, $10 out; batch x 0.5.
        #   input      10,000 x 2    x 0.5 / 1e6 = 0.01
        #   output      4,000 x 10   x 0.5 / 1e6 = 0.02
        #   5m write    8,000 x 2.50 x 0.5 / 1e6 = 0.01
        #   1h write    2,000 x 4    x 0.5 / 1e6 = 0.004   -> cache writes 0.014
        #   cache read 50,000 x 0.10 x 0.5 / 1e6 = 0.0025
        #   total                                 = 0.0465
        # Cache at the full rate under batch would give 0.01 + 0.02 + 0.028 + 0.005 = 0.063.
        dict(model="claude-sonnet-5-5", service_tier="batch", input_tokens=10_000, output_tokens=4_000,
             cache_write_5m_tokens=8_000, cache_write_1h_tokens=2_000, cache_read_tokens=50_000),
        "0.0465",
        {"cost_input_usd": "0.01", "cost_output_usd": "0.02", "cost_cache_write_usd": "0.014",
         "cost_cache_read_usd": "0.0025"},
    ),
    Case(
        "the_same_usage_at_standard_tier_costs_twice_the_batch_figure",
        # The standard twin of the batch case: 0.02 + 0.04 + (0.02 + 0.008) + 0.005 = 0.093.
        dict(model="claude-sonnet-5-5", service_tier="standard", input_tokens=10_000, output_tokens=4_000,
             cache_write_5m_tokens=8_000, cache_write_1h_tokens=2_000, cache_read_tokens=50_000),
        "0.093",
    ),
    Case(
        "priority_tier_bills_at_the_standard_list_price",
        # No public priority price list exists (reference 1.3): priced as standard.
        # claude-sonnet-5-5: 10,000 x 2 / 1e6 + 1,000 x 10 / 1e6 = 0.02 + 0.01 = 0.03.
        dict(model="claude-sonnet-5-5", service_tier="priority", input_tokens=10_000, output_tokens=1_000),
        "0.03",
    ),
    # --- long context -----------------------------------------------------------------------------
    Case(
        "haiku_5_5_prompt_of_exactly_100000_tokens_stays_in_the_low_band",
        # Prompt = input + cache reads + cache writes = 40,000 + 50,000 + 10,000 = 100,000 ("up to").
        # claude-haiku-5-5 low band: $0.10 in, 5m $0.125, read $0.01, $0.50 out.
        #   input      40,000 x 0.10  / 1e6 = 0.004
        #   cache read 50,000 x 0.01  / 1e6 = 0.0005
        #   5m write   10,000 x 0.125 / 1e6 = 0.00125
        #   output      2,000 x 0.50  / 1e6 = 0.001
        #   total                           = 0.00675
        dict(model="claude-haiku-5-5", input_tokens=40_000, cache_read_tokens=50_000,
             cache_write_5m_tokens=10_000, output_tokens=2_000),
        "0.00675",
        {"cost_output_usd": "0.001"},
    ),
    Case(
        "haiku_5_5_prompt_of_100001_tokens_bills_the_whole_request_output_included_at_the_high_band",
        # Prompt = 40,001 + 50,000 + 10,000 = 100,001 > 100,000.
        # claude-haiku-5-5 high band: $0.50 in, 5m $0.625, read $0.05, $2.50 out; EVERY token.
        #   input      40,001 x 0.50  / 1e6 = 0.0200005
        #   cache read 50,000 x 0.05  / 1e6 = 0.0025
        #   5m write   10,000 x 0.625 / 1e6 = 0.00625
        #   output      2,000 x 2.50  / 1e6 = 0.005     (output at the low band would be 0.001)
        #   total                           = 0.0337505
        dict(model="claude-haiku-5-5", input_tokens=40_001, cache_read_tokens=50_000,
             cache_write_5m_tokens=10_000, output_tokens=2_000),
        "0.0337505",
        {"cost_input_usd": "0.0200005", "cost_cache_read_usd": "0.0025", "cost_cache_write_usd": "0.00625",
         "cost_output_usd": "0.005"},
    ),
    Case(
        "sonnet_4_5_prompt_of_exactly_200000_tokens_stays_at_base_rates",
        # Prompt = 150,000 + 50,000 = 200,000. claude-sonnet-4-5 base: $3 in, read $0.30, $15 out.
        #   150,000 x 3 / 1e6 = 0.45; 50,000 x 0.30 / 1e6 = 0.015; 10,000 x 15 / 1e6 = 0.15; total 0.615
        dict(model="claude-sonnet-4-5", input_tokens=150_000, cache_read_tokens=50_000, output_tokens=10_000),
        "0.615",
    ),
    Case(
        "sonnet_4_5_prompt_over_200000_tokens_bills_the_whole_request_at_the_premium",
        # Prompt = 150,000 + 50,001 = 200,001. Premium: $6 in, read $0.60, $22.50 out.
        #   input      150,000 x 6     / 1e6 = 0.9
        #   cache read  50,001 x 0.60  / 1e6 = 0.0300006
        #   output      10,000 x 22.50 / 1e6 = 0.225
        #   total                            = 1.1550006
        dict(model="claude-sonnet-4-5", input_tokens=150_000, cache_read_tokens=50_001, output_tokens=10_000),
        "1.1550006",
        {"cost_output_usd": "0.225"},
    ),
    # --- fast mode, data residency, regional endpoints -----------------------------------------------
    Case(
        "opus_5_5_fast_mode_bills_at_the_fast_rate_card",
        # claude-opus-5-5 fast: $8 in, read $0.40 (0.05 x 8), $40 out.
        #   input      10,000 x 8    / 1e6 = 0.08
        #   cache read 20,000 x 0.40 / 1e6 = 0.008
        #   output      5,000 x 40   / 1e6 = 0.2
        #   total                          = 0.288   (standard speed: 0.04 + 0.004 + 0.1 = 0.144)
        dict(model="claude-opus-5-5", speed="fast", input_tokens=10_000, cache_read_tokens=20_000,
             output_tokens=5_000),
        "0.288",
    ),
    Case(
        "fast_mode_and_us_only_inference_stack",
        # claude-opus-5-5 fast x 1.1 (US-only): 10,000 x 8 x 1.1 / 1e6 = 0.088; 1,000 x 40 x 1.1 / 1e6 = 0.044.
        dict(model="claude-opus-5-5", speed="fast", inference_geo="us", input_tokens=10_000, output_tokens=1_000),
        "0.132",
    ),
    Case(
        "us_only_inference_adds_ten_percent_to_every_token_category",
        # claude-opus-5-5 x 1.1: $4.40 in, 5m $5.50, read $0.22, $22 out.
        #   input      10,000 x 4    x 1.1 / 1e6 = 0.044
        #   5m write    1,000 x 5    x 1.1 / 1e6 = 0.0055
        #   cache read 10,000 x 0.20 x 1.1 / 1e6 = 0.0022
        #   output      1,000 x 20   x 1.1 / 1e6 = 0.022
        #   total                                 = 0.0737
        dict(model="claude-opus-5-5", inference_geo="us", input_tokens=10_000, cache_write_5m_tokens=1_000,
             cache_read_tokens=10_000, output_tokens=1_000),
        "0.0737",
        {"cost_input_usd": "0.044", "cost_cache_write_usd": "0.0055", "cost_cache_read_usd": "0.0022",
         "cost_output_usd": "0.022"},
    ),
    Case(
        "global_inference_on_the_claude_api_bills_at_the_list_price",
        # Same usage, inference_geo 'global': 0.04 + 0.005 + 0.002 + 0.02 = 0.067.
        dict(model="claude-opus-5-5", inference_geo="global", input_tokens=10_000, cache_write_5m_tokens=1_000,
             cache_read_tokens=10_000, output_tokens=1_000),
        "0.067",
    ),
    Case(
        "us_only_inference_premium_does_not_apply_to_a_model_released_before_2026_02",
        # claude-haiku-4-5 (2025-10) has no residency premium: 10,000 x 1 / 1e6 + 1,000 x 5 / 1e6 = 0.015.
        dict(model="claude-haiku-4-5", inference_geo="us", input_tokens=10_000, output_tokens=1_000),
        "0.015",
    ),
    Case(
        "bedrock_regional_endpoint_adds_ten_percent",
        # claude-sonnet-4-5 on Bedrock us-east-1 (regional) x 1.1:
        #   10,000 x 3 x 1.1 / 1e6 = 0.033; 2,000 x 15 x 1.1 / 1e6 = 0.033; total 0.066
        dict(model="claude-sonnet-4-5", platform="bedrock", inference_geo="us-east-1",
             input_tokens=10_000, output_tokens=2_000),
        "0.066",
    ),
    Case(
        "bedrock_global_endpoint_bills_at_the_list_price",
        # Same usage through the global endpoint: 0.03 + 0.03 = 0.06.
        dict(model="claude-sonnet-4-5", platform="bedrock", inference_geo="global",
             input_tokens=10_000, output_tokens=2_000),
        "0.06",
    ),
    Case(
        "bedrock_regional_premium_does_not_apply_to_opus_4_1_and_earlier",
        # "Opus 4.1 and earlier keep their old pricing": 10,000 x 15 / 1e6 + 1,000 x 75 / 1e6 = 0.15 + 0.075.
        dict(model="claude-opus-4-1-20250805", platform="bedrock", inference_geo="us-east-1",
             input_tokens=10_000, output_tokens=1_000),
        "0.225",
    ),
    Case(
        "a_request_without_a_platform_is_priced_as_the_claude_api_residency_premium_included",
        # platform NULL is the Claude API; inference_geo 'us' adds 1.1x: 10,000 x 4 x 1.1 / 1e6 = 0.044.
        dict(model="claude-opus-5-5", platform=None, inference_geo="us", input_tokens=10_000),
        "0.044",
    ),
    Case(
        "a_huge_token_count_is_priced_without_integer_overflow",
        # 200,000,000 output tokens x $75 (Opus 4.1) = 1.5e19 femto-dollars, past BIGINT's 9.2e18:
        #   200,000,000 x 75 / 1e6 = 15,000
        dict(model="claude-opus-4-1-20250805", output_tokens=200_000_000),
        "15000",
    ),
    # --- server tools -----------------------------------------------------------------------------
    Case(
        "web_search_bills_ten_dollars_per_thousand_searches_on_top_of_tokens",
        # claude-sonnet-5-5: 5,000 x 2 / 1e6 = 0.01; 1,000 x 10 / 1e6 = 0.01; 3 searches x 10 / 1000 = 0.03.
        dict(model="claude-sonnet-5-5", input_tokens=5_000, output_tokens=1_000, web_search_requests=3),
        "0.05",
        {"cost_tools_usd": "0.03"},
    ),
    # --- effective dates --------------------------------------------------------------------------
    Case(
        "sonnet_5_5_cache_reads_cost_0_20_per_mtok_on_2026_10_06",
        # 1,000,000 x 0.20 / 1e6 = 0.20 (the rate before the 2026-10-07 cut).
        dict(model="claude-sonnet-5-5", ts="2026-10-06 23:59:59+00", cache_read_tokens=1_000_000),
        "0.20",
    ),
    Case(
        "sonnet_5_5_cache_reads_cost_0_10_per_mtok_from_2026_10_07",
        # 1,000,000 x 0.10 / 1e6 = 0.10.
        dict(model="claude-sonnet-5-5", ts="2026-10-07 00:00:00+00", cache_read_tokens=1_000_000),
        "0.10",
    ),
    # --- errors -----------------------------------------------------------------------------------
    Case(
        "an_errored_request_with_zero_tokens_costs_exactly_zero",
        dict(model="claude-opus-5-5", status="error", http_status=529, error_type="overloaded"),
        "0",
        {p: "0" for p in PARTS},
    ),
    Case(
        "an_errored_request_whose_log_has_no_token_counts_costs_exactly_zero",
        dict(model="claude-opus-5-5", status="error", http_status=429, error_type="rate_limit",
             input_tokens=None, output_tokens=None, cache_read_tokens=None, cache_write_5m_tokens=None,
             cache_write_1h_tokens=None, web_search_requests=None),
        "0",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_usage_costs_exactly_the_hand_worked_amount(store, case):
    insert(store, case.id, **case.usage)
    row = costed(store, case.id)
    assert row["priced"] is True, row["unpriced_reason"]
    assert row["unpriced_reason"] is None
    assert row["cost_usd"] == Decimal(case.cost), f"{case.id}: {row['cost_usd']} != {case.cost}"
    for part, value in case.parts.items():
        assert row[part] == Decimal(value), f"{case.id} {part}: {row[part]} != {value}"
    # The breakdown always adds up to the total.
    assert sum(row[p] for p in PARTS) == row["cost_usd"]


def test_costs_are_decimals_with_nine_places_never_floats(store):
    insert(store, "r", model="claude-haiku-4-5", input_tokens=1, output_tokens=1)
    types = dict(store.rows(
        "select column_name, column_type from (describe costed_requests) where column_name like 'cost%'"
    ))
    assert types == {c: "DECIMAL(18,9)" for c in ("cost_usd", "cost_list_usd", *PARTS)}
    assert isinstance(costed(store, "r")["cost_usd"], Decimal)


# --- rules checked as relations between two requests --------------------------------------------


def test_one_hour_writes_cost_exactly_1_6x_the_same_tokens_written_for_5_minutes(store):
    # 2x / 1.25x = 1.6: the ratio a tool that prices 1h writes at the 5m rate gets wrong (agentsview #1452).
    for model in ("claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-4-5", "claude-fable-5-2"):
        store.execute("delete from requests")
        insert(store, "5m", model=model, cache_write_5m_tokens=1_000_000)
        insert(store, "1h", model=model, cache_write_1h_tokens=1_000_000)
        five, hour = costed(store, "5m")["cost_usd"], costed(store, "1h")["cost_usd"]
        assert five > 0
        assert hour == five * Decimal("1.6"), model


def test_sonnet_5_5_cache_read_price_changes_at_midnight_utc_on_2026_10_07(store):
    insert(store, "before", model="claude-sonnet-5-5", ts="2026-10-06 23:59:59.999999+00", cache_read_tokens=1_000_000)
    insert(store, "after", model="claude-sonnet-5-5", ts="2026-10-07 00:00:00+00", cache_read_tokens=1_000_000)
    # The same instant written in another zone is the same price: 2026-10-07 01:00 in UTC+2 is 23:00 UTC.
    insert(store, "cest", model="claude-sonnet-5-5", ts="2026-10-07 01:00:00+02", cache_read_tokens=1_000_000)
    assert costed(store, "before")["cost_usd"] == Decimal("0.20")
    assert costed(store, "after")["cost_usd"] == Decimal("0.10")
    assert costed(store, "cest")["cost_usd"] == Decimal("0.20")


def test_a_request_before_a_models_first_price_is_unpriced_with_the_date_in_the_reason(store):
    # claude-sonnet-5-5 was released 2026-09-28; a request dated earlier has no price in force.
    insert(store, "early", model="claude-sonnet-5-5", ts="2026-09-01 00:00:00+00", input_tokens=1_000)
    row = costed(store, "early")
    assert row["priced"] is False
    assert row["cost_usd"] is None
    assert "2026-09-01" in row["unpriced_reason"] and "claude-sonnet-5-5" in row["unpriced_reason"]


def test_an_unknown_model_is_unpriced_with_a_null_cost_never_zero(store):
    insert(store, "u", model="claude-nonexistent-9", input_tokens=1_000, output_tokens=100)
    row = costed(store, "u")
    assert row["priced"] is False
    assert row["cost_usd"] is None
    assert all(row[p] is None for p in PARTS)
    assert row["tier"] is None
    assert "claude-nonexistent-9" in row["unpriced_reason"]
    # Aggregates do not turn it into $0 either: the priced total ignores it and the count shows it.
    assert store.scalar("select count(*) from costed_requests where not priced") == 1
    assert store.scalar("select sum(cost_usd) from costed_requests") is None


def test_a_request_with_no_model_id_is_unpriced_and_says_so(store):
    insert(store, "nomodel", model=None, input_tokens=10)
    row = costed(store, "nomodel")
    assert row["priced"] is False and row["cost_usd"] is None
    assert row["unpriced_reason"] == "no model id in the log"


def test_fast_mode_on_a_model_without_a_fast_rate_card_is_unpriced_not_billed_at_standard(store):
    insert(store, "f", model="claude-sonnet-5-5", speed="fast", input_tokens=1_000)
    row = costed(store, "f")
    assert row["priced"] is False and row["cost_usd"] is None
    assert "fast" in row["unpriced_reason"]


def test_every_request_appears_exactly_once_in_costed_requests(store):
    # Overlapping price rows would join one request to two rates and double its cost in every sum.
    models = [r[0] for r in store.rows("select distinct model from prices order by 1")]
    combos = [
        dict(platform="anthropic", service_tier="standard", inference_geo=None),
        dict(platform="anthropic", service_tier="batch", inference_geo="us"),
        dict(platform="bedrock", service_tier="standard", inference_geo="eu-west-1"),
        dict(platform="vertex", service_tier="batch", inference_geo="global"),
    ]
    n = 0
    for model in models:
        for ts in ("2026-10-06 12:00:00+00", NOV):
            for combo in combos:
                for prompt in (10, 150_000, 250_000):
                    n += 1
                    insert(store, f"r{n}", model=model, ts=ts, input_tokens=prompt, output_tokens=10, **combo)
    assert store.scalar("select count(*) from costed_requests") == n
    assert store.scalar("select count(distinct request_id) from costed_requests") == n


# --- model ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "model"),
    [
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),                       # dated snapshot alias
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("global.anthropic.claude-sonnet-5-5", "claude-sonnet-5-5"),             # Bedrock cross-region profile
        ("anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),        # Bedrock model id
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
         "claude-sonnet-4-5"),
        ("bedrock/converse/us.anthropic.claude-opus-5-v1:0", "claude-opus-5"),   # LiteLLM Bedrock Converse route
        ("bedrock/us.anthropic.claude-opus-4-6-v1", "claude-opus-4-6"),
        ("claude-opus-4-8[1m]", "claude-opus-4-8"),                              # Claude Code 1M-context suffix
        ("claude-haiku-4-5@20251001", "claude-haiku-4-5"),                       # Vertex
        ("vertex_ai/claude-opus-4-5@20251101", "claude-opus-4-5"),
        ("anthropic/claude-sonnet-5-5", "claude-sonnet-5-5"),                    # gateway prefix
        ("  Claude-Sonnet-5-5 ", "claude-sonnet-5-5"),
        ("claude-opus-4-1", "claude-opus-4-1-20250805"),                         # short name of a dated id
        ("claude-opus-5-5-20260922", "claude-opus-5-5"),                         # dated spelling of a known id
        ("claude-sonnet-9-20300101", "claude-sonnet-9-20300101"),                # unknown: the date stays
    ],
)
def test_raw_model_ids_normalise_to_the_catalogue_id(store, raw, model):
    assert store.scalar("select costlab_model(?)", [raw]) == model


def test_a_request_stored_under_a_normalised_alias_prices_like_the_catalogue_model(store):
    for i, raw in enumerate(("claude-haiku-4-5", "claude-haiku-4-5-20251001", "anthropic.claude-haiku-4-5-20251001-v1:0",
                             "claude-haiku-4-5@20251001")):
        store.execute(
            "insert into requests (request_id, ts, source, model, input_tokens, output_tokens) "
            "values (?, ?, 'golden', costlab_model(?), 10000, 1000)",
            [f"a{i}", NOV, raw],
        )
    frame = store.frame("select model, cost_usd, tier from costed_requests")
    # claude-haiku-4-5: 10,000 x 1 / 1e6 + 1,000 x 5 / 1e6 = 0.015 each.
    assert frame["model"].to_list() == ["claude-haiku-4-5"] * 4
    assert frame["cost_usd"].to_list() == [Decimal("0.015")] * 4
    assert frame["tier"].to_list() == ["haiku"] * 4


def test_timestamps_are_compared_as_instants_whatever_the_session_zone(store):
    # An absolute instant in the log is never re-read in local time.
    insert(store, "z", model="claude-sonnet-5-5", ts=datetime(2026, 10, 6, 23, 30, tzinfo=timezone.utc),
           cache_read_tokens=1_000_000)
    assert costed(store, "z")["cost_usd"] == Decimal("0.20")
