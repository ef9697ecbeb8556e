"""A lake as the analyses read it: the layout `costlab export` writes, and the views over it.

    <lake>/requests/day=YYYY-MM-DD/part-*.parquet   costed_requests' columns, Hive-partitioned by UTC day
    <lake>/price_card/*.parquet                      the price card (integer femto-dollar rates)
    <lake>/models/*.parquet                          the model catalogue
    <lake>/_costlab/manifest.json                    what was exported, by whom, at which price version

Money travels as integers (Parquet DECIMAL is read differently by different engines and Spark's
DECIMAL arithmetic is where the pitfalls are): a column `<name>_nano` (BIGINT, units of 1e-9) is read
back as `<name>` DECIMAL(18,9), built as CAST(n AS DECIMAL(18,0)) * 0.000000001, never through `/` or
DOUBLE. A column already stored as DECIMAL is read as it is. Both engines read the lake through the
same view text (`costed_requests_sql`, written in the portable subset), so what they see is the same.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

from costlab.config import Config
from costlab.errors import ConfigError
from costlab.open import open_store
from costlab.store.sqlquote import ident

NANO_SUFFIX = "_nano"  # <name>_nano BIGINT in the lake -> <name> DECIMAL(18,9) in the views
PARTITION = "day"  # the Hive partition column (UTC day); not a column of costed_requests
TABLES = ("requests", "price_card", "models")


_S3 = re.compile(r"(?i)^s3a?:/+")  # a Path option folds s3a://b/p to s3a:/b/p: both spellings are read


def url(lake: Path | str | None) -> str | None:
    """The s3a:// URL a --lake names (s3://bucket/prefix is read as s3a://, Hadoop's S3 connector), or
    None for a local folder."""
    if lake is None:
        return None
    text = os.fspath(lake)
    m = _S3.match(text)
    return None if m is None else "s3a://" + text[m.end():].rstrip("/")


def check(lake: Path | str) -> Path | str:
    """The lake folder, refused with a ConfigError when it has no requests/ in it; an s3a:// URL as it is
    (Spark's S3 connector lists it)."""
    if url(lake):
        return url(lake)
    path = Path(lake)
    if not (path / "requests").is_dir():
        raise ConfigError(f"--lake {lake}: no requests/ folder in it (write one with `costlab export`)")
    return path


def parquet_columns(folder: Path) -> list[str]:
    """The columns of the Parquet files under `folder` (the first file's schema; partition folders
    name no column of the file)."""
    import pyarrow.parquet as pq  # noqa: PLC0415 (pyarrow maps ~100 MB: only when a lake is read)

    first = next(iter(sorted(folder.rglob("*.parquet"))), None)
    if first is None:
        raise ConfigError(f"{folder}: no Parquet files in it")
    return list(pq.read_schema(first).names)


def money_columns(columns: list[str]) -> list[str]:
    """The select list that turns the lake's columns into costed_requests' (DuckDB-dialect, portable)."""
    out = []
    for c in columns:
        if c == PARTITION:
            continue
        if c.endswith(NANO_SUFFIX):
            name = c[: -len(NANO_SUFFIX)]
            out.append(f"cast(cast({ident(c)} as DECIMAL(18, 0)) * 0.000000001 as DECIMAL(18, 9)) as {ident(name)}")
        else:
            out.append(ident(c))
    return out


def costed_requests_sql(source: str, columns: list[str]) -> str:
    """`select <costed_requests' columns> from <source>`; source is an identifier the caller made.

    The link keys the detectors join re-sends on (request_key, parent_key: in the store a 64-bit hash
    of the ids, stored with each price) are the ids themselves here: a lake carries no keys (another
    engine's hash is not DuckDB's), and an equality join on the strings finds the same links."""
    keys = [f"{ident(c)} as {ident(k)}" for c, k in (("request_id", "request_key"), ("parent_request_id", "parent_key"))
            if c in columns and k not in columns]
    return f"select {', '.join(money_columns(columns) + keys)} from {source}"


# -- what the lake does not carry ------------------------------------------------------------------
# Store tables some analyses read that `costlab export` does not write: the ingest log and its
# rejected rows (data_quality, the report's headline and activity lines on rejects), the replay
# results (over_modeling's replay evidence) and imported usage reports (the report's reconciliation).
# Over a lake they are empty stand-ins with the store's
# columns, so the queries run; what they would have said is missing, and LAKE_GAPS says it aloud.
STORE_ONLY = ("ingests", "rejects", "judgements", "replays", "replay_sample", "replay_runs_ignored", "usage_buckets")
LAKE_GAPS = ("over a lake, rejected rows and ingest records (the store's ingests and rejects tables) are not "
             "available: `costlab export` writes costed requests and the price tables only, so no finding or "
             "line about rejected rows appears; replay results (judgements) are not there either, so "
             "over_modeling rests on feedback alone; nor are imported usage reports (usage_buckets), so the report "
             "reconciles against gateways' own reported costs only, not against the Admin API's usage and cost reports")


@cache
def stand_ins() -> dict[str, str]:
    """{table: `select cast(null as T) as c, ... where false`} (DuckDB dialect, portable) for STORE_ONLY:
    the columns and types of a freshly migrated store, so every engine sees the store's shape."""
    with open_store(":memory:", Config()) as store:
        cols = store.rows("select table_name, column_name, data_type from information_schema.columns "
                          "where list_contains($tables, table_name) "
                          "and table_schema = 'main' order by table_name, ordinal_position", {"tables": list(STORE_ONLY)})
    out: dict[str, list[str]] = {}
    for table, column, sql_type in cols:
        out.setdefault(table, []).append(f"cast(null as {sql_type}) as {ident(column)}")
    return {t: f"select {', '.join(c)} where false" for t, c in out.items()}
