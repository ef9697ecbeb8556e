"""`ingest s3://...` against moto's S3 server on 127.0.0.1: real gzip objects in the Bedrock layout,
read directly; a second run reads only objects it has not seen (key, size, ETag); bodies folders and
Bedrock's permission-check object are not logs; a truncated object is one clear error."""

from __future__ import annotations

import gzip

import pytest

pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

from costlab.config import Config  # noqa: E402
from costlab.ingest import ingest_paths  # noqa: E402
from costlab.store import Store  # noqa: E402

from helpers import FIXTURES  # noqa: E402

SRC = FIXTURES / "sources"
PREFIX = "AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/2026/11/16/09/"


def _lines():
    return (SRC / "bedrock.jsonl").read_bytes().splitlines(keepends=True)


def test_bedrock_gzip_objects_are_read_from_s3_and_a_second_run_reads_only_new_objects(new_store, bucket, s3_endpoint, tmp_path):
    s3, name = bucket
    lines = _lines()
    s3.put_object(Bucket=name, Key=PREFIX + "a_1.json.gz", Body=gzip.compress(b"".join(lines[:3])))
    s3.put_object(Bucket=name, Key=PREFIX + "b_2.json.gz", Body=gzip.compress(b"".join(lines[3:5])))
    s3.put_object(Bucket=name, Key=PREFIX + "data/br-profile-4_input.json.gz", Body=gzip.compress(b'{"messages": []}'))
    s3.put_object(Bucket=name, Key="AWSLogs/123456789012/BedrockModelInvocationLogs/amazon-bedrock-logs-permission-check",
                  Body=b"")
    store = new_store(tmp_path / "s.duckdb")
    first = ingest_paths(store, [f"s3://{name}/AWSLogs/"], endpoint_url=s3_endpoint)
    assert [(f.file.rsplit("/", 1)[-1], f.format, f.rows_added, f.error) for f in first.files] == [
        ("a_1.json.gz", "bedrock", 3, None), ("b_2.json.gz", "bedrock", 2, None)]
    assert store.scalar("select count(*) from requests where platform = 'bedrock'") == 5
    assert store.scalar("select file from ingests order by ingest_id limit 1") == f"s3://{name}/{PREFIX}a_1.json.gz"

    s3.put_object(Bucket=name, Key=PREFIX + "c_3.json.gz", Body=gzip.compress(b"".join(lines[5:])))
    second = ingest_paths(store, [f"s3://{name}/AWSLogs/"], endpoint_url=s3_endpoint)
    assert [f.file.rsplit("/", 1)[-1] for f in second.files if not f.skipped] == ["c_3.json.gz"]
    assert second.files[-1].skipped and "2 objects ingested before" in second.files[-1].file
    assert store.scalar("select count(*) from requests") == 7

    # A rewritten object (new size and ETag) is read again; the rows it already had add nothing.
    s3.put_object(Bucket=name, Key=PREFIX + "a_1.json.gz", Body=gzip.compress(b"".join(lines[:4])))
    third = ingest_paths(store, [f"s3://{name}/AWSLogs/"], endpoint_url=s3_endpoint)
    changed = [f for f in third.files if not f.skipped]
    assert [(f.file.rsplit("/", 1)[-1], f.rows_added, f.rows_present) for f in changed] == [("a_1.json.gz", 0, 4)]
    store.close()


def test_a_truncated_gzip_object_is_one_clear_error_and_is_tried_again_next_run(new_store, bucket, s3_endpoint, tmp_path):
    s3, name = bucket
    blob = gzip.compress(b"".join(_lines()) * 50)
    s3.put_object(Bucket=name, Key=PREFIX + "cut.json.gz", Body=blob[: len(blob) // 2])
    s3.put_object(Bucket=name, Key=PREFIX + "ok.json.gz", Body=gzip.compress(_lines()[0]))
    store = new_store(tmp_path / "s.duckdb")
    summary = ingest_paths(store, [f"s3://{name}/{PREFIX}"], endpoint_url=s3_endpoint)
    by_name = {f.file.rsplit("/", 1)[-1]: f for f in summary.files}
    assert by_name["ok.json.gz"].rows_added == 1
    err = by_name["cut.json.gz"].error
    assert err and f"s3://{name}/{PREFIX}cut.json.gz" in err and ("gzip" in err.lower() or "truncated" in err.lower())
    again = ingest_paths(store, [f"s3://{name}/{PREFIX}"], endpoint_url=s3_endpoint)
    assert [f.file.rsplit("/", 1)[-1] for f in again.files if not f.skipped] == ["cut.json.gz"]
    store.close()


def test_a_missing_bucket_or_empty_prefix_is_a_clear_error_not_a_traceback(new_store, bucket, s3_endpoint, tmp_path):
    _, name = bucket
    store = new_store(tmp_path / "s.duckdb")
    empty = ingest_paths(store, [f"s3://{name}/nothing-here/"], endpoint_url=s3_endpoint)
    assert empty.files[0].error == f"s3://{name}/nothing-here/: no log objects under this prefix"
    missing = ingest_paths(store, ["s3://no-such-bucket-costlab/x/"], endpoint_url=s3_endpoint)
    assert missing.files[0].error.startswith("s3://no-such-bucket-costlab/x/: NoSuchBucket")
    assert missing.failed
    store.close()


def test_an_object_read_with_no_payloads_is_read_again_for_its_payloads_and_adds_no_request_twice(new_store, 
        bucket, s3_endpoint, tmp_path):
    s3, name = bucket
    body = (FIXTURES / "ingest" / "envelope.jsonl").read_bytes()
    s3.put_object(Bucket=name, Key="logs/envelope.jsonl", Body=body)
    store = new_store(tmp_path / "s.duckdb")
    first = ingest_paths(store, [f"s3://{name}/logs/"], payloads=False, endpoint_url=s3_endpoint)
    n = first.files[0].rows_added
    assert n > 0 and store.scalar("select count(*) from payloads") == 0
    # Without payloads again: nothing to read. With them: read again, payloads only.
    again = ingest_paths(store, [f"s3://{name}/logs/"], payloads=False, endpoint_url=s3_endpoint)
    assert [f.skipped for f in again.files] == [True]
    fill = ingest_paths(store, [f"s3://{name}/logs/"], endpoint_url=s3_endpoint)
    assert fill.files[0].rows_added == 0 and fill.files[0].rows_present == n
    assert store.scalar("select count(*) from requests") == n
    assert store.scalar("select count(*) from payloads") > 0
    last = ingest_paths(store, [f"s3://{name}/logs/"], endpoint_url=s3_endpoint)
    assert [f.skipped for f in last.files] == [True]
