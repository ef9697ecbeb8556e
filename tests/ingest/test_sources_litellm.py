"""LiteLLM SpendLogs and ErrorLogs exports (CSV and JSON lines): spend is only reported, never the
price; prompt_tokens has the cache taken out; failures and ErrorLogs rows are typed errors;
request_tags/end_user/team_id map to feature/user/customer by config; bad rows quarantined."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from costlab.config import Config
from costlab.ingest import ingest_paths
from costlab.open import open_store

from helpers import FIXTURES

SRC = FIXTURES / "sources"


def rows(store):
    return {r["request_id"]: r for r in store.frame("select * from costed_requests").to_dicts()}


@pytest.mark.parametrize("name, fmt, n", [("litellm_spendlogs.csv", "litellm-csv", 4), ("litellm_spendlogs.jsonl", "litellm-jsonl", 3)])
def test_spendlogs_csv_and_json_give_the_same_rows(store, name, fmt, n):
    result = ingest_paths(store, [str(SRC / name)]).files[0]
    assert (result.format, result.rows_added, result.rows_rejected) == (fmt, n, 0)
    r = rows(store)["chatcmpl-lite-1"]
    # prompt_tokens 4000 includes 2000 cache reads and 1000 cache writes (400 5m + 600 1h)
    assert (r["input_tokens"], r["cache_read_tokens"], r["cache_write_5m_tokens"], r["cache_write_1h_tokens"]) == (1000, 2000, 400, 600)
    assert (r["reported_cost_usd"], r["cost_usd"]) == (Decimal("0.0066"), Decimal("0.006600000"))
    assert (r["latency_ms"], r["ttft_ms"], r["stop_reason"], r["session_id"]) == (1500.0, 400.0, "stop", "sess-1")


def test_spend_is_never_the_price(store):
    ingest_paths(store, [str(SRC / "litellm_spendlogs.csv")])
    r = rows(store)["chatcmpl-lite-2"]  # LiteLLM reported 0.000605; the Bedrock regional price is what counts
    assert r["reported_cost_usd"] == Decimal("0.000605")
    assert (r["platform"], r["model"], r["inference_geo"], r["price_multiplier"]) == ("bedrock", "claude-haiku-5-5", "us-west-2", Decimal("1.1"))
    assert r["cost_usd"] == Decimal("0.000082500")


def test_tags_end_user_and_team_map_to_feature_user_customer_and_config_can_remap(store, tmp_path):
    ingest_paths(store, [str(SRC / "litellm_spendlogs.csv")])
    r = rows(store)["chatcmpl-lite-1"]
    assert (r["feature"], r["user_id"], r["customer_id"]) == ("feature:triage", "u1", "acme")
    other = open_store(tmp_path / "t.duckdb", Config(ingest={"litellm": {"tags": {
        "feature": "tag:feature:", "customer_id": "metadata.user_api_key_team_alias", "user_id": "user"}}}))
    ingest_paths(other, [str(SRC / "litellm_spendlogs.csv")])
    r = rows(other)["chatcmpl-lite-1"]
    assert (r["feature"], r["customer_id"], r["user_id"]) == ("triage", "support", "default_user_id")
    other.close()


def test_failures_and_errorlogs_rows_are_typed_errors_with_no_cost(store):
    ingest_paths(store, [str(SRC / "litellm_spendlogs.csv"), str(SRC / "litellm_errorlogs.csv")])
    got = rows(store)
    assert {k: (got[k]["status"], got[k]["error_type"], got[k]["http_status"], got[k]["cost_usd"])
            for k in ("chatcmpl-lite-3", "err-1", "err-2")} == {
        "chatcmpl-lite-3": ("error", "rate_limit", 429, Decimal(0)),
        "err-1": ("error", "context_exceeded", 400, Decimal(0)),
        "err-2": ("error", "rate_limit", 429, Decimal(0)),
    }
    assert "prompt is too long" in json.loads(got["err-1"]["attributes"])["exception"]


def test_messages_and_response_go_to_payloads(store):
    ingest_paths(store, [str(SRC / "litellm_spendlogs.csv")])
    p = store.frame("select * from payloads where request_id = 'chatcmpl-lite-1'").to_dicts()[0]
    assert json.loads(p["request_json"])["messages"][0]["content"] == "Where is my order?"
    assert p["response_text"] == "It ships today."
    assert store.scalar("select count(*) from payloads") == 1  # '{}' placeholders are no payload


def test_bad_rows_are_rejected_with_line_and_reason(store):
    result = ingest_paths(store, [str(SRC / "litellm_bad.csv")]).files[0]
    assert (result.rows_read, result.rows_added, result.rows_rejected) == (7, 2, 5)
    reasons = dict(store.rows("select line, reason from rejects"))
    assert reasons[3] == "no timestamp"
    assert reasons[4].startswith("input_tokens is not a whole number: abc")
    assert reasons[5].startswith("malformed CSV row")
    assert reasons[7].startswith("prompt_tokens (10) is smaller than the cache tokens")
    assert reasons[8].startswith("reported_cost_usd is not a number: lots")
    assert dict(store.rows("select request_id, priced from costed_requests")) == {"bad-1": True, "bad-4": False}


def test_another_format_mixed_into_a_json_export_is_rejected(store, tmp_path):
    lines = (SRC / "litellm_spendlogs.jsonl").read_text().splitlines()
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(lines[0] + "\n" + json.dumps({"resourceSpans": []}) + "\n" + lines[1] + "\n")
    result = ingest_paths(store, [str(mixed)]).files[0]
    assert (result.format, result.rows_added, result.rows_rejected) == ("litellm-jsonl", 2, 1)
    assert "another format mixed in" in store.scalar("select reason from rejects where line = 2")
