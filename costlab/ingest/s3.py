"""`costlab ingest s3://bucket/prefix/`: read log objects straight from S3 (or an S3-compatible store).

Credentials and region come the AWS way (environment, ~/.aws, instance role); `endpoint_url` (or
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) points at MinIO, R2, moto, ... Every object ingested is
recorded in `s3_objects` with its size and ETag, so a second run downloads only objects it has not
seen (a rewritten object has a new ETag and is read again; the request-level anti-join keeps the
rows it already has). Objects are downloaded one at a time to a temporary file and go through the
same detection, adapters and all-or-nothing load as local files.

Under a Bedrock invocation-log prefix (AWSLogs/<account>/BedrockModelInvocationLogs/<region>/yyyy/mm/dd/)
the `data/` folders hold request/response bodies moved out of the records (*BodyS3Path), not log
records, and Bedrock's `amazon-bedrock-logs-permission-check` object is no log either: both are skipped.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from costlab.errors import ConfigError, InputError, QueryError
from costlab.ingest.pipeline import ingest_file
from costlab.ingest.results import FileResult
from costlab.keys import check_env_keys
from costlab.store import Store

_LOG_NAME = re.compile(r"\.(jsonl|ndjson|json|csv|parquet|log)(\.gz)?$|\.gz$", re.IGNORECASE)
_BODIES = re.compile(r"/BedrockModelInvocationLogs/.*/data/")


def is_s3(path: str) -> bool:
    return path.lower().startswith("s3://")


def split_url(url: str) -> tuple[str, str]:
    m = re.match(r"(?i)^s3://([^/]+)/?(.*)$", url)
    if not m or not m.group(1):
        raise ConfigError(f"{url}: expected s3://bucket/prefix")
    return m.group(1), m.group(2)


def client(endpoint_url: str | None = None):
    # boto3 is imported here, not at the top: it is heavy, and only s3:// paths need it.
    try:
        import boto3
        from botocore.config import Config as BotoConfig
    except ImportError as ex:  # pragma: no cover - boto3 is a dependency
        raise ConfigError("reading s3:// needs boto3 (pip install boto3)") from ex
    check_env_keys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"))  # stripped, checked for boto3
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    # A session of its own: boto3's default session keeps the credentials it resolved first, so a
    # later call in the same process (a library user, a test) would sign with keys the environment
    # no longer holds, past the check above.
    return boto3.session.Session().client("s3", endpoint_url=endpoint,
                                          config=BotoConfig(retries={"max_attempts": 5, "mode": "standard"}))


def _listing(s3, bucket: str, prefix: str) -> list[tuple[str, int, str]]:
    from botocore.exceptions import BotoCoreError, ClientError

    objects = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith("/") or not _LOG_NAME.search(key) or _BODIES.search("/" + key):
                    continue
                objects.append((key, int(obj["Size"]), str(obj.get("ETag", "")).strip('"')))
    except ClientError as ex:
        err = ex.response.get("Error", {})
        raise InputError(f"s3://{bucket}/{prefix}: {err.get('Code', 'error')}: {err.get('Message', ex)}") from None
    except BotoCoreError as ex:
        raise InputError(f"s3://{bucket}/{prefix}: {ex}") from None
    return objects


def ingest_url(store: Store, url: str, fmt: str | None, payloads: bool, endpoint_url: str | None = None,
               on_file: Callable[[str, int], None] | None = None, sample_rate: object | None = None) -> list[FileResult]:
    """Ingest every new log object under an s3:// URL; FileResults for the new objects plus one line
    saying how many were seen before."""
    from botocore.exceptions import BotoCoreError, ClientError  # boto3's, loaded with it (see client)

    bucket, prefix = split_url(url)
    s3 = client(endpoint_url)
    listing = _listing(s3, bucket, prefix)
    results: list[FileResult] = []
    if not listing:
        return [FileResult(url, error=f"{url}: no log objects under this prefix")]
    # Which objects are new: one anti-join against what earlier runs recorded.
    import pyarrow as pa  # heavy, and only S3 listings need it here

    keys, sizes, etags = zip(*listing)
    listed = pa.table({"key": pa.array(keys, pa.string()), "size": pa.array(sizes, pa.int64()),
                       "etag": pa.array(etags, pa.string())})
    with store.registered("_s3_listing", listed):
        store.execute("create or replace temp table _s3_list as select * from _s3_listing")
    # An object read before with --no-payloads is read again when payloads are asked for: ingest_file
    # then adds only its missing payloads (its requests are present and are not counted twice).
    new = store.rows(
        """select key, size, etag from _s3_list l
           where not exists (select 1 from s3_objects o left join ingests i on i.ingest_id = o.ingest_id
                             where o.bucket = ? and o.key = l.key
                               and o.size = l.size and o.etag is not distinct from l.etag
                               and (not ? or coalesce(i.payloads, true)))
           order by key""",
        [bucket, payloads],
    )
    store.execute("drop table if exists _s3_list")
    seen = len(listing) - len(new)
    with tempfile.TemporaryDirectory(prefix="costlab-s3-") as tmp:
        for key, size, etag in new:
            obj_url = f"s3://{bucket}/{key}"
            local = Path(tmp) / Path(key).name
            try:
                s3.download_file(bucket, key, str(local))
            except (ClientError, BotoCoreError, OSError) as ex:  # OSError: a key's name too long for a local file
                results.append(FileResult(obj_url, error=f"{obj_url}: cannot download: {str(ex).replace(str(local), obj_url)}"))
                continue
            try:
                result = ingest_file(store, local, fmt, payloads, label=obj_url, sample_rate=sample_rate)
            except (InputError, QueryError) as ex:
                result = FileResult(obj_url, error=str(ex).replace(str(local), obj_url))
            local.unlink(missing_ok=True)
            results.append(result)
            if result.error is None:  # a file that could not be read is tried again next time
                ingest_id = store.scalar("select max(ingest_id) from ingests where file = ?", [obj_url])
                store.execute("insert into s3_objects values (?, ?, ?, ?, ?, ?, ?)",
                              [obj_url, bucket, key, size, etag, ingest_id, datetime.now(timezone.utc)])
            if on_file:
                on_file(obj_url, size)
    if seen:
        results.append(FileResult(f"{url} ({seen} objects ingested before, not read again)", skipped=True))
    return results
