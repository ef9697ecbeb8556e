"""Ingest: every format lands in the canonical schema with Anthropic token semantics; bad records are
quarantined with file, line and reason; re-runs and overlaps add nothing; each file is all or nothing."""

from __future__ import annotations

import gzip
import json
import shutil
from decimal import Decimal

import pytest

from costlab.config import Config, load_config
from costlab.errors import ConfigError, InputError
from costlab.ingest import ingest_paths
from costlab.open import open_store

from helpers import EXAMPLES, FIXTURES

ING = FIXTURES / "ingest"


def one(store, path, **kw):
    summary = ingest_paths(store, [str(path)], **kw)
    assert len(summary.files) == 1
    return summary.files[0]


def row(store, request_id):
    frame = store.frame("select * from costed_requests where request_id = $id", {"id": request_id})
    assert frame.height == 1, f"expected one row for {request_id}, got {frame.height}"
    return frame.to_dicts()[0]


def test_envelope_success_keeps_anthropic_token_semantics_and_the_ttl_split(store):
    result = one(store, ING / "envelope.jsonl")
    assert (result.format, result.rows_read, result.rows_added, result.rows_rejected) == ("anthropic", 5, 5, 0)
    r = row(store, "msg_01A")
    assert (r["input_tokens"], r["output_tokens"], r["cache_read_tokens"]) == (1000, 100, 2000)
    assert (r["cache_write_5m_tokens"], r["cache_write_1h_tokens"]) == (1000, 2000)
    assert (r["feature"], r["user_id"], r["customer_id"], r["session_id"], r["trace_id"]) == ("triage", "u1", "acme", "s1", "t1")
    assert (r["attempt"], r["feedback_score"], r["latency_ms"], r["ttft_ms"]) == (1, 0.9, 900.5, 210.0)
    assert (r["status"], r["http_status"], r["stop_reason"], r["platform"]) == ("ok", 200, "end_turn", "anthropic")
    # 1000*2 + 100*10 + 1000*2.5 + 2000*4 + 2000*0.10 micro-dollars (Sonnet 5.5 after the 2026-10-07 cut)
    assert r["cost_usd"] == Decimal("0.013700000")
    assert json.loads(r["attributes"])["team"] == "support"  # the metadata object is the attributes


def test_envelope_errors_map_to_short_error_types_with_zero_tokens(store):
    one(store, ING / "envelope.jsonl")
    got = {r["request_id"]: (r["status"], r["error_type"], r["http_status"], r["model"], r["input_tokens"], r["cost_usd"])
           for r in store.frame("select * from costed_requests where status = 'error'").to_dicts()}
    assert got == {
        "req_01B": ("error", "rate_limit", 429, "claude-opus-5-5", 0, Decimal(0)),
        "req_01C": ("error", "context_exceeded", 400, "claude-haiku-5-5", 0, Decimal(0)),
        "req_01D": ("error", "overloaded", 529, "claude-opus-5-5", 0, Decimal(0)),
    }


def test_undivided_cache_writes_count_as_5m_and_say_so_and_raw_model_is_kept(store):
    one(store, ING / "envelope.jsonl")
    r = row(store, "msg_01E")
    assert (r["model"], r["cache_write_5m_tokens"], r["cache_write_1h_tokens"]) == ("claude-haiku-5-5", 50, 0)
    attrs = json.loads(r["attributes"])
    assert attrs["cache_ttl_assumed"] is True
    assert attrs["model_raw"] == "global.anthropic.claude-haiku-5-5"
    assert (r["parent_request_id"], r["attempt"]) == ("msg_01A", 2)


def test_payloads_hold_request_bodies_and_response_text_unless_disabled(new_store, store, tmp_path):
    one(store, ING / "envelope.jsonl")
    p = store.frame("select * from payloads where request_id = 'msg_01A'").to_dicts()[0]
    assert json.loads(p["request_json"])["messages"][0]["content"] == "Classify: my invoice is wrong"
    assert p["response_text"] == "billing"
    other = new_store(tmp_path / "nopayloads.duckdb")
    one(other, ING / "envelope.jsonl", payloads=False)
    assert other.scalar("select count(*) from payloads") == 0
    assert other.scalar("select count(*) from requests") == 5
    other.close()


def test_plain_message_lines_use_created_at_or_the_file_time_and_say_so(store):
    result = one(store, ING / "messages.jsonl")
    assert result.format == "anthropic-message" and result.rows_added == 2
    assert any("modification time" in n for n in result.notes)
    a, b = row(store, "msg_02A"), row(store, "msg_02B")
    assert a["model"] == b["model"] == "claude-haiku-4-5"  # the dated snapshot bills as its alias
    assert json.loads(a["attributes"])["ts_source"] == "file_mtime"
    assert str(b["ts"]).startswith("2026-11-10 10:00:00")


