"""Every real-world source is detected from its records (no --format needed), can be named with
--format, and a truncated gzip of any of them is one clear error naming the file, never a traceback."""

from __future__ import annotations

import gzip

import pytest

from costlab.config import Config
from costlab.ingest import detect, ingest_paths
from costlab.store import Store

from helpers import FIXTURES

SRC = FIXTURES / "sources"
DETECTED = [
    ("bedrock.jsonl", "bedrock"), ("otel.jsonl", "otel"), ("litellm_spendlogs.csv", "litellm-csv"),
    ("litellm_errorlogs.csv", "litellm-csv"), ("litellm_spendlogs.jsonl", "litellm-jsonl"),
    ("langfuse_observations.csv", "langfuse-csv"), ("langfuse_observations.jsonl", "langfuse-jsonl"),
    ("langfuse_observations.parquet", "langfuse-parquet"), ("admin_usage_report.json", "admin-report"),
    ("admin_cost_report.jsonl", "admin-report"),
]


@pytest.mark.parametrize("name, fmt", DETECTED)
def test_each_source_is_detected_from_its_records(name, fmt):
    assert detect.detect(SRC / name, Config()) == fmt


@pytest.mark.parametrize("flag, name, fmt", [
    ("litellm", "litellm_spendlogs.csv", "litellm-csv"), ("litellm", "litellm_spendlogs.jsonl", "litellm-jsonl"),
    ("langfuse", "langfuse_observations.parquet", "langfuse-parquet"), ("bedrock", "bedrock.jsonl", "bedrock"),
    ("otel", "otel.jsonl", "otel"), ("admin", "admin_usage_report.json", "admin-report"),
])
def test_format_flag_names_a_source_and_picks_its_file_kind(flag, name, fmt):
    assert detect.normalise_format(flag, SRC / name, Config()) == fmt


@pytest.mark.parametrize("name", ["bedrock.jsonl", "otel.jsonl", "litellm_spendlogs.jsonl", "langfuse_observations.jsonl"])
def test_a_truncated_gzip_of_any_source_is_one_clear_error_and_adds_nothing(new_store, tmp_path, name):
    blob = gzip.compress((SRC / name).read_bytes() * 100)
    cut = tmp_path / (name + ".gz")
    cut.write_bytes(blob[: len(blob) // 2])
    store = new_store(tmp_path / "t.duckdb")
    result = ingest_paths(store, [str(cut)]).files[0]
    assert result.error and str(cut) in result.error
    assert "gzip" in result.error.lower() or "truncated" in result.error.lower()
    assert store.scalar("select count(*) from requests") == 0
    store.close()
