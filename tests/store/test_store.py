"""The store file: schema upgrades keep data, one writer at a time, and where the file is."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from costlab.store import migrations
from costlab.config import Config, load_config, resolve_db_path
from costlab.errors import StoreLockedError
from costlab.schema import REQUESTS_TABLE_COLUMNS
from costlab.open import open_store
from costlab.store import Store

# Written out by hand on purpose: a change to the canonical request has to change this test too.
EXPECTED = {
    "request_id": "VARCHAR", "ts": "TIMESTAMPTZ", "platform": "VARCHAR", "model": "VARCHAR",
    "service_tier": "VARCHAR", "speed": "VARCHAR", "inference_geo": "VARCHAR",
    "input_tokens": "BIGINT", "output_tokens": "BIGINT", "cache_read_tokens": "BIGINT",
    "cache_write_5m_tokens": "BIGINT", "cache_write_1h_tokens": "BIGINT",
    "web_search_requests": "INTEGER", "web_fetch_requests": "INTEGER",
    "latency_ms": "DOUBLE", "ttft_ms": "DOUBLE",
    "status": "VARCHAR", "error_type": "VARCHAR", "http_status": "SMALLINT", "stop_reason": "VARCHAR",
    "feature": "VARCHAR", "user_id": "VARCHAR", "customer_id": "VARCHAR", "session_id": "VARCHAR",
    "trace_id": "VARCHAR", "parent_request_id": "VARCHAR", "attempt": "SMALLINT", "feedback_score": "DOUBLE",
    "reported_cost_usd": "DECIMAL(18,9)", "source": "VARCHAR", "ingest_id": "BIGINT", "attributes": "JSON",
    # the stored price
    "tier": "VARCHAR", "priced": "BOOLEAN", "unpriced_reason": "VARCHAR", "cost_input_usd": "DECIMAL(18,9)",
    "cost_output_usd": "DECIMAL(18,9)", "cost_cache_write_usd": "DECIMAL(18,9)", "cost_cache_read_usd": "DECIMAL(18,9)",
    "cost_tools_usd": "DECIMAL(18,9)", "cost_usd": "DECIMAL(18,9)", "price_multiplier": "DECIMAL(18,9)",
    "price_version": "UBIGINT",
    # appended after the stored price (m009)
    "sample_weight": "DECIMAL(38,6)",
    # the list price, gross of negotiated discounts (m012)
    "cost_list_usd": "DECIMAL(18,9)",
    "request_key": "UBIGINT", "parent_key": "UBIGINT",  # m013: link keys, written with the price
}
# DuckDB reports some types by their long names; schema.py uses the short spelling.
_SPELLING = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}


def live_columns(store: Store) -> dict[str, str]:
    rows = store.rows(
        "select column_name, data_type from duckdb_columns() "
        "where table_name = 'requests' and database_name = current_database() order by column_index"
    )
    return {name: _SPELLING.get(kind, kind) for name, kind in rows}


def test_a_store_made_by_the_first_migration_upgrades_keeping_its_requests(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    assert migrations.migrate(con, upto=1) == [migrations.MIGRATIONS[0].__name__]
    con.execute(
        "insert into requests (request_id, ts, source, platform, model, input_tokens, output_tokens, "
        "cache_write_1h_tokens, reported_cost_usd, attributes) values "
        "('msg_01', '2026-11-02 10:00:00+00', 'anthropic', 'anthropic', 'claude-opus-5-5', 1000, 500, 2000, "
        "0.123456789, '{\"model_raw\": \"claude-opus-5-5\"}')"
    )
    con.close()

    with open_store(path, Config()) as store:
        row = store.frame("select * from requests").row(0, named=True)
        assert (row["request_id"], row["input_tokens"], row["output_tokens"], row["cache_write_1h_tokens"]) == (
            "msg_01", 1000, 500, 2000)
        assert row["reported_cost_usd"] == Decimal("0.123456789")
        assert "model_raw" in row["attributes"]
        # The upgraded store prices the old row: 1,000 x 4 + 500 x 20 + 2,000 x 8 (1h), / 1e6 = 0.03.
        assert store.scalar("select cost_usd from costed_requests") == Decimal("0.03")
        # ... and stores that price: the upgrade priced the old row under the current card.
        assert store.rows("select cost_usd, price_version = costlab_price_version() from requests") == [(Decimal("0.03"), True)]
        assert list(live_columns(store).items()) == [(c.name, c.type) for c in REQUESTS_TABLE_COLUMNS]
        assert live_columns(store) == EXPECTED
        recorded = [r[0] for r in store.rows("select name from _costlab_migrations order by applied_at, name")]
        assert sorted(recorded) == sorted(fn.__name__ for fn in migrations.MIGRATIONS)
        assert recorded[0] == migrations.MIGRATIONS[0].__name__
        # The request logged before weights existed stands for itself.
        assert store.scalar("select sample_weight from requests") == Decimal(1)


def test_opening_a_current_store_again_runs_no_migration_and_keeps_data(tmp_path):
    path = tmp_path / "s.duckdb"
    with open_store(path, Config()) as store:
        store.execute("insert into requests (request_id, ts, source) values ('a', now(), 't')")
        applied = store.scalar("select count(*) from _costlab_migrations")
    with open_store(path, Config()) as store:
        assert migrations.migrate(store.con) == []
        assert store.scalar("select count(*) from _costlab_migrations") == applied == len(migrations.MIGRATIONS)
        assert store.scalar("select count(*) from requests") == 1


_HOLDER = textwrap.dedent(
    """
    import sys, time
    import duckdb
    con = duckdb.connect(sys.argv[1])          # read-write: takes DuckDB's file lock
    con.execute("select count(*) from requests").fetchall()
    print("holding", flush=True)
    time.sleep(60)
    """
)


def test_a_store_held_open_by_another_process_raises_store_locked_and_stays_readable(tmp_path):
    path = tmp_path / "locked.duckdb"
    with open_store(path, Config()) as store:
        store.execute("insert into requests (request_id, ts, source) values ('kept', now(), 't')")
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(StoreLockedError) as raised:
            open_store(path, Config())
        message = str(raised.value)
        assert str(path) in message
        assert "another process" in message and f"process {holder.pid}" in message
        assert "--db" in message                      # says what to do about it
        assert raised.value.exit_code == 3
    finally:
        holder.terminate()
        holder.wait(timeout=10)
        holder.stdout.close()
    with open_store(path, Config(), read_only=True) as store:
        assert store.scalar("select request_id from requests") == "kept"
    with open_store(path, Config()) as store:
        assert store.scalar("select count(*) from requests") == 1


# --- where the store is -----------------------------------------------------------------------------


def write_toml(directory: Path, db: str) -> None:
    (directory / "costlab.toml").write_text(f'db = "{db}"\n', encoding="utf-8")


def test_db_path_defaults_to_costlab_duckdb_in_the_working_directory(tmp_path):
    assert resolve_db_path(None, load_config()) == tmp_path / "costlab.duckdb"


def test_db_path_from_costlab_toml_is_relative_to_the_toml_file(tmp_path, monkeypatch):
    write_toml(tmp_path, "data/from-toml.duckdb")
    config = load_config()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert resolve_db_path(None, config) == tmp_path / "data" / "from-toml.duckdb"


def test_costlab_db_environment_variable_beats_costlab_toml(tmp_path, monkeypatch):
    write_toml(tmp_path, "from-toml.duckdb")
    monkeypatch.setenv("COSTLAB_DB", str(tmp_path / "from-env.duckdb"))
    assert resolve_db_path(None, load_config()) == tmp_path / "from-env.duckdb"


def test_db_flag_beats_the_environment_and_costlab_toml(tmp_path, monkeypatch):
    write_toml(tmp_path, "from-toml.duckdb")
    monkeypatch.setenv("COSTLAB_DB", str(tmp_path / "from-env.duckdb"))
    assert resolve_db_path(tmp_path / "from-flag.duckdb", load_config()) == tmp_path / "from-flag.duckdb"


def test_an_empty_costlab_db_variable_falls_through_to_costlab_toml(tmp_path, monkeypatch):
    write_toml(tmp_path, "from-toml.duckdb")
    monkeypatch.setenv("COSTLAB_DB", "")
    assert resolve_db_path(None, load_config()) == tmp_path / "from-toml.duckdb"


def test_a_copy_of_the_test_template_is_the_same_store_as_a_fresh_one_and_opening_it_loads_nothing(
        store_template, new_store, tmp_path):
    """conftest's store fixtures copy one checkpointed template instead of migrating and pricing a store
    per test: the copy must hold what a fresh store holds, open read-write and price, and be up to date."""
    from costlab import pricing

    # The template as a copy finds it, before any open: every migration applied, the default catalogue loaded.
    con = duckdb.connect(str(store_template), read_only=True)
    try:
        assert {r[0] for r in con.execute("select name from _costlab_migrations").fetchall()} == {
            fn.__name__ for fn in migrations.MIGRATIONS}
        assert con.execute("select value from _costlab_meta where key = 'pricing_fingerprint'").fetchone() == (
            pricing.fingerprint(Config()),)
    finally:
        con.close()
    with open_store(tmp_path / "fresh.duckdb", Config()) as fresh, new_store(tmp_path / "copy.duckdb") as copy:
        tables = [r[0] for r in fresh.rows("select table_name from duckdb_tables() "
                                           "where database_name = current_database() order by 1")]
        assert tables == [r[0] for r in copy.rows("select table_name from duckdb_tables() "
                                                   "where database_name = current_database() order by 1")]
        for table in tables:
            query = f"select * exclude (applied_at) from {table}" if table == "_costlab_migrations" else f"select * from {table}"
            a, b = fresh.frame(query), copy.frame(query)
            assert a.sort(a.columns, nulls_last=True).equals(b.sort(b.columns, nulls_last=True)), table
        assert copy.scalar("select costlab_price_version()") == fresh.scalar("select costlab_price_version()")
        assert fresh.scalar("select count(*) from prices") > 0
        copy.execute("insert into requests (request_id, ts, source, platform, model, input_tokens, output_tokens) "
                     "values ('a', '2026-11-10 12:00:00+00', 't', 'anthropic', 'claude-opus-5-5', 1000, 0)")
        assert copy.scalar("select cost_usd from costed_requests") == Decimal("0.004")