def test_batch_results_are_batch_tier_at_half_price_and_failures_are_kept_unbilled(store):
    result = one(store, ING / "batch_results.jsonl")
    assert (result.format, result.rows_added, result.rows_rejected) == ("batch", 5, 0)
    ok = store.frame("select request_id, service_tier, cost_usd from costed_requests where status = 'ok' order by 1").to_dicts()
    # 10,000 in at $2 and 1,000 out at $10 per MTok, halved: 10,000 + 5,000 micro-dollars
    assert ok == [{"request_id": "msg_03A", "service_tier": "batch", "cost_usd": Decimal("0.015")},
                  {"request_id": "msg_03E", "service_tier": "batch", "cost_usd": Decimal("0.015")}]
    kinds = sorted(store.frame("select error_type from requests where status = 'error'")["error_type"].to_list())
    assert kinds == ["batch_errored", "canceled", "expired"]
    customs = sorted(json.loads(a)["custom_id"] for a in store.frame("select attributes from requests")["attributes"])
    assert customs == ["job-1", "job-2", "job-3", "job-4", "job-5"]


def test_bad_json_lines_are_quarantined_with_exact_line_and_reason_and_good_rows_kept(store):
    result = one(store, ING / "bad_lines.jsonl")
    assert (result.rows_read, result.rows_added, result.rows_rejected) == (8, 2, 6)
    assert sorted(store.frame("select request_id from requests")["request_id"]) == ["msg_04A", "msg_04G"]
    rejects = {r["line"]: r["reason"] for r in store.frame("select line, reason from rejects").to_dicts()}
    assert rejects == {
        2: "input_tokens is not a whole number: many; negative output_tokens: -5",
        4: "input_tokens is not a whole number: 1.5",  # line 3 is blank and still counted
        5: "not valid JSON",
        6: "ts is not a timestamp: not a time",
        7: "the response has no usage object: its cost cannot be known",
        8: "service_tier must be one of standard/batch/priority, not turbo",
    }
    assert store.scalar("select raw from rejects where line = 5") == "this line is not JSON"
    assert store.scalar("select rows_rejected from ingests") == 6


def test_canonical_csv_keeps_unknown_columns_and_rejects_malformed_rows_by_line(store):
    result = one(store, ING / "canonical.csv")
    assert (result.format, result.rows_read, result.rows_added, result.rows_rejected) == ("canonical-csv", 7, 3, 4)
    rejects = {r["line"]: r["reason"] for r in store.frame("select line, reason from rejects").to_dicts()}
    assert rejects == {
        4: "input_tokens is not a whole number: oops",
        5: "malformed CSV row: Expected Number of Columns: 10 Found: 5",
        6: "malformed CSV row: Expected Number of Columns: 10 Found: 11",
        7: "negative input_tokens: -1",
    }
    r = row(store, "c2")
    assert (r["model"], r["source"], r["service_tier"]) == ("claude-opus-5-5", "canonical", "standard")
    assert json.loads(r["attributes"])["extra"] == {"team_extra": "red"}


def test_canonical_parquet_and_jsonl_round_trip_an_exported_store(new_store, store, tmp_path):
    one(store, ING / "envelope.jsonl")
    store.execute(f"copy (select * exclude (ingest_id) from requests) to '{tmp_path / 'out.parquet'}' (format parquet)")
    store.execute(f"copy (select * exclude (ingest_id) from requests) to '{tmp_path / 'out.jsonl'}' (format json)")
    expected = store.frame("select * exclude (ingest_id, attributes) from requests order by request_id")
    for name in ("out.parquet", "out.jsonl"):
        other = new_store(tmp_path / f"{name}.duckdb")
        result = one(other, tmp_path / name)
        assert result.format == ("canonical-parquet" if name.endswith("parquet") else "canonical-jsonl")
        assert (result.rows_added, result.rows_rejected) == (5, 0)
        got = other.frame("select * exclude (ingest_id, attributes) from requests order by request_id")
        assert got.equals(expected), name
        other.close()


def test_reingesting_a_file_adds_nothing_and_says_how_many_are_present(store):
    first = one(store, ING / "envelope.jsonl")
    again = one(store, ING / "envelope.jsonl")
    assert first.rows_added == 5
    assert (again.skipped, again.rows_added, again.rows_present) == (True, 0, 5)
    assert store.scalar("select count(*) from requests") == 5


