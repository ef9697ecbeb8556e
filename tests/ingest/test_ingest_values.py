"""Untrusted values in logs: every bad value rejects its own row (file, line, reason), never the
whole file and never silently; what ingest repairs instead it says in the file's notes."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
import textwrap
from decimal import Decimal

import pytest

import costlab.ingest.staging
from costlab.config import Config
from costlab.ingest import ingest_paths
from costlab.ingest.counts import NOTE_CACHE_REST, NOTE_CACHE_SPLIT
from costlab.ingest.formats.anthropic import NOTE_METADATA_OTHER, NOTE_METADATA_STRING
from costlab.schema import MAX_TOKENS, MAX_TOOL_REQUESTS
from costlab.open import open_store

from helpers import FIXTURES

SRC = FIXTURES / "sources"


def one(store, path, **kw):
    summary = ingest_paths(store, [str(path)], **kw)
    assert len(summary.files) == 1
    result = summary.files[0]
    assert result.error is None, result.error
    return result


def envelope(i: int, **usage) -> dict:
    u = {"input_tokens": 10, "output_tokens": 5}
    u.update(usage)
    return {"timestamp": "2026-11-16T09:12:03Z", "request": {"model": "claude-sonnet-5-5", "messages": []},
            "response": {"id": f"msg_{i}", "type": "message", "model": "claude-sonnet-5-5",
                         "content": [{"type": "text", "text": "ok"}], "usage": u},
            "status_code": 200, "metadata": {"feature": "f"}}


def jsonl(recs) -> str:
    return "".join(json.dumps(r) + "\n" for r in recs)


def rejects(store) -> dict[int, str]:
    return dict(store.rows("select line, reason from rejects"))


def ids(store) -> list[str]:
    return sorted(r[0] for r in store.rows("select request_id from requests"))


# -- counts: 2^63 and up was stored as 0 and priced; 2^53..2^63 and 2^40 web searches failed the file

HUGE = [2**63, 2**64, 10**30, 2**60, 2**54, MAX_TOKENS + 1]


@pytest.mark.parametrize("fmt", ["envelope", "canonical-jsonl", "canonical-csv"])
def test_a_count_past_the_limit_rejects_its_row_naming_column_and_value_and_the_rest_load(store, tmp_path, fmt):
    if fmt == "envelope":
        text = jsonl([envelope(0)] + [envelope(i + 1, input_tokens=v) for i, v in enumerate(HUGE)]
                     + [envelope(99, server_tool_use={"web_search_requests": 2**40})])
        name = "t.jsonl"
    elif fmt == "canonical-jsonl":
        base = {"ts": "2026-11-16 08:00:00", "model": "claude-haiku-5-5", "output_tokens": "1"}
        recs = [{**base, "request_id": "msg_0", "input_tokens": "10"}]
        recs += [{**base, "request_id": f"msg_{i + 1}", "input_tokens": str(v)} for i, v in enumerate(HUGE)]
        recs += [{**base, "request_id": "msg_99", "input_tokens": "1", "web_search_requests": str(2**40)}]
        text, name = jsonl(recs), "t.jsonl"
    else:
        rows = ["msg_0,2026-11-16 08:00:00,claude-haiku-5-5,10,1,"]
        rows += [f"msg_{i + 1},2026-11-16 08:00:00,claude-haiku-5-5,{v},1," for i, v in enumerate(HUGE)]
        rows += [f"msg_99,2026-11-16 08:00:00,claude-haiku-5-5,1,1,{2**40}"]
        text = "request_id,ts,model,input_tokens,output_tokens,web_search_requests\n" + "\n".join(rows) + "\n"
        name = "t.csv"
    (tmp_path / name).write_text(text)
    result = one(store, tmp_path / name)
    assert (result.rows_added, result.rows_rejected) == (1, len(HUGE) + 1)
    assert ids(store) == ["msg_0"]
    first = 2 if fmt == "canonical-csv" else 1  # the CSV header is line 1
    expected = {first + 1 + i: f"input_tokens is out of range (more than {MAX_TOKENS:,}): {v}" for i, v in enumerate(HUGE)}
    expected[first + 1 + len(HUGE)] = f"web_search_requests is out of range (more than {MAX_TOOL_REQUESTS:,}): {2**40}"
    assert rejects(store) == expected
    # nothing was stored as 0 and priced
    assert store.scalar("select count(*) from requests where input_tokens = 0") == 0


def test_a_count_at_the_limit_is_stored_and_priced_without_overflow(store, tmp_path):
    usage = {k: MAX_TOKENS for k in ("input_tokens", "output_tokens", "cache_read_input_tokens")}
    usage |= {"cache_creation_input_tokens": MAX_TOKENS,
              "cache_creation": {"ephemeral_5m_input_tokens": MAX_TOKENS // 2, "ephemeral_1h_input_tokens": MAX_TOKENS // 2},
              "server_tool_use": {"web_search_requests": MAX_TOOL_REQUESTS}}
    (tmp_path / "max.jsonl").write_text(jsonl([envelope(0, **usage)]))
    result = one(store, tmp_path / "max.jsonl")
    assert (result.rows_added, result.rows_rejected) == (1, 0)
    r = store.frame("select * from costed_requests").to_dicts()[0]
    assert (r["input_tokens"], r["web_search_requests"], r["priced"]) == (MAX_TOKENS, MAX_TOOL_REQUESTS, True)
    assert Decimal(0) < r["cost_usd"] < Decimal(10**9)
    assert r["cost_usd"] == r["cost_input_usd"] + r["cost_output_usd"] + r["cost_cache_write_usd"] \
        + r["cost_cache_read_usd"] + r["cost_tools_usd"]


def _litellm_row(**usage_object) -> str:
    """The fixture's first SpendLogs row, with a usage_object of our own."""
    lines = (SRC / "litellm_spendlogs.csv").read_text().splitlines()
    header, first = next(csv.reader([lines[0]])), next(csv.reader([lines[1]]))
    rec = dict(zip(header, first))
    meta = json.loads(rec["metadata"])
    meta["usage_object"] = usage_object
    rec["metadata"] = json.dumps(meta)
    rec["prompt_tokens"] = str(usage_object.get("prompt_tokens", rec["prompt_tokens"]))
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header)
    w.writeheader()
    w.writerow(rec)
    return out.getvalue()


