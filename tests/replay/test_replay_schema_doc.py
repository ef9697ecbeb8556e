"""docs/schema.md's replay tables match the live schema of a fresh store (the general test in
test_docs_schema.py covers the request and price tables; these are the replay contract with what-if)."""

from __future__ import annotations

import pytest

from helpers import documented, live_columns

REPLAY_TABLES = ("replay_runs", "replay_sample", "replays", "judgements", "replay_batches")


@pytest.mark.parametrize("table", REPLAY_TABLES)
def test_documented_replay_table_matches_the_live_schema(store, table):
    assert documented(table) == live_columns(store, table)