def test_overlapping_files_add_only_the_new_requests(store, tmp_path):
    lines = (ING / "envelope.jsonl").read_text().splitlines()
    (tmp_path / "a.jsonl").write_text("\n".join(lines[:3]) + "\n")
    (tmp_path / "b.jsonl").write_text("\n".join(lines[1:]) + "\n")
    a, b = one(store, tmp_path / "a.jsonl"), one(store, tmp_path / "b.jsonl")
    assert (a.rows_added, a.rows_present) == (3, 0)
    assert (b.rows_added, b.rows_present) == (2, 2)
    assert store.scalar("select count(distinct request_id) from requests") == store.scalar("select count(*) from requests") == 5


def test_rows_without_ids_get_stable_hashes_so_reingest_is_idempotent(store, tmp_path):
    text = (ING / "envelope.jsonl").read_text()
    (tmp_path / "x.csv").write_text("ts,model,input_tokens,output_tokens\n2026-11-16 08:00:00,claude-haiku-5-5,10,5\n"
                                    "2026-11-16 08:00:00,claude-haiku-5-5,10,5\n2026-11-16 08:00:01,claude-haiku-5-5,10,5\n")
    (tmp_path / "y.csv").write_text((tmp_path / "x.csv").read_text() + "2026-11-16 08:00:02,claude-haiku-5-5,1,1\n")
    assert one(store, tmp_path / "x.csv").rows_added == 3  # two identical rows are two requests
    y = one(store, tmp_path / "y.csv")
    assert (y.rows_added, y.rows_present) == (1, 3)
    assert text  # fixture is readable


