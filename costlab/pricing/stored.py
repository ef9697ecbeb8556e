"""The pricing tables in a store: load the catalogue when it changed, version the price card,
re-price stale requests, and read stored prices (`refresh` does all of it at each read-write open)."""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from costlab.config import Config
from costlab.errors import ConfigError, did_you_mean
from costlab.pricing.catalogue import DISCOUNT_COLUMNS, MODEL_COLUMNS, PRICE_COLUMNS, Tables, build_tables, catalogue_text
from costlab.progress import rows_bar
from costlab.store import queries
from costlab.store.sqlquote import literal

if TYPE_CHECKING:
    from costlab.store import Store


def refresh(store: "Store", force: bool = False) -> None:
    """Bring the price catalogue, config overrides, macros, price card, views and stored prices up to date."""
    # Order matters: macros, then the price card (a table built from prices), then what reads it.
    store.execute_script(queries.load("internal/macros").text)
    if sync(store, store.config) or force or not store.has_table("price_card"):
        store.execute_script(queries.load("internal/price_card").text)
    store.execute_script(queries.load("internal/tier_ladder").text)
    store.execute_script(queries.load("internal/price_rows").text)
    define_version(store)
    store.execute_script(queries.load("views/costed_requests").text)
    reprice(store)


def fingerprint(config: Config) -> str:
    payload = json.dumps([config.prices, config.discounts, config.models], default=str, sort_keys=True)
    return hashlib.sha256((catalogue_text() + payload).encode()).hexdigest()


def outdated(store: "Store", config: Config) -> bool:
    """True when costlab.toml's prices, models or discounts (or the catalogue) changed since the
    store was last opened read-write: a read-only open reads the prices as of then."""
    stored = store.scalar("select value from _costlab_meta where key = 'pricing_fingerprint'")
    return stored is not None and stored != fingerprint(config)


def sync(store: "Store", config: Config) -> bool:
    """Load the catalogue and overrides into the store when they changed; True if anything did."""
    fp = fingerprint(config)
    if store.scalar("select value from _costlab_meta where key = 'pricing_fingerprint'") == fp:
        return False
    tables = build_tables(config)
    _check_discount_models(store, config, tables)
    with store.transaction():
        for table in ("prices", "models", "model_aliases"):
            store.execute(f"delete from {table} where origin in ('builtin', 'config')")
        store.execute("delete from price_discounts where origin = 'config'")
        store.insert_rows("prices", PRICE_COLUMNS, tables.prices)
        store.insert_rows("price_discounts",
                DISCOUNT_COLUMNS, tables.discounts)
        # An imported model that the catalogue now knows yields to the catalogue's entry.
        store.execute("delete from models where origin = 'import' and model in (select unnest(?))",
                      [[r[0] for r in tables.models]])
        store.insert_rows("models", MODEL_COLUMNS, tables.models)
        store.execute("delete from model_aliases where alias in (select unnest(?))", [[r[0] for r in tables.aliases]])
        store.insert_rows("model_aliases", ("alias", "model", "origin"),
                list({r[0]: r for r in tables.aliases}.values()))
        store.execute("insert or replace into _costlab_meta values ('pricing_fingerprint', ?)", [fp])
    return True


# -- stored prices ------------------------------------------------------------------------------
# Rows re-priced per transaction: bounds the memory of a full re-price of a large store, and each
# committed chunk stays done if the process stops.
REPRICE_CHUNK_ROWS = 2_000_000
_STALE = "(price_version is null or price_version <> costlab_price_version())"


