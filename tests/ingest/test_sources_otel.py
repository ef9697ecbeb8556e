"""OpenTelemetry GenAI spans (OTLP JSON from the collector's file exporter): cache tokens are taken
OUT of gen_ai.usage.input_tokens, both cache-write spellings and the legacy aliases are read, errors
come from error.type, latency from the span's start and end, non-GenAI spans are skipped."""

from __future__ import annotations

import gzip
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


def test_spans_are_detected_and_only_genai_spans_become_requests(store, tmp_path):
    gz = tmp_path / "traces.json.gz"
    gz.write_bytes(gzip.compress((SRC / "otel.jsonl").read_bytes()))
    result = ingest_paths(store, [str(gz)]).files[0]
    assert (result.format, result.rows_read, result.rows_added, result.rows_rejected) == ("otel", 4, 4, 0)
    assert sorted(rows(store)) == ["msg_otel_1", "span_b1", "span_b2", "span_b3"]  # the HTTP span is not a request


def test_sdk_span_input_tokens_exclude_cache_reads_and_writes(store):
    ingest_paths(store, [str(SRC / "otel.jsonl")])
    r = rows(store)["msg_otel_1"]
    # gen_ai.usage.input_tokens = 4000 = 1000 uncached + 2000 cache read + 1000 cache write (cache_write spelling)
    assert (r["input_tokens"], r["cache_read_tokens"], r["cache_write_5m_tokens"], r["cache_write_1h_tokens"]) == (1000, 2000, 400, 600)
    assert r["cost_usd"] == Decimal("0.006600000")  # 1000*2 + 100*10 + 400*2.5 + 600*4 + 2000*0.1 micro-dollars
    assert (r["latency_ms"], r["ttft_ms"], r["stop_reason"], r["service_tier"]) == (900.0, 250.0, "end_turn", "standard")
    assert (r["feature"], r["user_id"], r["trace_id"], r["platform"]) == ("triage", "u7", "5b8efff798038103d269b633813fc60c", "anthropic")
    attrs = json.loads(r["attributes"])
    assert attrs["input_tokens_reported"] == "4000" and attrs["service"] == "support-bot"
    assert attrs["anthropic"]["anthropic.request.id"] == "req_otel_1"


def test_legacy_aliases_and_the_cache_creation_spelling_are_read(store):
    ingest_paths(store, [str(SRC / "otel.jsonl")])
    got = rows(store)
    legacy = got["span_b1"]  # prompt_tokens 1500 incl. 500 legacy cache_read_input_tokens; completion_tokens 20
    assert (legacy["input_tokens"], legacy["cache_read_tokens"], legacy["output_tokens"], legacy["session_id"]) == (1000, 500, 20, "s9")
    bed = got["span_b3"]  # cache_creation spelling, undivided: 5m, and said so
    assert (bed["platform"], bed["model"], bed["input_tokens"], bed["cache_write_5m_tokens"]) == ("bedrock", "claude-haiku-5-5", 1000, 300)
    assert json.loads(bed["attributes"])["cache_ttl_assumed"] is True
    assert bed["session_id"] == "conv-1"  # gen_ai.conversation.id when there is no session.id


def test_error_type_and_status_make_an_unbilled_error(store):
    ingest_paths(store, [str(SRC / "otel.jsonl")])
    r = rows(store)["span_b2"]
    assert (r["status"], r["error_type"], r["http_status"], r["latency_ms"], r["cost_usd"]) == ("error", "rate_limit", 429, 50.0, Decimal(0))


def test_input_tokens_already_without_cache_can_be_declared_in_config(tmp_path):
    store = open_store(tmp_path / "o.duckdb", Config(ingest={"otel": {"input_includes_cache": False}}))
    ingest_paths(store, [str(SRC / "otel.jsonl")])
    assert store.scalar("select input_tokens from requests where request_id = 'msg_otel_1'") == 4000
    store.close()


def test_bad_spans_are_rejected_per_line_with_reasons_and_good_spans_kept(store):
    result = ingest_paths(store, [str(SRC / "otel_bad.jsonl")]).files[0]
    assert (result.rows_added, result.rows_rejected) == (2, 6)
    reasons = sorted(store.rows("select line, reason from rejects"))
    assert [line for line, _ in reasons] == [1, 2, 3, 4, 5, 6]
    text = dict(reasons)
    assert text[1].startswith("no token usage")
    assert text[2].startswith("input_tokens is not a whole number: many")
    assert "another format mixed in" in text[3]
    assert text[4] == "not valid JSON"
    assert text[5].startswith("gen_ai.usage.input_tokens (10) is smaller than the cache tokens it must include (50)")
    assert text[6].startswith("ts is not a timestamp: yesterday")
    assert dict(store.rows("select request_id, priced from costed_requests")) == {"span_c1": True, "span_c4": False}