@pytest.mark.parametrize("bad", [2**64, 2**62, "lots"])
def test_a_source_adapter_never_reads_a_bad_cache_count_as_zero(store, tmp_path, bad):
    # prompt_tokens includes the cache: the adapter subtracts them. A cache-write total that is no
    # count (or overflows the subtraction) next to a clean 5m/1h split used to vanish (or fail the file).
    text = _litellm_row(prompt_tokens=4000, cache_read_input_tokens=2000, cache_creation_input_tokens=bad,
                        cache_creation_token_details={"ephemeral_5m_input_tokens": 400, "ephemeral_1h_input_tokens": 600})
    (tmp_path / "l.csv").write_text(text)
    result = one(store, tmp_path / "l.csv")
    assert (result.rows_read, result.rows_added, result.rows_rejected) == (1, 0, 1)
    assert f"cache_write_5m_tokens is {'not a whole number' if bad == 'lots' else 'out of range'}" in rejects(store)[2]


# -- one bad line lost the file


def test_a_line_that_is_not_utf8_rejects_that_line_only(store, tmp_path):
    lines = [json.dumps(envelope(i)).encode() for i in range(100)]
    lines[49] = lines[49].replace(b'"f"', b'"\xff\xfe"')
    (tmp_path / "u.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    result = one(store, tmp_path / "u.jsonl")
    assert (result.rows_read, result.rows_added, result.rows_rejected) == (100, 99, 1)
    assert rejects(store) == {50: "not valid UTF-8 text (re-export the file as UTF-8)"}
    assert "msg_49" not in ids(store) and "msg_50" in ids(store)


@pytest.mark.parametrize("name", ["canonical.csv", "litellm.csv"])
def test_a_csv_row_that_is_not_utf8_rejects_that_row_only(store, tmp_path, name):
    if name == "canonical.csv":
        text = "request_id,ts,model,input_tokens,output_tokens,feature\n" + "".join(
            f"c{i},2026-11-16 08:00:00,claude-haiku-5-5,{i},1,f\n" for i in range(10))
    else:
        text = (SRC / "litellm_spendlogs.csv").read_text()
    data = text.encode().splitlines(keepends=True)
    data[2] = data[2].replace(b",", b",\xff", 1)
    (tmp_path / name).write_bytes(b"".join(data))
    result = one(store, tmp_path / name)
    assert (result.rows_added, result.rows_rejected) == (result.rows_read - 1, 1)
    assert list(rejects(store)) == [3]


def test_a_line_longer_than_the_limit_rejects_that_line_and_the_lines_after_it_keep_their_numbers(new_store, 
        store, tmp_path, monkeypatch):
    # The real limit is 1 GiB (checked by hand once); a small one keeps the test fast and small.
    monkeypatch.setattr(costlab.ingest.staging, "MAX_LINE_BYTES", 8192)
    recs = [envelope(i) for i in range(5)]
    recs[1]["request"]["messages"] = [{"role": "user", "content": "x" * 20000}]
    recs[3]["response"]["usage"]["input_tokens"] = -1
    for gz in (False, True):
        s = new_store(tmp_path / f"{gz}.duckdb")
        path = tmp_path / ("long.jsonl.gz" if gz else "long.jsonl")
        path.write_bytes(gzip.compress(jsonl(recs).encode()) if gz else jsonl(recs).encode())
        result = one(s, path)
        assert (result.rows_read, result.rows_added, result.rows_rejected) == (5, 3, 2)
        assert rejects(s) == {2: "line longer than 8,192 bytes", 4: "negative input_tokens: -1"}
        assert ids(s) == ["msg_0", "msg_2", "msg_4"]
        s.close()


# A [mappings.NAME] section over JSON lines: DuckDB infers the columns its expressions name.
MAPPED_JSONL = Config(mappings={"m": {"format": "jsonl", "columns": {
    "request_id": "rid", "ts": "ts", "model": "mdl", "input_tokens": "inp", "output_tokens": "outp"}}})


def mapped(i: int, **kw) -> bytes:
    rec = {"rid": f"r{i}", "ts": "2026-11-16 09:00:00", "mdl": "claude-haiku-5-5", "inp": 10 + i, "outp": 5}
    rec.update(kw)
    return json.dumps(rec).encode()


@pytest.mark.parametrize("bad, reason", [
    (lambda line: line.replace(b"haiku", b"\xff\xfe"), "not valid UTF-8 text (re-export the file as UTF-8)"),
    (lambda line: line[:-3] + b", oops}", "not valid JSON"),
    (lambda line: line.replace(b'"mdl"', b'"pad": "' + b"x" * 10000 + b'", "mdl"'), "line longer than 8,192 bytes"),
    (lambda line: b"[1, 2, 3]", "not a JSON object"),
], ids=["not-utf8", "not-json", "too-long", "not-an-object"])
def test_a_bad_line_in_a_mapped_jsonl_file_rejects_that_line_and_the_lines_after_it_keep_their_numbers(
        tmp_path, monkeypatch, bad, reason):
    monkeypatch.setattr(costlab.ingest.staging, "MAX_LINE_BYTES", 8192)
    lines = [mapped(i) for i in range(8)]
    lines[2] = bad(lines[2])
    lines[4] = b""  # a blank line counts as a line, as an editor numbers it
    lines[6] = mapped(6, inp=-1)
    for gz in (False, True):
        s = open_store(tmp_path / f"{gz}.duckdb", MAPPED_JSONL)
        path = tmp_path / ("m.jsonl.gz" if gz else "m.jsonl")
        data = b"\n".join(lines) + b"\n"
        path.write_bytes(gzip.compress(data) if gz else data)
        result = one(s, path, fmt="mapping:m")
        assert (result.rows_read, result.rows_added, result.rows_rejected) == (7, 5, 2)
        assert rejects(s) == {3: reason, 7: "negative input_tokens: -1"}
        assert s.scalar("select raw from rejects where line = 7") == lines[6].decode()
        assert ids(s) == ["r0", "r1", "r3", "r5", "r7"]
        # Each row's own values, and the good rows' line numbers in the file, are untouched.
        assert s.rows("select request_id, input_tokens from requests order by request_id") == [
            ("r0", 10), ("r1", 11), ("r3", 13), ("r5", 15), ("r7", 17)]
        s.close()


def test_a_clean_mapped_jsonl_file_and_one_with_a_bad_line_store_the_same_rows(tmp_path):
    # The line-exact read of a mapped file infers the same columns as the whole-file read: the same
    # values, the same attributes.row, and the same ids hashed from the row where the mapping has none.
    no_ids = Config(mappings={"m": {**MAPPED_JSONL.mappings["m"], "columns": {
        k: v for k, v in MAPPED_JSONL.mappings["m"]["columns"].items() if k != "request_id"}}})
    lines = [mapped(i, extra={"k": i, "when": "2026-11-16T09:00:00Z"}) for i in range(30)]
    clean, bad = tmp_path / "clean.jsonl", tmp_path / "bad.jsonl"
    clean.write_bytes(b"\n".join(lines) + b"\n")
    bad.write_bytes(b"\n".join(lines[:10] + [b"{not json"] + lines[10:]) + b"\n")
    stored = []
    for path in (clean, bad):
        s = open_store(tmp_path / f"{path.stem}.duckdb", no_ids)
        one(s, path, fmt="mapping:m")
        stored.append(s.rows("select * exclude (ingest_id) from requests order by request_id"))
        assert all(i.startswith("h_") for i in ids(s))
        s.close()
    assert stored[0] == stored[1] and len(stored[0]) == 30


def test_a_value_of_another_type_after_the_lines_duckdb_types_a_mapped_file_from_rejects_only_its_row(tmp_path):
    # read_json types the columns from the first 20,480 records; "many" after them failed the file.
    lines = [mapped(i) for i in range(20_600)]
    lines[20_500] = mapped(20_500, inp="many")
    (tmp_path / "late.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    s = open_store(tmp_path / "late.duckdb", MAPPED_JSONL)
    result = one(s, tmp_path / "late.jsonl", fmt="mapping:m")
    assert (result.rows_read, result.rows_added, result.rows_rejected) == (20_600, 20_599, 1)
    assert rejects(s) == {20_501: 'input_tokens is not a whole number: "many"'}
    assert s.scalar("select input_tokens from requests where request_id = 'r20599'") == 10 + 20_599
    s.close()


_GZ_UNDER_A_MEMORY_CAP = textwrap.dedent("""
    import resource, sys
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    from costlab.config import Config
    from costlab.ingest import ingest_paths
    from costlab.open import open_store
    store = open_store(Path(sys.argv[1]) / "s.duckdb", Config())
    store.execute("set threads = 1")
    result = ingest_paths(store, [sys.argv[2]]).files[0]
    print(result.error or "", result.rows_added, result.rows_rejected)
""")


def test_a_gzip_file_with_a_bad_line_is_read_line_by_line_within_the_memory_of_the_uncompressed_file(tmp_path):
    # DuckDB allocates a compressed file's read buffer whole: 16 x the 1 GiB line size was 16 GiB.
    lines = [json.dumps(envelope(i)) for i in range(50)]
    lines[7] = "this line is not JSON"
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    proc = subprocess.run([sys.executable, "-c", _GZ_UNDER_A_MEMORY_CAP, str(tmp_path), str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["49", "1"], proc.stdout


# -- accepted in silence


def test_nan_infinite_or_negative_latency_and_an_impossible_http_status_are_rejected_with_a_reason(store, tmp_path):
    recs = [envelope(0), {**envelope(1), "latency_ms": "NaN"}, {**envelope(2), "latency_ms": -5},
            {**envelope(3), "ttft_ms": "Infinity"}, {**envelope(4), "ttft_ms": "-inf"},
            {**envelope(5), "status_code": -200}, {**envelope(6), "status_code": 1200},
            {**envelope(7), "latency_ms": 0, "ttft_ms": 0.5}]
    recs[1]["metadata"]["feedback_score"] = "nan"
    (tmp_path / "l.jsonl").write_text(jsonl(recs))
    result = one(store, tmp_path / "l.jsonl")
    assert (result.rows_added, result.rows_rejected) == (2, 6)
    assert rejects(store) == {
        2: "latency_ms must be a finite number of milliseconds, 0 or more: NaN; feedback_score must be a finite number: nan",
        3: "latency_ms must be a finite number of milliseconds, 0 or more: -5",
        4: "ttft_ms must be a finite number of milliseconds, 0 or more: Infinity",
        5: "ttft_ms must be a finite number of milliseconds, 0 or more: -inf",
        6: "http_status must be an HTTP status code (100-599): -200",
        7: "http_status must be an HTTP status code (100-599): 1200",
    }


def test_canonical_csv_rejects_nan_latency_on_its_typed_fast_path_too(store, tmp_path):
    (tmp_path / "n.csv").write_text("request_id,ts,model,input_tokens,output_tokens,latency_ms,http_status\n"
                                    "a,2026-11-16 08:00:00,claude-haiku-5-5,1,1,12.5,200\n"
                                    "b,2026-11-16 08:00:00,claude-haiku-5-5,1,1,nan,200\n"
                                    "c,2026-11-16 08:00:00,claude-haiku-5-5,1,1,1,-200\n")
    result = one(store, tmp_path / "n.csv")
    assert (result.rows_added, result.rows_rejected) == (1, 2)
    assert rejects(store) == {3: "latency_ms must be a finite number of milliseconds, 0 or more: nan",
                              4: "http_status must be an HTTP status code (100-599): -200"}


def _cache(store, rid):
    return store.rows("select cache_write_5m_tokens, cache_write_1h_tokens, attributes->>'cache_ttl_assumed' "
                      "from requests where request_id = ?", [rid])[0]


def test_a_cache_write_total_larger_than_its_split_bills_the_rest_as_5m_writes_and_says_so(store, tmp_path):
    split = lambda a, b: {"ephemeral_5m_input_tokens": a, "ephemeral_1h_input_tokens": b}  # noqa: E731
    recs = [envelope(0, cache_creation_input_tokens=50000, cache_creation=split(0, 0)),       # the reported case
            envelope(1, cache_creation_input_tokens=5000, cache_creation=split(1000, 2000)),  # 2000 unsplit
            envelope(2, cache_creation_input_tokens=3000, cache_creation=split(1000, 2000)),  # agrees
            envelope(3, cache_creation_input_tokens=100, cache_creation=split(1000, 2000)),   # split is larger
            envelope(4, cache_creation_input_tokens=700)]                                     # no split at all
    (tmp_path / "c.jsonl").write_text(jsonl(recs))
    result = one(store, tmp_path / "c.jsonl")
    assert (result.rows_added, result.rows_rejected) == (5, 0)
    assert _cache(store, "msg_0") == (50000, 0, "true")
    assert _cache(store, "msg_1") == (3000, 2000, "true")
    assert _cache(store, "msg_2") == (1000, 2000, None)
    assert _cache(store, "msg_3") == (1000, 2000, None)
    assert _cache(store, "msg_4") == (700, 0, "true")
    assert store.scalar("select cost_cache_write_usd from costed_requests where request_id = 'msg_0'") > 0
    assert sorted(result.notes) == [f"1 row: {NOTE_CACHE_SPLIT}", f"2 rows: {NOTE_CACHE_REST}"]


def test_every_source_follows_the_same_cache_split_rule(store, tmp_path):
    # LiteLLM counts the cache inside prompt_tokens: the rest of the total is billed AND subtracted.
    text = _litellm_row(prompt_tokens=60000, cache_read_input_tokens=0, cache_creation_input_tokens=50000,
                        cache_creation_token_details={"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0})
    (tmp_path / "l.csv").write_text(text)
    result = one(store, tmp_path / "l.csv")
    assert result.notes == [f"1 row: {NOTE_CACHE_REST}"]
    assert store.rows("select input_tokens, cache_write_5m_tokens, cache_write_1h_tokens from requests") == [(10000, 50000, 0)]


def test_a_repeated_id_with_other_tokens_is_rejected_naming_the_line_kept(store, tmp_path):
    recs = [envelope(0), envelope(1), envelope(0), envelope(0, input_tokens=99, output_tokens=1), envelope(2)]
    (tmp_path / "d.jsonl").write_text(jsonl(recs))
    result = one(store, tmp_path / "d.jsonl")
    assert (result.rows_read, result.rows_added, result.rows_present, result.rows_rejected) == (5, 3, 1, 1)
    assert rejects(store) == {4: "request_id msg_0 repeats line 1 with a different input_tokens, output_tokens; the first is kept"}
    assert store.rows("select input_tokens from requests where request_id = 'msg_0'") == [(10,)]


def test_a_jsonl_file_starting_with_a_byte_order_mark_is_detected_and_read(store, tmp_path):
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + jsonl([envelope(0), envelope(1)]).encode())
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfrequest_id,ts,model,input_tokens,output_tokens\n"
                                       b"c1,2026-11-16 08:00:00,claude-haiku-5-5,1,1\n")
    for name, fmt in (("bom.jsonl", "anthropic"), ("bom.csv", "canonical-csv")):
        result = one(store, tmp_path / name)
        assert (result.format, result.rows_added, result.rows_rejected) == (fmt, 2 if fmt == "anthropic" else 1, 0)
    assert ids(store) == ["c1", "msg_0", "msg_1"]


def test_metadata_given_as_a_json_string_is_parsed_and_other_values_are_kept_and_noted(store, tmp_path):
    recs = [envelope(0), envelope(1), envelope(2), envelope(3)]
    recs[1]["metadata"] = json.dumps({"feature": "from-string", "team": "red"})
    recs[2]["metadata"] = "just words"
    recs[3]["metadata"] = [1, 2]
    (tmp_path / "m.jsonl").write_text(jsonl(recs))
    result = one(store, tmp_path / "m.jsonl")
    assert (result.rows_added, result.rows_rejected) == (4, 0)
    got = {r: (f, json.loads(a)) for r, f, a in store.rows("select request_id, feature, attributes from requests")}
    assert got["msg_1"] == ("from-string", {"feature": "from-string", "team": "red"})
    assert got["msg_2"] == (None, {"metadata": "just words"})
    assert got["msg_3"] == (None, {"metadata": [1, 2]})
    assert sorted(result.notes) == [f"1 row: {NOTE_METADATA_STRING}", f"2 rows: {NOTE_METADATA_OTHER}"]


def test_reingesting_with_payloads_after_no_payloads_adds_the_payloads_and_no_request_twice(store, tmp_path):
    (tmp_path / "p.jsonl").write_text(jsonl([envelope(i) for i in range(3)]))
    first = one(store, tmp_path / "p.jsonl", payloads=False)
    assert (first.rows_added, store.scalar("select count(*) from payloads")) == (3, 0)
    again = one(store, tmp_path / "p.jsonl", payloads=False)  # still without: nothing to do
    assert again.skipped
    fill = one(store, tmp_path / "p.jsonl")
    assert (fill.skipped, fill.rows_added, fill.rows_present) == (False, 0, 3)
    assert fill.notes == ["3 payloads added to requests first ingested with --no-payloads"]
    assert (store.scalar("select count(*) from requests"), store.scalar("select count(*) from payloads")) == (3, 3)
    assert store.scalar("select sum(cost_usd) from costed_requests") == Decimal("0.000210000")
    last = one(store, tmp_path / "p.jsonl")
    assert (last.skipped, store.scalar("select count(*) from payloads")) == (True, 3)
