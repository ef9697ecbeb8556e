"""Ingest memory is bounded whatever the file size (issue 15): DuckDB's memory_limit ([ingest]
memory_limit, 1GB by default) holds while a file is ingested, and the staged rows spill to disk past
it. A file far larger than the limit goes in with exactly the rows and prices of an unlimited run."""

from __future__ import annotations

import duckdb
import pytest

from costlab import memory
from costlab.config import Config
from costlab.errors import ConfigError
from costlab.ingest import ingest_paths
from costlab.ingest.pipeline import DEFAULT_MEMORY_LIMIT, memory_limit_of
from costlab.open import open_store

ROWS = 130_000
LIMIT = "128MB"  # DuckDB's JSON reader needs about this much for its buffers alone


@pytest.fixture(scope="module")
def wide_csv(tmp_path_factory):
    """Canonical CSV, about 1 KB a row (long feature and user names): more than the tight limit below."""
    path = tmp_path_factory.mktemp("wide") / "wide.csv"
    duckdb.sql(
        f"""copy (select 'r' || i as request_id, timestamp '2026-11-16' + to_seconds(i) as ts,
                   case when i % 3 = 0 then 'claude-haiku-5-5' when i % 3 = 1 then 'claude-sonnet-4-5'
                        else 'claude-opus-4-1' end as model,
                   (i % 9000)::BIGINT as input_tokens, (i % 700)::BIGINT as output_tokens,
                   (i % 50)::BIGINT as cache_read_tokens,
                   'feature-' || (i % 13) || '-' || repeat(md5(i::VARCHAR), 16) as feature,
                   'u_' || repeat(md5((i * 7)::VARCHAR), 15) as user_id
            from range({ROWS}) t(i)) to '{path}' (header)"""
    )
    assert path.stat().st_size > memory.parse_size(LIMIT, "test")
    return path


def _ingest(db, path, limit):
    with open_store(db, Config(ingest={"memory_limit": limit})) as store:
        before = store.scalar("select current_setting('memory_limit')")
        result = ingest_paths(store, [str(path)]).files[0]
        assert store.scalar("select current_setting('memory_limit')") == before, "the limit is put back after the file"
    assert result.error is None, result.error
    return result


def test_a_file_larger_than_the_memory_limit_gives_the_same_rows_and_prices_as_an_unlimited_run_and_counts_once(
        tmp_path, wide_csv, monkeypatch):
    monkeypatch.delenv(memory.ENV, raising=False)  # the environment would win over [ingest] memory_limit
    tight = _ingest(tmp_path / "tight.duckdb", wide_csv, LIMIT)
    free = _ingest(tmp_path / "free.duckdb", wide_csv, "none")
    assert (tight.rows_added, tight.rows_rejected) == (free.rows_added, free.rows_rejected) == (ROWS, 0)
    con = duckdb.connect()
    con.execute(f"attach '{tmp_path / 'tight.duckdb'}' as tight (read_only)")
    con.execute(f"attach '{tmp_path / 'free.duckdb'}' as free (read_only)")
    differ = con.sql("""select count(*) from ((select * from tight.requests except all select * from free.requests)
                                              union all
                                              (select * from free.requests except all select * from tight.requests))""")
    assert differ.fetchall()[0][0] == 0, "the requests (prices included) differ between the limited and the unlimited run"
    priced, cost = con.sql("select count(*) filter (where priced), sum(cost_usd) from tight.requests").fetchall()[0]
    assert priced == ROWS and cost > 0, "every row priced"
    con.close()

    # The anti-join against the stored requests runs under the limit too: a longer copy of the file
    # (other bytes, so not skipped by its hash) adds only its one new row.
    copy = tmp_path / "again.csv"
    copy.write_bytes(wide_csv.read_bytes() + b"r-extra,2026-11-16 00:00:00,claude-haiku-5-5,1,1,0,f,u\n")
    again = _ingest(tmp_path / "tight.duckdb", copy, LIMIT)
    assert (again.rows_read, again.rows_added, again.rows_present) == (ROWS + 1, 1, ROWS)
    with open_store(tmp_path / "tight.duckdb", Config()) as store:
        assert store.scalar("select count(*) from requests") == ROWS + 1


def test_the_ingest_memory_limit_is_a_size_or_none():
    assert memory_limit_of(Config()) == DEFAULT_MEMORY_LIMIT
    assert memory_limit_of(Config(ingest={"memory_limit": "none"})) is None
    assert memory_limit_of(Config(ingest={"memory_limit": "750MB"})) == "750MB"
    with pytest.raises(ConfigError, match=r"\[ingest\] memory_limit"):
        memory_limit_of(Config(ingest={"memory_limit": "lots"}))
