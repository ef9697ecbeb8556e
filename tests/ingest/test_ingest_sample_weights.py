"""Sampled logs: sample_weight from the log's own column, --sample-rate, [ingest] and [ingest.<source>]
sample_rate; bad weights are rejects; the starter queries and the cost summary weight every sum."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costlab import summary
from costlab.config import Config
from costlab.errors import ConfigError
from costlab.ingest import ingest_paths
from costlab.ingest.pipeline import weight_of_rate

HEADER = "request_id,ts,model,feature,user_id,input_tokens,output_tokens,status"


def _log(path, rows: int, start: int = 0) -> str:
    # claude-sonnet-5-5: $2 input, $10 output per MTok. 1,000 in + 100 out = $0.002 + $0.001 = $0.003.
    lines = [HEADER] + [f"r{i},2026-11-10T10:{i % 60:02d}:00Z,claude-sonnet-5-5,tagger,u{i % 3},1000,100,ok"
                        for i in range(start, start + rows)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_sample_rate_flag_weights_each_row_as_one_over_the_rate(store, tmp_path):
    summary_ = ingest_paths(store, [_log(tmp_path / "a.csv", 10)], sample_rate="0.001")
    assert summary_.files[0].rows_added == 10
    assert store.rows("select distinct sample_weight from requests") == [(Decimal("1000"),)]
    assert any("stand for 10,000 requests" in n for n in summary_.files[0].notes)


def test_sample_rate_accepts_one_over_n_and_refuses_a_rate_above_one(store, tmp_path):
    assert weight_of_rate("1/1250", "--sample-rate") == Decimal("1250")
    assert weight_of_rate(0.03, "x") == Decimal("33.333333")
    for bad in ("2", "0", "-0.1", "nan", "inf", "abc"):
        with pytest.raises(ConfigError, match="sampling rate"):
            ingest_paths(store, [_log(tmp_path / "b.csv", 1)], sample_rate=bad)


def test_a_logs_own_sample_weight_wins_over_the_flag_and_bad_weights_are_rejects(store, tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("request_id,ts,model,input_tokens,output_tokens,sample_weight\n"
                    "a,2026-11-10T10:00:00Z,claude-sonnet-5-5,1000,100,\n"
                    "b,2026-11-10T10:00:00Z,claude-sonnet-5-5,1000,100,250\n"
                    "c,2026-11-10T10:00:00Z,claude-sonnet-5-5,1000,100,0\n"
                    "d,2026-11-10T10:00:00Z,claude-sonnet-5-5,1000,100,-3\n"
                    "e,2026-11-10T10:00:00Z,claude-sonnet-5-5,1000,100,inf\n"
                    "f,2026-11-10T10:00:00Z,claude-sonnet-5-5,1000,100,lots\n")
    ingest_paths(store, [str(path)], sample_rate="0.01")
    assert store.rows("select request_id, sample_weight from requests order by 1") == [
        ("a", Decimal("100")), ("b", Decimal("250"))]
    reasons = [r[0] for r in store.rows("select reason from rejects order by line")]
    assert len(reasons) == 4
    assert all("sample_weight must be a positive, finite number" in r for r in reasons[:3])
    assert reasons[3] == "sample_weight is not a number: lots"


def test_config_sample_rate_per_source_and_default(new_store, tmp_path):
    config = Config(ingest={"sample_rate": 0.5, "canonical": {"sample_rate": "1/1000"}},
                    mappings={"m": {"columns": {"ts": "ts", "request_id": "request_id", "model": "model",
                                                "input_tokens": "input_tokens", "output_tokens": "output_tokens"}}})
    with new_store(tmp_path / "s.duckdb") as store:
        store.config = config
        ingest_paths(store, [_log(tmp_path / "c.csv", 2)])  # canonical: the source's own rate
        ingest_paths(store, [_log(tmp_path / "m.csv", 2, start=10)], fmt="mapping:m")  # the [ingest] default
        assert store.rows("select source, sum(sample_weight) from requests group by 1 order by 1") == [
            ("canonical", Decimal("2000")), ("m", Decimal("4"))]


def test_a_mapping_expression_sets_the_weight(new_store, tmp_path):
    config = Config(mappings={"m": {"columns": {"ts": "ts", "request_id": "request_id", "model": "model",
                                                "input_tokens": "input_tokens", "output_tokens": "output_tokens",
                                                "sample_weight": "case when feature = 'tagger' then 20 end"}}})
    with new_store(tmp_path / "s.duckdb") as store:
        store.config = config
        ingest_paths(store, [_log(tmp_path / "m.csv", 3)], fmt="mapping:m")
        assert store.scalar("select sum(sample_weight) from requests") == Decimal("60")


def test_summary_and_starter_queries_weight_a_one_in_1000_sample(store, tmp_path):
    # 12 rows of a 1-in-1,000 sample: 12,000 requests, 12,000,000 input and 1,200,000 output tokens,
    # 12,000 x $0.003 = $36.
    ingest_paths(store, [_log(tmp_path / "a.csv", 12)], sample_rate="0.001")
    tier = summary.cost_summary(store)["tier"].filter(summary.pl.col("tier") == "total").row(0, named=True)
    assert (tier["requests"], tier["input_tokens"], tier["output_tokens"]) == (12_000, 12_000_000, 1_200_000)
    assert tier["cost_usd"] == Decimal("36")
    feature = store.run_query("cost_by_feature").row(0, named=True)
    assert (feature["requests"], feature["cost_usd"], feature["avg_cost_usd"]) == (12_000, Decimal("36"), Decimal("0.003"))
    user = store.run_query("cost_by_user").sort("user_id").row(0, named=True)
    assert (user["user_id"], user["requests"], user["cost_usd"]) == ("u0", 4_000, Decimal("12"))
