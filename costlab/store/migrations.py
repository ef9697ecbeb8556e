"""The store's schema history: append-only, named, recorded in `_costlab_migrations`.

Never edit a migration that has shipped; add a new one. `Store` runs every pending migration when it
opens a file, so an old store upgrades itself the first time a newer costlab opens it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import duckdb

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_requests_and_ingest(con: duckdb.DuckDBPyConnection) -> None:
    # The canonical request (costlab/schema.py documents every column). No PRIMARY KEY: DuckDB keeps
    # ART indexes in memory and slows bulk appends; ingest de-duplicates with an anti-join instead.
    con.execute(
        """
        create sequence ingest_id_seq start 1;
        create table requests (
            request_id VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, platform VARCHAR, model VARCHAR,
            service_tier VARCHAR, speed VARCHAR, inference_geo VARCHAR,
            input_tokens BIGINT, output_tokens BIGINT, cache_read_tokens BIGINT,
            cache_write_5m_tokens BIGINT, cache_write_1h_tokens BIGINT,
            web_search_requests INTEGER, web_fetch_requests INTEGER,
            latency_ms DOUBLE, ttft_ms DOUBLE,
            status VARCHAR, error_type VARCHAR, http_status SMALLINT, stop_reason VARCHAR,
            feature VARCHAR, user_id VARCHAR, customer_id VARCHAR, session_id VARCHAR, trace_id VARCHAR,
            parent_request_id VARCHAR, attempt SMALLINT, feedback_score DOUBLE,
            reported_cost_usd DECIMAL(18,9), source VARCHAR NOT NULL, ingest_id BIGINT, attributes JSON
        );
        -- Bodies live apart so the main table stays narrow and a user can ingest without them.
        create table payloads (
            source VARCHAR NOT NULL, request_id VARCHAR NOT NULL, request_json JSON, response_text VARCHAR
        );
        create table ingests (
            ingest_id BIGINT PRIMARY KEY, file VARCHAR NOT NULL, size BIGINT, sha256 VARCHAR,
            format VARCHAR, rows_read BIGINT, rows_added BIGINT, rows_present BIGINT,
            rows_rejected BIGINT, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ
        );
        create table rejects (
            ingest_id BIGINT, file VARCHAR NOT NULL, line BIGINT, reason VARCHAR NOT NULL, raw VARCHAR
        );
        """
    )


@migration
def m002_prices_and_models(con: duckdb.DuckDBPyConnection) -> None:
    # Prices are effective-dated: a change adds a row with a later valid_from, never edits one, so
    # history re-prices at the rate that was in force. `origin` says whether a row is the built-in
    # catalogue, an import or costlab.toml; `priority` decides between rows that overlap.
    con.execute(
        """
        create table prices (
            model VARCHAR NOT NULL, speed VARCHAR NOT NULL DEFAULT 'standard',
            band_min_tokens BIGINT NOT NULL DEFAULT 0,
            valid_from TIMESTAMPTZ NOT NULL, valid_to TIMESTAMPTZ,
            input DECIMAL(18,9) NOT NULL, output DECIMAL(18,9) NOT NULL,
            cache_write_5m DECIMAL(18,9), cache_write_1h DECIMAL(18,9), cache_read DECIMAL(18,9),
            web_search_per_1k DECIMAL(18,9), batch_factor DECIMAL(18,9) DEFAULT 0.5,
            us_geo_factor DECIMAL(18,9), regional_factor DECIMAL(18,9) DEFAULT 1,
            origin VARCHAR NOT NULL, priority INTEGER NOT NULL DEFAULT 0, source VARCHAR
        );
        -- Negotiated discounts: a factor on every rate of a model (or '*') on a platform (or '*').
        create table price_discounts (
            model VARCHAR NOT NULL, platform VARCHAR NOT NULL, valid_from TIMESTAMPTZ NOT NULL,
            valid_to TIMESTAMPTZ, factor DECIMAL(18,9) NOT NULL, origin VARCHAR NOT NULL, source VARCHAR
        );
        create table models (
            model VARCHAR PRIMARY KEY, tier VARCHAR, family VARCHAR, generation VARCHAR,
            context_window BIGINT, max_output BIGINT, released DATE, lifecycle VARCHAR,
            retirement_date DATE, replacement VARCHAR, new_tokenizer BOOLEAN, origin VARCHAR, source VARCHAR
        );
        create table model_aliases (alias VARCHAR PRIMARY KEY, model VARCHAR NOT NULL, origin VARCHAR);
        create table _costlab_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
        """
    )


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create table if not exists _costlab_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ)"
    )


def applied(con: duckdb.DuckDBPyConnection) -> set[str]:
    ensure_table(con)
    return {row[0] for row in con.execute("select name from _costlab_migrations").fetchall()}


def pending(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The migrations this store has not had yet, without writing (it may be open read-only)."""
    has_log = con.execute(
        "select count(*) from duckdb_tables() where table_name = '_costlab_migrations' "
        "and database_name = current_database()").fetchone()[0]
    done = {row[0] for row in con.execute("select name from _costlab_migrations").fetchall()} if has_log else set()
    return [fn.__name__ for fn in MIGRATIONS if fn.__name__ not in done]


