"""Rows with every pricing feature, and the prices that exercise them, for the tests that hold the
portable pricing query (queries/lake/price_requests.sql) equal to internal/price_rows.sql."""

from __future__ import annotations

from datetime import datetime, timezone

from costlab.config import Config
from costlab.testing.factories import insert_requests

UTC = timezone.utc
START = datetime(2026, 11, 10, tzinfo=UTC)
END = datetime(2026, 11, 16, tzinfo=UTC)

# A negotiated discount on one model (cost_list_usd differs from cost_usd), one on a platform, and a
# price change in the middle of the window (two price segments).
CONFIG = dict(
    discounts=[{"model": "claude-sonnet-5-5", "percent_off": 20, "valid_from": "2026-11-12"},
               {"platform": "bedrock", "factor": 0.9, "valid_from": "2026-11-01"}],
    prices=[{"model": "claude-opus-5-5", "valid_from": "2026-11-13", "input": 4.5, "output": 21}],
)


def config() -> Config:
    return Config(**CONFIG)


def feature_rows(store, n: int = 6000, prefix: str = "f", start: datetime = START, end: datetime = END,
                 before_prices: bool = True) -> None:
    """n requests over [start, end) cycling through every pricing feature: models with and without
    prices (and no model), fast mode with and without a fast price, every platform and an unknown one,
    service tiers (batch), residency (us) and regional endpoints, 5-minute and 1-hour cache writes,
    cache reads, web searches, long prompts past a long-context band, counts past the overflow guard
    of costlab_cost_usd, and requests with nothing billable; with before_prices, a few from a day
    before the models had prices (no price in force)."""
    insert_requests(
        store, n, start, end,
        request_id=f"'{prefix}_' || i",
        model="['claude-haiku-5-5', 'claude-sonnet-5-5', 'claude-opus-5-5', 'claude-sonnet-4-5', 'claude-opus-4-6', "
              "'acme-unknown-1', null][i % 7 + 1]",
        platform="['anthropic', 'bedrock', 'vertex', 'foundry', 'claude_aws', 'other', null, 'mars'][i % 8 + 1]",
        service_tier="['standard', 'batch', 'priority', null][i % 4 + 1]",
        speed="case when i % 11 = 0 then 'fast' when i % 13 = 0 then null else 'standard' end",
        inference_geo="['global', 'us', 'eu-west-1', null, 'us-east-1'][i % 5 + 1]",
        input_tokens="case when i % 17 = 0 then 0 when i % 23 = 0 then 5000000 + i when i % 5 = 0 then 150000 + i "
                     "else 100 + (i * 7919) % 60000 end",
        output_tokens="case when i % 17 = 0 then 0 when i % 29 = 0 then 4100000 else (i * 104729) % 8000 end",
        cache_read_tokens="case when i % 17 = 0 then 0 else (i * 31) % 90000 end",
        cache_write_5m_tokens="case when i % 17 = 0 then 0 when i % 3 = 0 then (i * 13) % 20000 else 0 end",
        cache_write_1h_tokens="case when i % 17 = 0 then 0 when i % 4 = 0 then (i * 7) % 30000 else 0 end",
        web_search_requests="case when i % 17 = 0 then 0 else i % 3 end",
        sample_weight="case when i % 10 = 0 then 20 else 1 end",
        attributes="case when i % 2 = 0 then ('{\"k\": ' || i || '}')::JSON end",
    )
    if before_prices:
        insert_requests(store, 20, datetime(2021, 1, 4, tzinfo=UTC), datetime(2021, 1, 5, tzinfo=UTC),
                        request_id=f"'{prefix}_old_' || i", model="'claude-haiku-5-5'")
