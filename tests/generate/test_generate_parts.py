"""The generator in parts (issue 15, part 1): a store made by generate_into, part by part, holds exactly
the rows of the one SELECT generate_sql gives, priced as ingest prices them."""

from __future__ import annotations

from costlab.config import Config
from costlab.generate import generate_into, generate_sql
from costlab.open import open_store

FINGERPRINT = ("select count(*), sum(hash(request_id, ts, model, input_tokens, output_tokens, cache_read_tokens, "
               "parent_request_id, user_id, session_id, status, latency_ms)) from ({rows})")


def test_a_store_made_in_parts_holds_exactly_the_rows_of_the_whole_select_and_every_one_is_priced(tmp_path):
    with open_store(tmp_path / "s.duckdb", Config()) as s:
        generate_into(s, 7_001, seed=9, start="2026-11-09", days=7, part_rows=1_000)
        whole = s.rows(FINGERPRINT.format(rows=generate_sql(7_001, seed=9, start="2026-11-09", days=7)))
        stored = s.rows(FINGERPRINT.format(rows="select * from requests"))
        stale = s.scalar("select count(*) from stale_requests")
        order = s.scalar("select current_setting('preserve_insertion_order')")
    assert stored == whole and whole[0][0] == 7_001
    assert stale == 0 and order is True


def test_parts_of_the_select_together_are_the_whole_select(tmp_path):
    with open_store(tmp_path / "t.duckdb", Config()) as s:
        whole = s.rows(FINGERPRINT.format(rows=generate_sql(5_000, seed=2, days=3)))
        parts = " union all ".join(f"select * from ({generate_sql(5_000, seed=2, days=3, part=(i, 3))})" for i in range(3))
        assert s.rows(FINGERPRINT.format(rows=parts)) == whole