def define_version(store: "Store") -> int:
    """(Re)define costlab_price_version(): a hash of everything a stored price depends on.

    The resolved price card, each model's tier, which (model, speed) pairs have prices (the unpriced
    reasons), and the pricing SQL itself; a change in any of them makes every stored price stale.
    Runs at each read-write open, after the price card is built (about 10 ms). The link keys stored
    with each price (request_key, parent_key: DuckDB's hash() of the ids) are current with it, so the
    version also holds hash()'s value on a fixed string: a DuckDB whose hash() differs re-keys every row.
    """
    version = store.scalar(
        """select hash(
               (select coalesce(string_agg(c::VARCHAR, '|' order by c::VARCHAR), '') from price_card c),
               (select coalesce(string_agg(model || '=' || coalesce(tier, ''), '|' order by model), '') from models),
               (select coalesce(string_agg(distinct model || '/' || speed, '|' order by model || '/' || speed), '')
                from prices),
               $text, hash('costlab request_key'))""",
        {"text": queries.load("internal/price_rows").text},
    )
    store.execute(f"create or replace macro costlab_price_version() as CAST({int(version)} AS UBIGINT)")
    return int(version)


def stale_count(store: "Store", since: Any = None, until: Any = None) -> int:
    """Requests in [since, until) (default: all) that costed_requests would price as it reads them."""
    where = " and ".join(w for w, v in (("ts >= $since", since), ("ts < $until", until)) if v is not None)
    params = {k: v for k, v in (("since", since), ("until", until)) if v is not None}
    # A store last opened read-write by a costlab from before stored prices has no stale_requests
    # (a read-only open does not migrate): none of its rows has a stored price.
    stored = store.scalar("select count(*) from duckdb_views() where view_name = 'stale_requests' "
                          "and database_name = current_database()")
    source = "stale_requests" if stored else "requests"
    return int(store.scalar(f"select count(*) from {source}" + (f" where {where}" if where else ""), params))


def keyed(store: "Store") -> bool:
    """Whether requests has the link keys (m013: request_key, parent_key). A store last opened read-write
    by a costlab from before them, opened read-only, has not: its stored prices cannot stand in for
    costed_requests' columns (the detectors' window computes the keys from the ids instead)."""
    return bool(store.scalar("select count(*) from duckdb_columns() where table_name = 'requests' "
                             "and column_name = 'request_key' and database_name = current_database()"))


def stale_keys(store: "Store") -> int:
    """Mark stale (price_version NULL) every row whose link keys no longer match its ids; their number.

    The keys are written with the price (costlab_store_rows) and trusted while the price is current,
    so an edit of request_id or parent_request_id that leaves price_version alone (`costlab sql
    --write`, which calls this after a statement that names requests) would leave them wrong. One scan
    hashing both ids (~1 s of CPU per 10M rows); the next read-write open re-prices and re-keys the rows
    marked, and costed_requests prices and keys them as it reads them until then.
    """
    if not keyed(store):
        return 0
    where = ("price_version is not null and (request_key is distinct from costlab_request_key(request_id) "
             "or parent_key is distinct from costlab_request_key(parent_request_id))")
    n = int(store.scalar(f"select count(*) from requests where {where}") or 0)
    if n:
        store.execute(f"update requests set price_version = null where {where}")
    return n


def shadow_with_stored(store: "Store", since: Any = None, until: Any = None) -> None:
    """For this connection, let costed_requests be the stored prices of [since, until) (a temp view).

    The caller has checked that stale_count(since, until) is 0, so the rows are exactly the view's.
    Undo with drop_shadow.
    """
    bounds = store.rows("select $since::TIMESTAMPTZ::VARCHAR, $until::TIMESTAMPTZ::VARCHAR",
                        {"since": since, "until": until})[0]
    # Literals, not parameters: a view keeps no parameters. They are our own timestamps' text.
    where = " and ".join(f"ts {op} {literal(b)}::TIMESTAMPTZ" for op, b in ((">=", bounds[0]), ("<", bounds[1])) if b)
    store.execute("create or replace temp view costed_requests as from costlab_stored_prices()"
                  + (f" where {where}" if where else ""))


