"""Stored prices: each request's price is written once (at ingest, or when the price card changes)
and costed_requests reads it; a row without a current stored price is priced as it is read.

The invariant every test here checks one way or another: costed_requests gives exactly what
pricing every row afresh (costlab_price_rows over requests) gives, whatever was stored."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from costlab import pricing, signals
from costlab.config import Config, load_config
from costlab.generate import generate_sql
from costlab.ingest import ingest_paths
from costlab.open import open_store
from costlab.store import Store

from helpers import EXAMPLES

PRICE = ("request_id", "source", "tier", "priced", "unpriced_reason", "cost_input_usd", "cost_output_usd",
         "cost_cache_write_usd", "cost_cache_read_usd", "cost_tools_usd", "cost_usd", "price_multiplier")
HAIKU_UP = [{"model": "claude-haiku-5-5", "valid_from": "2026-01-01", "input": 2, "output": 9, "source": "test"}]


def differences(store: Store) -> int:
    """Rows where costed_requests and a fresh pricing of every row disagree (both directions)."""
    cols = ", ".join(PRICE)
    return store.scalar(f"""select count(*) from (
        (select {cols} from costed_requests except all select {cols} from costlab_price_rows('requests'))
        union all
        (select {cols} from costlab_price_rows('requests') except all select {cols} from costed_requests))""")


def stale(store: Store) -> int:
    return pricing.stale_count(store)


def generated(new_store, path: Path, n: int = 3000) -> Store:
    """A fresh store at path (conftest's new_store) holding n generated requests, not yet priced."""
    store = new_store(path)
    store.execute("insert into requests by name " + generate_sql(n, seed=3, start="2026-11-02", days=7))
    return store


def test_ingest_stores_each_rows_price_under_the_current_card(tmp_path):
    with open_store(tmp_path / "s.duckdb", load_config(EXAMPLES / "costlab.toml")) as store:
        assert not ingest_paths(store, [str(EXAMPLES)]).failed
        n = store.scalar("select count(*) from requests")
        assert n > 1000
        assert stale(store) == 0
        assert store.scalar("select count(*) from requests where price_version = costlab_price_version()") == n
        assert store.scalar("select count(*) from requests where cost_usd is not null") > 0
        assert differences(store) == 0


def test_an_unpriced_row_is_stored_unpriced_with_its_reason_never_at_zero(tmp_path, store):
    store.execute("""insert into requests (request_id, ts, source, model, input_tokens, output_tokens)
                     values ('x', '2026-11-02', 'test', 'claude-imaginary-9', 100, 10)""")
    store.close()
    with open_store(store.path, Config()) as reopened:
        row = reopened.rows("select priced, cost_usd, unpriced_reason, price_version is not null from requests")[0]
        assert row == (False, None, "no price for model claude-imaginary-9", True)
        assert differences(reopened) == 0


def test_rows_inserted_by_hand_are_priced_as_read_then_stored_on_the_next_read_write_open(new_store, tmp_path):
    path = tmp_path / "s.duckdb"
    with generated(new_store, path) as store:
        assert stale(store) == 3000  # plain SQL inserts carry no price
        live = store.scalar("select sum(cost_usd) from costed_requests")
        assert live > 0
        assert differences(store) == 0
    with open_store(path, Config()) as store:
        assert stale(store) == 0
        assert store.scalar("select sum(cost_usd) from requests") == live
        assert store.scalar("select sum(cost_usd) from costed_requests") == live
        assert differences(store) == 0


def test_a_price_change_reprices_every_stored_row_on_the_next_read_write_open(new_store, tmp_path):
    path = tmp_path / "s.duckdb"
    with generated(new_store, path) as store:
        pricing.reprice(store)
        before = store.scalar("select sum(cost_usd) from costed_requests where model = 'claude-haiku-5-5'")
        version = store.scalar("select costlab_price_version()")
    with open_store(path, Config(prices=HAIKU_UP)) as store:
        assert store.scalar("select costlab_price_version()") != version
        assert stale(store) == 0
        after = store.scalar("select sum(cost_usd) from costed_requests where model = 'claude-haiku-5-5'")
        assert after > before
        # $2 / $9 per MTok, with no cache traffic on the row checked: tokens x rate exactly
        row = store.rows("""select input_tokens, output_tokens, cost_input_usd, cost_output_usd from requests
                            where model = 'claude-haiku-5-5' and service_tier = 'standard' and input_tokens > 0
                            and coalesce(inference_geo, 'global') = 'global' limit 1""")[0]
        assert row[2] == Decimal(row[0] * 2) / 1_000_000 and row[3] == Decimal(row[1] * 9) / 1_000_000
        assert store.scalar("select count(*) from requests") == 3000
        assert differences(store) == 0
    with open_store(path, Config()) as store:  # and back
        assert store.scalar("select sum(cost_usd) from costed_requests where model = 'claude-haiku-5-5'") == before


def test_a_models_new_tier_is_a_new_card_too(tmp_path):
    prices = [{"model": "acme-ft-1", "valid_from": "2026-01-01", "input": 4, "output": 16, "source": "contract"}]
    path = tmp_path / "s.duckdb"
    with open_store(path, Config(models=[{"id": "acme-ft-1", "tier": "sonnet"}], prices=prices)) as store:
        store.execute("""insert into requests (request_id, ts, source, model, input_tokens, output_tokens)
                         values ('ft', '2026-11-02', 'test', 'acme-ft-1', 1000, 100)""")
        pricing.reprice(store)
        assert store.rows("select tier, cost_usd from requests") == [("sonnet", Decimal("0.0056"))]
    with open_store(path, Config(models=[{"id": "acme-ft-1", "tier": "opus"}], prices=prices)) as store:
        assert store.rows("select tier, cost_usd from requests") == [("opus", Decimal("0.0056"))]
        assert differences(store) == 0


def test_repricing_in_chunks_keeps_every_row_exactly_once(new_store, tmp_path):
    with generated(new_store, tmp_path / "s.duckdb") as store:
        ids = store.rows("select source, request_id from requests order by all")
        assert pricing.reprice(store, chunk_rows=700) == 3000
        assert store.rows("select source, request_id from requests order by all") == ids
        assert stale(store) == 0
        assert pricing.reprice(store, chunk_rows=700) == 0  # nothing left: a no-op
        assert differences(store) == 0


def test_an_edit_that_clears_price_version_is_priced_again(new_store, tmp_path):
    path = tmp_path / "s.duckdb"
    with generated(new_store, path) as store:
        pricing.reprice(store)
        rid = store.scalar("select request_id from requests where model = 'claude-haiku-5-5' and output_tokens > 0 limit 1")
        was = store.scalar("select cost_usd from costed_requests where request_id = ?", [rid])
        store.execute("update requests set model = 'claude-opus-5-5', price_version = null where request_id = ?", [rid])
        now = store.scalar("select cost_usd from costed_requests where request_id = ?", [rid])
        assert now > was  # priced as it is read, at Opus rates
        assert differences(store) == 0
    with open_store(path, Config()) as store:
        assert store.scalar("select cost_usd from requests where request_id = ?", [rid]) == now


def test_the_detectors_find_the_same_from_stored_prices_and_from_pricing_as_they_read(tmp_path):
    # Thresholds at zero so the clean generated traffic gives findings to compare (with dollar figures).
    config = Config(signals={"min_impact_usd": 0, "min_spend_share": 0, "min_requests": 20})
    path = tmp_path / "fresh.duckdb"
    with open_store(path, config) as store:
        store.execute("insert into requests by name " + generate_sql(20_000, seed=11, start="2026-11-02", days=14))
        pricing.reprice(store)
    stale_path = tmp_path / "stale.duckdb"
    shutil.copy(path, stale_path)
    with open_store(stale_path, config) as store:
        store.execute("update requests set price_version = null")
    found = []
    for p in (path, stale_path):
        with open_store(p, config, read_only=True) as store:
            found.append(signals.run_signals(store))
            # neither leaves its shadow of costed_requests behind
            assert not store.scalar("select count(*) from duckdb_views() where temporary and view_name = 'costed_requests'")
            assert not store.scalar("select count(*) from duckdb_tables() where temporary and table_name = 'costed_requests'")
    assert {"over_modeling", "cost_per_user"} <= set(found[0]["signal"])
    assert found[0].equals(found[1])


def test_a_store_from_before_stored_prices_is_priced_when_it_is_upgraded(tmp_path):
    import duckdb

    from costlab.store import migrations

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    migrations.migrate(con, upto=5)
    con.execute("insert into requests by name select * exclude (sample_weight) from (" + generate_sql(500, seed=1) + ")")  # no sample_weight before m009
    con.close()
    with open_store(path, Config()) as store:
        assert stale(store) == 0
        assert store.scalar("select count(*) from requests where cost_usd is not null") > 0
        assert differences(store) == 0


@pytest.mark.parametrize("since, until, expected", [(None, None, 3000), ("2026-11-03", "2026-11-04", None)])
def test_stale_count_counts_the_window_asked_for(new_store, tmp_path, since, until, expected):
    with generated(new_store, tmp_path / "s.duckdb") as store:
        n = pricing.stale_count(store, since, until)
        want = expected if expected is not None else store.scalar(
            "select count(*) from requests where ts >= ? and ts < ?", [since, until])
        assert 0 < n == want


def test_a_store_from_before_stored_prices_opened_read_only_still_reports(new_store, tmp_path):
    import duckdb

    from costlab.report import build_report, window

    path = tmp_path / "old.duckdb"
    with generated(new_store, path) as store:
        pass
    # As costlab before stored prices left a store: no stale_requests, and a costed_requests that
    # prices every row as it reads it (stood in for by costlab_price_rows over requests).
    con = duckdb.connect(str(path))
    con.execute("drop view costed_requests; drop view stale_requests; "
                "create view costed_requests as from costlab_price_rows('requests')")
    con.close()
    with open_store(path, Config(), read_only=True) as store:
        assert pricing.stale_count(store) == 3000
        report = build_report(store, window.week("2026-W45"))
    assert report["sections"]["headline"]


def test_the_sql_and_schema_py_name_the_same_stored_price_columns(store):
    from costlab.schema import REQUEST_COLUMNS, STORED_PRICE_COLUMNS

    flagged = {c for (c,) in store.rows(
        "select column_name from duckdb_columns() where table_name = 'requests' "
        "and database_name = current_database() and costlab_is_price_column(column_name)")}
    assert flagged == {c.name for c in STORED_PRICE_COLUMNS}
    assert not flagged & {c.name for c in REQUEST_COLUMNS}
