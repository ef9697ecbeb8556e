"""Bedrock model invocation logs: detected, gzip read directly, Anthropic token semantics kept
(Converse totalTokens never used as input), 5m/1h split from the body, profiles mapped, regional
premium only off the global profile, tags mapped by config, bad records quarantined with reasons."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pytest

from costlab.config import Config
from costlab.errors import ConfigError
from costlab.ingest import ingest_paths
from costlab.open import open_store

from helpers import FIXTURES

SRC = FIXTURES / "sources"
CONFIG = Config(ingest={"bedrock": {"profiles": {"prof123": "global.anthropic.claude-opus-5-5"},
                                    "tags": {"feature": "team", "user_id": "user"}}})


@pytest.fixture
def bed(tmp_path):
    store = open_store(tmp_path / "b.duckdb", CONFIG)
    yield store
    store.close()


def rows(store):
    return {r["request_id"]: r for r in store.frame("select * from costed_requests").to_dicts()}


def test_gzip_bedrock_log_is_detected_and_every_record_lands(bed, tmp_path):
    gz = tmp_path / "part_0001.json.gz"
    gz.write_bytes(gzip.compress((SRC / "bedrock.jsonl").read_bytes()))
    result = ingest_paths(bed, [str(gz)]).files[0]
    assert (result.format, result.rows_read, result.rows_added, result.rows_rejected, result.error) == ("bedrock", 7, 7, 0, None)
    assert bed.scalar("select count(distinct platform) || any_value(platform) || any_value(source) from requests") == "1bedrockbedrock"


def test_invoke_model_keeps_uncached_input_and_takes_the_ttl_split_from_the_body(bed):
    ingest_paths(bed, [str(SRC / "bedrock.jsonl")])
    r = rows(bed)["br-invoke-1"]
    assert (r["model"], r["inference_geo"], r["input_tokens"], r["output_tokens"], r["cache_read_tokens"]) == (
        "claude-sonnet-5-5", "global", 1000, 100, 2000)
    assert (r["cache_write_5m_tokens"], r["cache_write_1h_tokens"]) == (1000, 2000)
    # The same tokens as tests/ingest/test_ingest.py's first envelope, at the same global price.
    assert (r["cost_usd"], r["price_multiplier"]) == (Decimal("0.013700000"), Decimal("1"))
    assert (r["feature"], r["user_id"], r["customer_id"], r["stop_reason"], r["http_status"]) == ("search", "u1", "acme", "end_turn", 200)
    attrs = json.loads(r["attributes"])
    assert attrs["model_raw"] == attrs["model_id"] == "global.anthropic.claude-sonnet-5-5"
    p = bed.frame("select * from payloads where request_id = 'br-invoke-1'").to_dicts()[0]
    assert json.loads(p["request_json"])["messages"][0]["content"] == "Summarise the ticket"
    assert p["response_text"] == "A short summary."


def test_converse_cache_details_split_writes_and_total_tokens_is_not_the_input(bed):
    ingest_paths(bed, [str(SRC / "bedrock.jsonl")])
    got = rows(bed)
    r = got["br-converse-2"]
    assert (r["input_tokens"], r["cache_read_tokens"], r["cache_write_5m_tokens"], r["cache_write_1h_tokens"]) == (500, 100, 100, 200)
    assert (r["latency_ms"], r["stop_reason"]) == (812.0, "end_turn")
    # A Converse record without top-level counts: input is usage.inputTokens (40), not totalTokens - output (1040).
    r3 = got["br-converse-3"]
    assert (r3["input_tokens"], r3["output_tokens"], r3["cache_read_tokens"]) == (40, 10, 1000)
    assert json.loads(r3["attributes"])["total_tokens"] == "1050"


def test_regional_endpoints_pay_the_premium_and_global_profiles_do_not(bed):
    ingest_paths(bed, [str(SRC / "bedrock.jsonl")])
    got = rows(bed)
    geo = {k: (got[k]["inference_geo"], got[k]["price_multiplier"]) for k in ("br-invoke-1", "br-converse-2", "br-stream-6")}
    assert geo == {"br-invoke-1": ("global", Decimal("1")), "br-converse-2": ("us-west-2", Decimal("1.1")),
                   "br-stream-6": ("eu-west-1", Decimal("1.1"))}
    # Regional costs exactly 1.1x the same request on a global profile.
    same = bed.frame("""select costlab_cost_usd(300, (select input_fusd from price_card where model = 'claude-haiku-5-5'
                          and platform = 'bedrock' and geo_class = 'global' and service_tier = 'standard' and speed = 'standard'
                          and band_min_tokens = 0 and seg_to is null)) as c""").to_dicts()[0]["c"]
    assert got["br-stream-6"]["cost_input_usd"] == same * Decimal("1.1")


def test_application_inference_profile_arn_is_mapped_by_config_and_unmapped_is_unpriced_not_free(bed):
    ingest_paths(bed, [str(SRC / "bedrock.jsonl")])
    got = rows(bed)
    r = got["br-profile-4"]
    assert (r["model"], r["inference_geo"], r["priced"]) == ("claude-opus-5-5", "global", True)
    attrs = json.loads(r["attributes"])
    assert attrs["model_id"].endswith("application-inference-profile/prof123")
    assert attrs["input_body_s3_path"].endswith("br-profile-4_input.json")
    assert attrs["cache_ttl_assumed"] is True and r["cache_write_5m_tokens"] == 400  # undivided writes -> 5m, said so
    u = got["br-unmapped-7"]
    assert (u["priced"], u["cost_usd"]) == (False, None)
    assert u["unpriced_reason"].startswith("no price for model arn:aws:bedrock:")


def test_streamed_invoke_reads_usage_text_and_latency_from_the_event_list(bed):
    ingest_paths(bed, [str(SRC / "bedrock.jsonl")])
    r = rows(bed)["br-stream-6"]
    assert (r["latency_ms"], r["ttft_ms"], r["stop_reason"], r["output_tokens"]) == (1500.0, 300.0, "end_turn", 30)
    assert bed.scalar("select response_text from payloads where request_id = 'br-stream-6'") == "Bonjour"


def test_throttling_is_a_rate_limit_error_with_no_cost(bed):
    ingest_paths(bed, [str(SRC / "bedrock.jsonl")])
    r = rows(bed)["br-throttle-5"]
    assert (r["status"], r["error_type"], r["http_status"], r["cost_usd"]) == ("error", "rate_limit", 429, Decimal(0))


def test_bad_records_are_rejected_with_line_and_reason_and_good_ones_kept(bed):
    result = ingest_paths(bed, [str(SRC / "bedrock_bad.jsonl")]).files[0]
    assert (result.rows_read, result.rows_added, result.rows_rejected) == (8, 2, 6)
    reasons = dict(bed.rows("select line, reason from rejects order by line"))
    assert reasons[2] == "no timestamp"
    assert reasons[3].startswith("input_tokens is not a whole number: lots")
    assert reasons[5] == "not valid JSON"
    assert "another format mixed in" in reasons[6]
    assert reasons[7].startswith("no token counts") or "wrong shape" in reasons[7]
    assert reasons[8].startswith("no token counts")
    # An unknown model is kept, and counted as unpriced rather than free.
    assert bed.rows("select model, priced from costed_requests order by ts") == [
        ("claude-sonnet-5-5", True), ("claude-imaginary-9", False)]


def test_a_tag_mapping_to_an_unknown_column_is_a_config_error(tmp_path):
    store = open_store(tmp_path / "c.duckdb", Config(ingest={"bedrock": {"tags": {"team": "team"}}}))
    with pytest.raises(ConfigError, match=r"\[ingest.bedrock.tags\] 'team'"):
        ingest_paths(store, [str(SRC / "bedrock.jsonl")])
    store.close()