@contextmanager
def stored_prices(store: "Store", since: Any = None, until: Any = None) -> Iterator[bool]:
    """Inside the block, costed_requests reads the stored prices of [since, until) alone, when that
    window has no stale rows and nothing else already shadows the view for this connection.

    Yields whether it did. Reading the stored columns directly, the planner sees one table scan
    instead of the view's union with the rows it would price as it reads them: the what-if pass is
    ~15% faster, and the detectors' joins are planned well (see costed_requests.sql).
    """
    shadowed = store.scalar("select count(*) from duckdb_views() where view_name = 'costed_requests' and temporary") or \
        store.scalar("select count(*) from duckdb_tables() where table_name = 'costed_requests' and temporary")
    if shadowed or stale_count(store, since, until) or not keyed(store):
        yield False
        return
    shadow_with_stored(store, since, until)
    try:
        yield True
    finally:
        drop_shadow(store)


def drop_shadow(store: "Store") -> None:
    """Remove a temporary costed_requests (this view, or a caller's priced table) of this connection."""
    for kind, catalog in (("view", "duckdb_views() where view_name"), ("table", "duckdb_tables() where table_name")):
        if store.scalar(f"select count(*) from {catalog} = 'costed_requests' and temporary"):
            store.execute(f"drop {kind} temp.costed_requests")


def reprice(store: "Store", chunk_rows: int = REPRICE_CHUNK_ROWS) -> int:
    """Write the current price card's prices into every request whose stored price is stale.

    Stale: never priced (price_version NULL: inserted by hand, or a store from before stored prices)
    or priced under another card. Returns the number of rows re-priced. A store with nothing stale
    costs one scan of price_version (milliseconds). Shows a bar on stderr when it has work.

    Each chunk of stale rows is appended again, priced, and the stale originals deleted, in one
    transaction; not an UPDATE: DuckDB drops a column's distinct-count statistics when it is
    updated, and without them the planner mis-orders the detectors' joins (one ran 60x slower).
    """
    n = store.scalar(f"select count(*) from requests where {_STALE}")
    if not n:
        return 0
    with rows_bar(n, f"pricing {n:,} requests at the current prices") as bar:
        # Each round takes the stale rows from the lowest stale rowid on, asked afresh: a checkpoint
        # between rounds may compact row groups and renumber rows.
        while (start := store.scalar(f"select min(rowid) from requests where {_STALE}")) is not None:
            chunk = f"{_STALE} and rowid >= {int(start)} and rowid < {int(start) + chunk_rows}"
            # A view, not a parameter: query_table in costlab_price_rows takes a name.
            store.execute(f"create or replace temp view _costlab_reprice as select * from requests where {chunk}")
            with store.transaction():
                done = store.scalar("select count(*) from _costlab_reprice")
                before = bar.done
                # The appended rows carry the current version, so `chunk` no longer matches them.
                # The bar moves with DuckDB's progress of the insert (the pricing: nearly all the work).
                with store.progress((lambda fraction: bar.to(before + fraction * done)) if bar.shown else None):
                    # costlab_store_rows: the price, its version and the link keys (price_rows.sql)
                    store.execute("insert into requests by name from costlab_store_rows('_costlab_reprice')")
                store.execute(f"delete from requests where {chunk}")
            bar.to(before + done)
    store.execute("drop view if exists temp._costlab_reprice")
    return n


def _check_discount_models(store: "Store", config: Config, tables: Tables) -> None:
    """A discount for a model nothing knows is a typo that would silently discount nothing.

    Known: the catalogue, costlab.toml, imported prices, and models the logs already carry (so a
    discount can be written before `costlab prices import` brings that model's price).
    """
    wanted = {d[0] for d in tables.discounts} - {"*"}
    known = {r[0] for r in tables.models} | {r[0] for r in tables.prices}
    if not wanted - known:
        return
    known |= {r[0] for r in store.rows(
        "select model from models union select model from prices where origin = 'import' "
        "union select distinct model from requests where model is not null")}
    for model in sorted(wanted - known):
        raise ConfigError(
            f"{config.path or 'costlab.toml'}: discount for unknown model {model!r}.{did_you_mean(model, sorted(known))} "
            "Use a catalogue id (costlab prices list), a model from [[models]] or the logs, or '*' for every model."
        )