def test_gzip_is_read_directly_and_a_truncated_gzip_is_one_clear_error(new_store, store, tmp_path):
    data = (ING / "envelope.jsonl").read_bytes()
    (tmp_path / "e.jsonl.gz").write_bytes(gzip.compress(data))
    assert one(store, tmp_path / "e.jsonl.gz").rows_added == 5
    big = b"".join(data for _ in range(200))
    blob = gzip.compress(big)
    (tmp_path / "cut.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    other = new_store(tmp_path / "cut.duckdb")
    result = one(other, tmp_path / "cut.jsonl.gz")
    assert result.error and "cut.jsonl.gz" in result.error
    assert "gzip" in result.error.lower() or "truncated" in result.error.lower()
    assert other.scalar("select count(*) from requests") == 0  # all or nothing
    other.close()


@pytest.mark.parametrize("name, words", [("picture.png", "binary file"), ("empty.jsonl", "empty")])
def test_a_file_that_is_no_log_gets_one_error_naming_it_and_the_formats(store, name, words):
    result = one(store, ING / name)
    assert result.error.startswith(f"{ING / name}: ")
    assert words in result.error and "Message Batches" in result.error and "mapping" in result.error


def test_one_bad_file_does_not_stop_the_good_ones(store):
    summary = ingest_paths(store, [str(ING / "picture.png"), str(ING / "envelope.jsonl")])
    assert [f.error is None for f in summary.files] == [False, True]
    assert [f.file for f in summary.failed] == [str(ING / "picture.png")]
    assert store.scalar("select count(*) from requests") == 5


def test_folders_and_globs_expand_to_log_files_only(store, tmp_path):
    (tmp_path / "logs" / "day1").mkdir(parents=True)
    shutil.copy(ING / "envelope.jsonl", tmp_path / "logs" / "day1" / "a.jsonl")
    shutil.copy(ING / "messages.jsonl", tmp_path / "logs" / "b.jsonl")
    (tmp_path / "logs" / "README.md").write_text("not a log")
    summary = ingest_paths(store, [str(tmp_path / "logs")])
    assert sorted(p.file.rsplit("/", 1)[-1] for p in summary.files) == ["a.jsonl", "b.jsonl"]
    globbed = ingest_paths(store, [str(tmp_path / "logs" / "**" / "*.jsonl")])
    assert all(f.skipped for f in globbed.files) and len(globbed.files) == 2
    with pytest.raises(InputError, match="no files match"):
        ingest_paths(store, [str(tmp_path / "nothing-*.jsonl")])


def test_explicit_format_overrides_detection_and_bad_format_is_a_usage_error(store):
    assert one(store, ING / "envelope.jsonl", fmt="anthropic").format == "anthropic"
    with pytest.raises(ConfigError, match="expected one of"):
        ingest_paths(store, [str(ING / "messages.jsonl")], fmt="litellm-ish")


def test_metadata_keys_can_be_renamed_in_config(tmp_path):
    (tmp_path / "e.jsonl").write_text(json.dumps({
        "timestamp": "2026-11-16T09:00:00Z", "status_code": 200,
        "response": {"id": "msg_r", "type": "message", "model": "claude-haiku-5-5", "content": [],
                     "usage": {"input_tokens": 1, "output_tokens": 1}},
        "metadata": {"route": "/v1/search", "end_user": "alice"}}) + "\n")
    s = open_store(tmp_path / "m.duckdb", Config(ingest={"metadata": {"feature": "route", "user_id": "end_user"}}))
    one(s, tmp_path / "e.jsonl")
    assert s.frame("select feature, user_id from requests").to_dicts() == [{"feature": "/v1/search", "user_id": "alice"}]
    s.close()
    with pytest.raises(ConfigError, match="Did you mean 'feature'"):
        s2 = open_store(tmp_path / "m2.duckdb", Config(ingest={"metadata": {"featur": "route"}}))
        try:
            ingest_paths(s2, [str(tmp_path / "e.jsonl")])
        finally:
            s2.close()


def test_azure_trace_example_mapping_assigns_tiers_and_prices_every_row(tmp_path, monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    config = load_config(EXAMPLES / "costlab.toml")
    s = open_store(tmp_path / "azure.duckdb", config)
    summary = ingest_paths(s, [str(EXAMPLES / "azure_llm_2023")])
    got = {f.format: (f.rows_read, f.rows_added, f.rows_rejected) for f in summary.files}
    assert got == {"mapping:azure_code": (8819, 8819, 0), "mapping:azure_conv": (19366, 19366, 0)}
    by = {r["feature"]: r for r in s.frame(
        "select feature, any_value(model) model, count(*) n, count(*) filter (where not priced) unpriced, "
        "min(ts)::DATE::VARCHAR first_day, sum(input_tokens) i from costed_requests group by all").to_dicts()}
    assert by["code-completion"]["model"] == "claude-haiku-5-5" and by["conversation"]["model"] == "claude-sonnet-5-5"
    assert by["code-completion"]["unpriced"] == by["conversation"]["unpriced"] == 0
    assert by["code-completion"]["first_day"] == "2026-11-19"  # shifted 1,099 days, Thursday to Thursday
    raw = s.scalar("select sum(ContextTokens) from read_csv($f)", {"f": str(EXAMPLES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv")})
    assert by["code-completion"]["i"] == raw
    s.close()


def test_a_mapping_naming_an_unknown_column_is_a_config_error(tmp_path):
    (tmp_path / "t.csv").write_text("when,tok\n2026-11-16 00:00:00,5\n")
    s = open_store(tmp_path / "bad.duckdb", Config(mappings={"mine": {"columns": {"ts": "when", "input_tokns": "tok"}}}))
    with pytest.raises(ConfigError, match="'input_tokns' is not a canonical column. Did you mean 'input_tokens'"):
        one(s, tmp_path / "t.csv", fmt="mapping:mine")
    assert s.scalar("select count(*) from ingests") == 0
    s.close()


# -- the fast path (DuckDB's readers over the whole file) and the line-exact path agree -------------------

def _stored(store):
    return (store.frame("select * exclude (ingest_id) from requests order by source, request_id"),
            store.frame("select * from payloads order by source, request_id"))


@pytest.mark.parametrize("kind", ["envelope", "canonical-csv"])
def test_a_clean_file_reads_the_same_on_the_fast_path_as_on_the_line_exact_path(new_store, tmp_path, kind):
    if kind == "envelope":
        clean = (ING / "envelope.jsonl").read_text()
        bad = "this line is not JSON\n"
    else:  # every canonical column, typed values included, as costlab itself exports them
        src = new_store(tmp_path / "src.duckdb")
        one(src, ING / "envelope.jsonl")
        src.execute(f"copy (select * exclude (ingest_id) from requests) to '{tmp_path / 'x.csv'}' (header)")
        src.close()
        clean = (tmp_path / "x.csv").read_text()
        bad = "just one field\n"
    (tmp_path / "clean").write_text(clean)
    (tmp_path / "with_bad").write_text(clean + bad)  # one bad line sends the whole file to the exact path
    got = []
    for name in ("clean", "with_bad"):
        s = new_store(tmp_path / f"{name}.duckdb")
        result = one(s, tmp_path / name)
        assert (result.rows_added, result.rows_rejected) == (5, 0 if name == "clean" else 1)
        got.append(_stored(s))
        s.close()
    (fast_requests, fast_payloads), (exact_requests, exact_payloads) = got
    assert fast_requests.equals(exact_requests)
    assert fast_payloads.equals(exact_payloads)


def test_json_counts_that_are_booleans_or_fractions_are_rejected_not_read_as_numbers(new_store, store, tmp_path):
    # DuckDB's typed JSON reader would read true as 1 and round 1.5 to 2; costlab reads counts as text.
    base = json.loads((ING / "envelope.jsonl").read_text().splitlines()[0])
    lines = []
    # Text with edge spaces (a no-break space too) is trimmed, an empty string is no count: as on the exact path.
    for i, value in enumerate([True, 1.5, 7.0, "12", " 7 ", "", "\u00a08"]):
        rec = json.loads(json.dumps(base))
        rec["response"]["id"] = f"msg_t{i}"
        rec["response"]["usage"]["input_tokens"] = value
        lines.append(json.dumps(rec))
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")
    result = one(store, tmp_path / "t.jsonl")
    assert (result.rows_added, result.rows_rejected) == (5, 2)
    assert {r["line"]: r["reason"] for r in store.frame("select line, reason from rejects").to_dicts()} == {
        1: "input_tokens is not a whole number: true", 2: "input_tokens is not a whole number: 1.5"}
    assert dict(store.rows("select request_id, input_tokens from requests")) == {
        "msg_t2": 7, "msg_t3": 12, "msg_t4": 7, "msg_t5": 0, "msg_t6": 8}
    clean = tmp_path / "clean.jsonl"  # the same values without the two bad ones: the fast path reads them alike
    clean.write_text("\n".join(lines[2:]) + "\n")
    other = new_store(tmp_path / "clean.duckdb")
    assert one(other, clean).rows_added == 5
    assert other.rows("select request_id, input_tokens from requests order by 1") == store.rows(
        "select request_id, input_tokens from requests order by 1")
    other.close()


def test_csv_counts_with_fractions_are_rejected_and_whole_decimals_accepted(store, tmp_path):
    # read_csv would round "1.5" into a BIGINT column: counts are read as DOUBLE and checked whole.
    (tmp_path / "f.csv").write_text("request_id,ts,model,input_tokens,output_tokens,http_status\n"
                                    "f1,2026-11-16 08:00:00,claude-haiku-5-5,5.0,1,200\n"
                                    "f2,2026-11-16 08:00:01,claude-haiku-5-5,1.5,1,200\n"
                                    "f3,2026-11-16 08:00:02,claude-haiku-5-5,3,1,200.0\n")
    result = one(store, tmp_path / "f.csv")
    assert (result.rows_added, result.rows_rejected) == (2, 1)
    assert store.rows("select line, reason from rejects") == [(3, "input_tokens is not a whole number: 1.5")]
    assert store.rows("select request_id, input_tokens, http_status from requests order by 1") == [("f1", 5, 200), ("f3", 3, 200)]


def test_rows_without_ids_in_a_csv_with_an_id_column_are_told_apart_by_their_text(store, tmp_path):
    # Their ids hash the row as text (the same on every read path), so a file holding only the
    # second of two id-less rows finds that row, not the first.
    head = "request_id,ts,model,input_tokens,output_tokens\n"
    row_a, row_b = ",2026-11-16 08:00:00,claude-haiku-5-5,111,1\n", ",2026-11-16 08:00:01,claude-haiku-5-5,222,2\n"
    (tmp_path / "b.csv").write_text(head + "r1,2026-11-16 07:00:00,claude-haiku-5-5,1,1\n" + row_b)
    (tmp_path / "ab.csv").write_text(head + row_a + row_b)
    assert one(store, tmp_path / "b.csv").rows_added == 2
    both = one(store, tmp_path / "ab.csv")
    assert (both.rows_added, both.rows_present) == (1, 1)
    assert sorted(store.frame("select input_tokens from requests")["input_tokens"]) == [1, 111, 222]


def test_a_json_line_longer_than_duckdbs_default_object_size_is_still_read(store, tmp_path):
    first, *_ = (ING / "envelope.jsonl").read_text().splitlines()
    rec = json.loads(first)
    rec["response"]["id"] = "msg_big"
    rec["request"]["messages"][0]["content"] = "x" * (17 << 20)  # past read_json's 16 MB default
    (tmp_path / "big.jsonl").write_text(first + "\n" + json.dumps(rec) + "\n")
    result = one(store, tmp_path / "big.jsonl")
    assert (result.rows_added, result.rows_rejected) == (2, 0)
    assert store.scalar("select length(request_json->>'$.messages[0].content') from payloads where request_id = 'msg_big'") == 17 << 20
