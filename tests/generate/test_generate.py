"""The log generator: deterministic, the right shape in every format, and realistic where it matters
(tier mix, token semantics, errors, retries). Small n throughout; timings live in benchmarks/."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from costlab.generate import FORMATS, US_RESIDENCY, generate, generate_frame, generate_sql
from costlab.schema import COLUMN_NAMES, COLUMN_TYPES

SUFFIX = {
    "anthropic": "jsonl",
    "batch": "jsonl",
    "canonical-csv": "csv",
    "canonical-jsonl": "jsonl",
    "canonical-parquet": "parquet",
}
N = 3001  # odd: the last pair of rows has no second member
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")

# The envelope as docs/formats.md shows it.
ENVELOPE_KEYS = {"timestamp", "request_id", "platform", "request", "response", "error", "status_code",
                 "latency_ms", "ttft_ms", "metadata"}
METADATA_KEYS = {"feature", "user_id", "customer_id", "session_id", "trace_id", "parent_request_id", "attempt",
                 "feedback_score"}
USAGE_KEYS = {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
              "cache_creation", "server_tool_use", "service_tier", "speed", "inference_geo"}
API_ERROR = {"rate_limit": ("rate_limit_error", 429), "overloaded": ("overloaded_error", 529),
             "api_error": ("api_error", 500), "timeout": ("timeout_error", 504),
             "invalid_request": ("invalid_request_error", 400), "context_exceeded": ("invalid_request_error", 400)}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lines(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """One file per format, seed 1, N rows."""
    root = tmp_path_factory.mktemp("generated")
    out = {}
    for fmt in FORMATS:
        path = root / f"{fmt}.{SUFFIX[fmt]}"
        assert generate(path, N, seed=1, fmt=fmt) == N
        out[fmt] = path
    return out


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return generate_frame(20_000, seed=3)


@pytest.fixture(scope="module")
def envelope(files) -> list[dict]:
    return _lines(files["anthropic"])


# -- determinism and counts ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_same_seed_gives_identical_bytes_in_every_format(files, tmp_path, fmt):
    again = tmp_path / f"again.{SUFFIX[fmt]}"
    generate(again, N, seed=1, fmt=fmt, threads=1)  # the thread count must not matter either
    assert _sha(again) == _sha(files[fmt])


def test_a_different_seed_gives_different_rows(files, tmp_path):
    other = tmp_path / "other.jsonl"
    generate(other, N, seed=2)
    assert _sha(other) != _sha(files["anthropic"])


def test_frames_are_deterministic_too():
    a = generate_frame(7, seed=9)
    assert a.height == 7
    assert a.equals(generate_frame(7, seed=9))


@pytest.mark.parametrize("n", [0, 1])
def test_row_counts_are_exact(tmp_path, n):
    path = tmp_path / "x.jsonl"
    assert generate(path, n, seed=4) == n
    assert len(path.read_text(encoding="utf-8").splitlines()) == n


def test_every_format_writes_n_records(files):
    assert len(_lines(files["anthropic"])) == N
    assert len(_lines(files["batch"])) == N
    assert len(_lines(files["canonical-jsonl"])) == N
    assert pl.read_parquet(files["canonical-parquet"]).height == N
    with open(files["canonical-csv"], newline="", encoding="utf-8") as fh:
        assert sum(1 for _ in csv.reader(fh)) == N + 1  # header


def test_gz_path_is_gzipped_with_the_same_lines(files, tmp_path):
    path = tmp_path / "logs.jsonl.gz"
    generate(path, N, seed=1)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(path.read_bytes()) == files["anthropic"].read_bytes()


def test_bad_arguments_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        generate(tmp_path / "x", 10, fmt="xml")
    with pytest.raises(ValueError, match="mix"):
        generate_sql(10, mix=(0.5, 0.5))
    with pytest.raises(ValueError, match="unknown tier"):
        generate_sql(10, mix={"haiku": 1, "gpt": 1})
    with pytest.raises(ValueError, match="n must be"):
        generate_sql(-1)


# -- the canonical schema -----------------------------------------------------------------------------

def test_canonical_files_have_exactly_the_schema_columns(files):
    with open(files["canonical-csv"], newline="", encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == COLUMN_NAMES
    assert tuple(pl.read_parquet(files["canonical-parquet"]).columns) == COLUMN_NAMES
    for record in _lines(files["canonical-jsonl"])[:50]:
        assert tuple(record) == COLUMN_NAMES


def test_generated_sql_has_the_schema_types():
    import duckdb

    con = duckdb.connect()
    con.execute("create table expected (" + ", ".join(f"{c} {t}" for c, t in COLUMN_TYPES.items()) + ")")
    expected = [row[:2] for row in con.sql("describe expected").fetchall()]
    assert [row[:2] for row in con.sql(f"describe {generate_sql(10, seed=1)}").fetchall()] == expected


def test_generated_rows_insert_into_a_store_and_are_all_priced(store):
    store.execute(f"insert into requests by name {generate_sql(4000, seed=5)}")
    total, unpriced, cost = store.rows(
        "select count(*), count(*) filter (where not priced), sum(cost_usd) from costed_requests")[0]
    assert (total, unpriced) == (4000, 0)
    assert cost > 0


def test_csv_attributes_are_a_json_object(files):
    with open(files["canonical-csv"], newline="", encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    assert json.loads(row["attributes"])["synthetic"] is True


# -- token semantics and errors ---------------------------------------------------------------------

def test_token_counts_are_never_negative_or_missing(frame):
    for col in TOKENS + ("web_search_requests", "web_fetch_requests"):
        assert frame[col].null_count() == 0, col
        assert frame[col].min() >= 0, col


def test_input_tokens_exclude_cache_tokens(frame):
    ok = frame.filter(pl.col("status") == "ok")
    assert ok["input_tokens"].min() >= 1
    cached = ok.filter(pl.col("cache_read_tokens") > 0)
    # A cache hit on the stable prefix: the uncached remainder is reported apart from the read.
    assert cached.height > 0.1 * ok.height
    assert ok.filter(pl.col("cache_write_5m_tokens") > 0).height > 0
    assert ok.filter(pl.col("cache_write_1h_tokens") > 0).height > 0
    hits_without_search = cached.filter(pl.col("web_search_requests") == 0)
    assert (hits_without_search["input_tokens"] < hits_without_search["cache_read_tokens"]).mean() > 0.5


def test_envelope_usage_splits_cache_writes_by_ttl(envelope):
    for line in envelope:
        if line["response"] is None:
            continue
        usage = line["response"]["usage"]
        split = usage["cache_creation"]
        assert usage["cache_creation_input_tokens"] == (
            split["ephemeral_5m_input_tokens"] + split["ephemeral_1h_input_tokens"])
        assert min(usage["input_tokens"], usage["output_tokens"], usage["cache_read_input_tokens"]) >= 0


def test_every_error_row_has_zero_tokens_and_no_ttft(frame):
    errors = frame.filter(pl.col("status") == "error")
    assert errors.height > 0
    assert errors.select(pl.sum_horizontal(*TOKENS, "web_search_requests").max()).item() == 0
    assert errors["ttft_ms"].null_count() == errors.height
    assert errors["stop_reason"].null_count() == errors.height
    assert set(errors["error_type"].unique()) <= set(API_ERROR)
    assert frame.filter(pl.col("status") == "ok")["error_type"].null_count() == frame.filter(
        pl.col("status") == "ok").height


def test_envelope_errors_have_no_response_and_the_api_error_body(envelope):
    errors = [line for line in envelope if line["error"] is not None]
    assert errors
    for line in errors:
        assert line["response"] is None
        assert line["error"]["type"] == "error"
        assert line["error"]["request_id"] == line["request_id"]
        assert line["status_code"] in {status for _, status in API_ERROR.values()}
    for line in envelope:
        assert (line["response"] is None) == (line["error"] is not None)


def test_context_exceeded_comes_from_runaway_prompts(frame):
    exceeded = frame.filter(pl.col("error_type") == "context_exceeded")
    assert exceeded.height > 0
    assert set(exceeded["feature"].unique()) <= {"chat-assistant", "doc-summarize", "code-review", "research-agent"}


# -- the envelope and batch shapes ------------------------------------------------------------------

def test_envelope_lines_have_the_documented_keys(envelope):
    for line in envelope:
        assert set(line) == ENVELOPE_KEYS
        assert set(line["metadata"]) == METADATA_KEYS
        assert {"model", "max_tokens", "messages", "system"} <= set(line["request"])
        assert line["request"]["messages"][0]["role"] == "user"
        assert line["timestamp"].endswith("Z") and line["request_id"].startswith("req_")
        if line["response"] is not None:
            response = line["response"]
            assert response["type"] == "message" and response["id"].startswith("msg_")
            assert response["model"] == line["request"]["model"]
            assert set(response["usage"]) == USAGE_KEYS
            assert line["status_code"] == 200


def test_envelope_is_in_time_order(envelope):
    stamps = [line["timestamp"] for line in envelope]
    assert stamps == sorted(stamps)


def test_payloads_false_leaves_out_the_bodies(tmp_path):
    path = tmp_path / "bare.jsonl"
    generate(path, 200, seed=1, payloads=False)
    for line in _lines(path):
        assert set(line["request"]) == {"model", "max_tokens"}
        if line["response"] is not None:
            assert line["response"]["content"] == []


def test_batch_results_are_batch_tier_and_in_the_four_result_types(files):
    results = _lines(files["batch"])
    assert len({r["custom_id"] for r in results}) == N
    kinds = {r["result"]["type"] for r in results}
    assert kinds <= {"succeeded", "errored", "canceled", "expired"}
    assert "succeeded" in kinds
    for r in results:
        if r["result"]["type"] == "succeeded":
            assert r["result"]["message"]["usage"]["service_tier"] == "batch"
            assert r["result"]["message"]["usage"]["speed"] == "standard"
        elif r["result"]["type"] == "errored":
            assert r["result"]["error"]["type"] == "error"


# -- realism -----------------------------------------------------------------------------------------

def test_first_attempt_tier_mix_matches_the_default(frame):
    first = frame.filter(pl.col("attempt") == 1)
    share = first["model"].value_counts(normalize=True).to_dict(as_series=False)
    got = dict(zip(share["model"], share["proportion"]))
    assert got["claude-haiku-5-5"] == pytest.approx(0.60, abs=0.02)
    assert got["claude-sonnet-5-5"] == pytest.approx(0.32, abs=0.02)
    assert got["claude-opus-5-5"] == pytest.approx(0.08, abs=0.01)


def test_a_configured_mix_and_models_are_honoured():
    frame = generate_frame(10_000, seed=2, mix={"haiku": 0.7, "sonnet": 0.25, "opus": 0.05},
                           models=("h-model", "s-model", "o-model"))
    first = frame.filter(pl.col("attempt") == 1)
    assert set(first["model"].unique()) == {"h-model", "s-model", "o-model"}
    assert (first["model"] == "h-model").mean() == pytest.approx(0.70, abs=0.02)
    assert (first["model"] == "o-model").mean() == pytest.approx(0.05, abs=0.01)


def test_features_keep_their_own_tier_preference(frame):
    haiku = frame.group_by("feature").agg((pl.col("model") == "claude-haiku-5-5").mean().alias("haiku"))
    share = dict(zip(haiku["feature"], haiku["haiku"]))
    assert len(share) == 12
    assert share["moderation"] > 0.9 and share["research-agent"] < 0.15


def test_rate_limits_are_concentrated_on_opus(frame):
    rate = frame.group_by("model").agg(pl.col("error_type").eq_missing("rate_limit").mean().alias("r"))
    r = dict(zip(rate["model"], rate["r"]))
    assert r["claude-opus-5-5"] > 5 * r["claude-haiku-5-5"]


def test_retries_point_at_an_earlier_request_in_the_same_trace(frame):
    retries = frame.filter(pl.col("parent_request_id").is_not_null())
    assert retries.height > 0.01 * frame.height
    assert (retries["attempt"] == 2).all()
    joined = retries.join(frame, left_on="parent_request_id", right_on="request_id", suffix="_parent")
    assert joined.height == retries.height
    assert (joined["ts"] > joined["ts_parent"]).all()
    assert (joined["trace_id"] == joined["trace_id_parent"]).all()
    assert (joined["feature"] == joined["feature_parent"]).all()
    escalations = joined.filter(pl.col("model_parent") == "claude-haiku-5-5")
    assert escalations.height > 0 and (escalations["model"] == "claude-sonnet-5-5").all()
    assert (joined.filter(pl.col("model_parent") != "claude-haiku-5-5")["model"]
            == joined.filter(pl.col("model_parent") != "claude-haiku-5-5")["model_parent"]).all()


def test_batch_fast_and_residency_appear_only_where_they_should(frame):
    batch = frame.filter(pl.col("service_tier") == "batch")
    assert batch.height > 0
    assert set(batch["feature"].unique()) <= {"doc-summarize", "invoice-extract", "translate", "nightly-digest"}
    assert batch["latency_ms"].null_count() == batch.height
    fast = frame.filter(pl.col("speed") == "fast")
    assert 0 < fast.height < 0.02 * frame.height
    assert set(fast["model"].unique()) == {"claude-opus-5-5"}
    assert set(frame.filter(pl.col("inference_geo") == "us")["customer_id"].unique()) <= set(US_RESIDENCY)


def test_users_customers_and_time_look_like_production(frame):
    assert 1000 < frame["user_id"].n_unique() <= 2000
    assert 30 <= frame["customer_id"].n_unique() <= 40
    per_user = frame["user_id"].value_counts()["count"].sort(descending=True)
    assert per_user[:20].sum() > 0.08 * frame.height  # the top 1% of users are heavy
    days = frame.with_columns(pl.col("ts").dt.weekday().alias("dow")).group_by("dow").len()
    by_day = dict(zip(days["dow"], days["len"]))
    assert by_day[3] > 2 * by_day[7]  # Wednesday vs Sunday
    hours = frame.with_columns(pl.col("ts").dt.hour().alias("h")).group_by("h").len()
    by_hour = dict(zip(hours["h"], hours["len"]))
    assert by_hour[16] > 3 * by_hour[0]
    assert frame["ts"].min().isoformat().startswith("2026-11-02")
    assert frame["ts"].max().isoformat().startswith("2026-11-15")
