"""Langfuse observation exports in CSV, JSON lines and Parquet give the same requests: GENERATION
observations only, usage-detail keys for the cache split, total_cost only reported, ERROR level typed."""

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


@pytest.mark.parametrize("ext", ["csv", "jsonl", "parquet"])
def test_each_export_format_gives_the_same_costed_requests(store, ext):
    result = ingest_paths(store, [str(SRC / f"langfuse_observations.{ext}")]).files[0]
    assert (result.format, result.rows_added, result.rows_rejected) == (f"langfuse-{ext}", 3, 0)
    got = rows(store)
    assert sorted(got) == ["obs-1", "obs-3", "obs-4"]  # the SPAN observation is not a request
    r = got["obs-1"]
    assert (r["input_tokens"], r["cache_read_tokens"], r["cache_write_5m_tokens"], r["cache_write_1h_tokens"]) == (1000, 2000, 400, 600)
    assert (r["cost_usd"], r["reported_cost_usd"]) == (Decimal("0.006600000"), Decimal("0.0066"))
    assert (r["latency_ms"], r["ttft_ms"], r["feature"], r["user_id"], r["customer_id"], r["session_id"]) == (
        1200.0, 300.0, "triage", "u1", "acme", "s1")
    undivided = got["obs-3"]
    assert (undivided["cache_write_5m_tokens"], json.loads(undivided["attributes"])["cache_ttl_assumed"]) == (50, True)
    err = got["obs-4"]
    assert (err["status"], err["error_type"], err["http_status"], err["cost_usd"]) == ("error", "rate_limit", 429, Decimal(0))


def test_input_that_includes_cache_can_be_declared_in_config(tmp_path):
    store = open_store(tmp_path / "l.duckdb", Config(ingest={"langfuse": {"input_includes_cache": True}}))
    lines = (SRC / "langfuse_observations.jsonl").read_text().splitlines()
    obs = json.loads(lines[0])
    obs["usage_details"]["input"] = 4000  # 1000 + 2000 read + 400 + 600 written
    path = tmp_path / "obs.jsonl"
    path.write_text(json.dumps(obs) + "\n")
    ingest_paths(store, [str(path)])
    assert store.scalar("select input_tokens from requests") == 1000
    store.close()


def test_bad_observations_are_rejected_with_line_and_reason(store):
    result = ingest_paths(store, [str(SRC / "langfuse_bad.jsonl")]).files[0]
    assert (result.rows_added, result.rows_rejected) == (2, 5)
    reasons = dict(store.rows("select line, reason from rejects"))
    assert reasons[2] == "no timestamp"
    assert reasons[3].startswith("input_tokens is not a whole number: x")
    assert reasons[4] == "not valid JSON"
    assert "another format mixed in" in reasons[6]
    assert reasons[7].startswith("no usage")
    assert dict(store.rows("select request_id, priced from costed_requests")) == {"lb-1": True, "lb-4": False}