def migrate(con: duckdb.DuckDBPyConnection, upto: int | None = None) -> list[str]:
    """Apply every pending migration (or the first `upto`), each in its own transaction.

    Returns the names applied now.
    """
    done = applied(con)
    ran: list[str] = []
    for fn in MIGRATIONS[:upto]:
        if fn.__name__ in done:
            continue
        con.execute("begin transaction")
        try:
            fn(con)
            con.execute(
                "insert into _costlab_migrations values (?, ?)",
                [fn.__name__, datetime.now(timezone.utc)],
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        ran.append(fn.__name__)
    return ran


@migration
def m003_replay(con: duckdb.DuckDBPyConnection) -> None:
    # Replay runs (docs/replay.md). These tables are read by what-if: columns may be added, never renamed.
    # One row per (run, source, request_id, tier) in replays; no PRIMARY KEY (ART indexes slow appends):
    # the writer inserts only pairs that are not there yet, which is what makes resume never pay twice.
    # status: ok | error | not_sent, plus 'sending' while a request is in flight (left behind only by a
    # kill -9: such a request may have been billed, so resume reports it instead of re-sending it).
    con.execute(
        """
        create table replay_runs (
            run VARCHAR PRIMARY KEY, created_at TIMESTAMPTZ, kind VARCHAR, params JSON, status VARCHAR,
            tiers VARCHAR[], judge VARCHAR, max_usd DECIMAL(18,9), notes VARCHAR
        );
        create table replay_sample (run VARCHAR, source VARCHAR, request_id VARCHAR, stratum VARCHAR);
        create table replays (
            run VARCHAR, source VARCHAR, request_id VARCHAR, tier VARCHAR, model VARCHAR, status VARCHAR,
            started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, latency_ms DOUBLE,
            input_tokens BIGINT, output_tokens BIGINT, cache_read_tokens BIGINT,
            cache_write_5m_tokens BIGINT, cache_write_1h_tokens BIGINT, cost_usd DECIMAL(18,9),
            stop_reason VARCHAR, response_text VARCHAR, error_type VARCHAR, error_message VARCHAR,
            not_carried JSON, provider_request_id VARCHAR, service_tier VARCHAR
        );
        create table judgements (
            run VARCHAR, source VARCHAR, request_id VARCHAR, tier VARCHAR, judge VARCHAR, verdict VARCHAR,
            score DOUBLE, good BOOLEAN, order_consistent BOOLEAN, judge_cost_usd DECIMAL(18,9), details JSON
        );
        -- A Message Batch is recorded the moment it is created, so a resumed run polls it instead of
        -- paying for a second one.
        create table replay_batches (
            run VARCHAR, batch_id VARCHAR, custom_id VARCHAR, source VARCHAR, request_id VARCHAR, tier VARCHAR,
            created_at TIMESTAMPTZ
        );
        """
    )


@migration
def m004_usage_buckets(con: duckdb.DuckDBPyConnection) -> None:
    # What the provider says was used and billed (Admin API usage and cost reports), one row per
    # bucket x grouping x (for cost) cost/token type; `bucket_key` identifies a row across re-pulls so
    # a later pull of the same bucket replaces it (reports are revised while a day is still open).
    # Cost `amount` arrives as a decimal string in cents; amount_usd is it / 100, exact.
    # s3_objects: every S3 object ingested, so a second run reads only new objects (key, size, ETag).
    con.execute(
        """
        create table usage_buckets (
            report VARCHAR NOT NULL, starting_at TIMESTAMPTZ NOT NULL, ending_at TIMESTAMPTZ,
            model VARCHAR, model_raw VARCHAR, service_tier VARCHAR, context_window VARCHAR, inference_geo VARCHAR,
            api_key_id VARCHAR, workspace_id VARCHAR, description VARCHAR, cost_type VARCHAR, token_type VARCHAR,
            uncached_input_tokens BIGINT, output_tokens BIGINT, cache_read_input_tokens BIGINT,
            cache_write_5m_tokens BIGINT, cache_write_1h_tokens BIGINT, web_search_requests BIGINT,
            amount_usd DECIMAL(18,9), currency VARCHAR, bucket_key VARCHAR NOT NULL, origin VARCHAR,
            ingest_id BIGINT, loaded_at TIMESTAMPTZ
        );
        create table s3_objects (
            url VARCHAR NOT NULL, bucket VARCHAR NOT NULL, key VARCHAR NOT NULL, size BIGINT, etag VARCHAR,
            ingest_id BIGINT, ingested_at TIMESTAMPTZ
        );
        """
    )


@migration
def m005_replay_platform_geo(con: duckdb.DuckDBPyConnection) -> None:
    # Where each replay was sent and the price card's geo class it was priced at: on the Claude API a
    # replayed body carrying inference_geo "us" is priced at the US-only rate, so the class is per row,
    # not per run. Rows written before this were priced at their run's platform and per-tier geo
    # (replay_runs.params; runs from before platforms were recorded are Claude API, global); imported
    # outcomes were never sent and stay NULL.
    con.execute(
        """
        alter table replays add column platform VARCHAR;
        alter table replays add column geo_class VARCHAR;
        update replays x
           set platform = coalesce(u.params->>'platform', 'anthropic'),
               geo_class = coalesce(u.params->'geo'->>x.tier, 'global')
          from replay_runs u
         where u.run = x.run and u.kind = 'replay';
        """
    )


@migration
def m006_stored_prices(con: duckdb.DuckDBPyConnection) -> None:
    # Each request's price, computed once (at ingest, or when the price card changes) instead of by a
    # join in every query over costed_requests: the weekly report over 10M requests spent most of its
    # time pricing. NULL price_version marks the rows not priced yet; the store prices them when it
    # is next opened read-write, and costed_requests prices them as it reads them until then.
    con.execute(
        """
        alter table requests add column tier VARCHAR;
        alter table requests add column priced BOOLEAN;
        alter table requests add column unpriced_reason VARCHAR;
        alter table requests add column cost_input_usd DECIMAL(18,9);
        alter table requests add column cost_output_usd DECIMAL(18,9);
        alter table requests add column cost_cache_write_usd DECIMAL(18,9);
        alter table requests add column cost_cache_read_usd DECIMAL(18,9);
        alter table requests add column cost_tools_usd DECIMAL(18,9);
        alter table requests add column cost_usd DECIMAL(18,9);
        alter table requests add column price_multiplier DECIMAL(18,9);
        alter table requests add column price_version UBIGINT;
        """
    )


@migration
def m007_ingest_payloads(con: duckdb.DuckDBPyConnection) -> None:
    # Whether an ingest stored the file's payloads: a file first read with --no-payloads is read again
    # when payloads are asked for (its requests are not added twice; only the missing payloads are).
    # NULL (ingests before this migration): taken as stored, as those runs were treated.
    con.execute("alter table ingests add column payloads BOOLEAN;")


@migration
def m008_replay_in_doubt(con: duckdb.DuckDBPyConnection) -> None:
    # A paid call whose outcome costlab never learnt (in flight at a kill -9, or a timeout or dropped
    # connection after it was sent) may have been billed: its worst case is booked here, apart from the
    # real spend, and counted against --max-usd like it (replays: status 'sending' or an error whose
    # attempts went unanswered; judgements: details.in_doubt). Older rows have none (NULL counts as 0).
    con.execute(
        """
        alter table replays add column in_doubt_usd DECIMAL(18,9);
        alter table judgements add column in_doubt_usd DECIMAL(18,9);
        """
    )


@migration
def m009_sample_weight(con: duckdb.DuckDBPyConnection) -> None:
    # How many requests each row stands for (costlab/schema.py sample_weight): 1 for every row logged
    # before (a complete log), 1 / the rate for a sampled log. Every cost, request and token sum is
    # weighted by it. DECIMAL, not DOUBLE: a weighted cost stays exact decimal arithmetic; 38 digits, since
    # DuckDB keeps the product of two DECIMAL(18,x) at width 18 (a $5 request at weight 1000 overflowed
    # DECIMAL(18,15)), and a DECIMAL(38,6) weight makes every product DECIMAL(38,...). NOT NULL, so
    # no query needs a coalesce (a row inserted without it gets the default).
    con.execute(
        """
        alter table requests add column sample_weight DECIMAL(38,6) DEFAULT 1;
        update requests set sample_weight = 1 where sample_weight is null;
        alter table requests alter column sample_weight set not null;
        """
    )


@migration
def m010_replay_run_evidence(con: duckdb.DuckDBPyConnection) -> None:
    # What a replay run's evidence may feed. A run against the costlab test server (or any base URL
    # that is not the platform's own API) is marked 'test' when it is planned or sent; any run can be
    # 'excluded' (kept, ignored); `costlab replay include RUN` makes one count again ('production').
    # No row (every run before this, imports): production. A table of its own, not columns of
    # replay_runs, so the writers' positional inserts into replay_runs stay as they are.
    # replay_runs_ignored is the one place the production figures read it: what-if's evidence
    # (queries/whatif/evidence/), the report's frontier and the over-modeling detector leave these
    # runs' replays and judgements out.
    con.execute(
        """
        create table replay_run_evidence (
            run VARCHAR NOT NULL, evidence VARCHAR NOT NULL, base_url VARCHAR, reason VARCHAR, set_at TIMESTAMPTZ
        );
        create view replay_runs_ignored as
            select run, evidence, reason from replay_run_evidence where evidence in ('test', 'excluded');
        """
    )


@migration
def m011_alert_state(con: duckdb.DuckDBPyConnection) -> None:
    # What `costlab alert` last told each destination about each finding (costlab/alerts/memory.py).
    # One row per destination and finding identity: the source (signals, budgets, ...), the detector
    # (`signal`) and its key (`segment`), never the day-varying evidence; `severity` is the severity
    # last sent. A finding whose identity and severity match an open row is not sent again; one at
    # another severity is sent as changed; an open row whose finding is gone is marked cleared (and
    # announced once where the destination asks). Written only after the destination took the message.
    con.execute(
        """
        create table alert_state (
            destination VARCHAR NOT NULL, source VARCHAR NOT NULL, signal VARCHAR NOT NULL,
            segment VARCHAR NOT NULL, severity VARCHAR NOT NULL, cleared BOOLEAN NOT NULL DEFAULT false,
            first_sent_at TIMESTAMPTZ NOT NULL, last_sent_at TIMESTAMPTZ NOT NULL, cleared_at TIMESTAMPTZ,
            evidence VARCHAR, weekly_impact_usd DECIMAL(18,6),
            PRIMARY KEY (destination, source, signal, segment)
        );
        """
    )


@migration
def m012_list_price(con: duckdb.DuckDBPyConnection) -> None:
    # Gross and net of negotiated discounts: each request's cost at list price (every multiplier but
    # the discount: batch, residency and regional rates are list prices of those services), stored
    # beside cost_usd (net). NULL on the rows priced before; the pricing SQL changed with it, so the
    # price version changed too and a read-write open re-prices every row, filling it.
    con.execute("alter table requests add column cost_list_usd DECIMAL(18,9);")



@migration
def m013_link_keys(con: duckdb.DuckDBPyConnection) -> None:
    # Link keys (issue 15): a 64-bit key of request_id and of parent_request_id on each row, so the
    # detectors that follow re-sent requests (under_modeling, escalation_spike) join integers instead
    # of decoding every id string. Derived like the stored prices and written with them
    # (costlab_store_rows in queries/internal/price_rows.sql): NULL on the rows priced before; the
    # pricing SQL changed with them, so the price version changed too and a read-write open re-prices
    # (and keys) every row, as m012 did. A row whose price is stale has stale keys: costed_requests
    # computes both as it reads it.
    con.execute(
        """
        alter table requests add column request_key UBIGINT;
        alter table requests add column parent_key UBIGINT;
        """
    )
