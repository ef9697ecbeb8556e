"""Prices and models: the built-in catalogue, costlab.toml overrides, LiteLLM imports, checks.

Cost itself is computed in SQL (queries/views/costed_requests.sql over the resolved
queries/internal/price_card.sql); this module only fills the small `prices`, `price_discounts`,
`models` and `model_aliases` tables the SQL reads, and answers questions about them.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import polars as pl

from costlab import sql
from costlab.config import Config
from costlab.errors import ConfigError, InputError, UnknownModelError, did_you_mean
from costlab.sqlquote import literal, one_statement

if TYPE_CHECKING:
    from costlab.store import Store

PRIORITY = {"builtin": 0, "import": 10, "config": 20}
PRICE_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
PRICE_COLUMNS = (
    "model", "speed", "band_min_tokens", "valid_from", "valid_to", *PRICE_FIELDS, "web_search_per_1k",
    "batch_factor", "us_geo_factor", "regional_factor", "origin", "priority", "source",
)
MODEL_COLUMNS = (
    "model", "tier", "family", "generation", "context_window", "max_output", "released", "lifecycle",
    "retirement_date", "replacement", "new_tokenizer", "origin", "source",
)
# Keys a [[models]] / [[model]] entry may have: its columns, plus aliases and the two premium flags.
MODEL_KEYS = ("id", "model", "aliases", "us_geo", "regional_premium", *MODEL_COLUMNS[1:-2], "source")
# Keys a costlab.toml price row may set (origin and priority are costlab's to decide, not the row's).
PRICE_KEYS = tuple(c for c in PRICE_COLUMNS if c not in ("origin", "priority"))
DISCOUNT_KEYS = ("model", "platform", "valid_from", "valid_to", "factor", "percent_off", "source")
# The platforms the price card is built for (queries/internal/price_card.sql lists the same ones).
PLATFORMS = ("anthropic", "bedrock", "vertex", "foundry", "claude_aws", "other")


def catalogue_text() -> str:
    return (resources.files("costlab") / "data" / "catalogue.toml").read_text(encoding="utf-8")


def _money(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        amount = Decimal(str(value))
    except ArithmeticError as ex:
        raise ConfigError(f"{where}: expected a number, got {value!r}") from ex
    if not amount.is_finite():
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if amount < 0:
        raise ConfigError(f"{where}: prices cannot be negative ({value})")
    return amount


def _instant(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=timezone.utc)
    try:
        return _instant(date.fromisoformat(str(value)), where)
    except ValueError as ex:
        raise ConfigError(f"{where}: expected a date like 2026-10-07, got {value!r}") from ex


@dataclass(frozen=True)
class Tables:
    """Rows for the four pricing tables, ready to insert."""

    prices: list[tuple]
    discounts: list[tuple]
    models: list[tuple]
    aliases: list[tuple]


def _model_rows(entries: list[dict[str, Any]], origin: str, where: str) -> tuple[list[tuple], list[tuple], dict[str, dict]]:
    models, aliases, flags = [], [], {}
    for i, m in enumerate(entries, 1):
        if not isinstance(m, dict):
            raise ConfigError(f"{where}: model entry {i} is not a table")
        mid = m.get("id") or m.get("model")
        if not mid:
            raise ConfigError(f"{where}: model entry {i} has no id")
        unknown = sorted(set(m) - set(MODEL_KEYS))
        if unknown:
            raise ConfigError(f"{where}: model entry {i} ({mid}): unknown key {unknown[0]!r}."
                              f"{did_you_mean(unknown[0], MODEL_KEYS)}")
        mid = str(mid).lower()
        models.append((
            mid, m.get("tier"), m.get("family", m.get("tier")), m.get("generation"),
            m.get("context_window"), m.get("max_output"), m.get("released"), m.get("lifecycle", "active"),
            m.get("retirement_date"), m.get("replacement"), m.get("new_tokenizer"), origin, m.get("source"),
        ))
        aliases.append((mid, mid, origin))
        aliases.extend((str(a).lower(), mid, origin) for a in m.get("aliases", []))
        flags[mid] = m
    return models, aliases, flags


def _canonical(model: Any, aliases: dict[str, str]) -> str:
    """A model id as requests carry it: an alias (or a dated spelling of a known id) resolved.

    Requests are normalised at ingest, so an override written as 'claude-sonnet-4-5-20250929' must
    land on 'claude-sonnet-4-5' or it would silently match nothing (macros.sql costlab_model).
    """
    mid = str(model).strip().lower()
    if mid in aliases:
        return aliases[mid]
    undated = re.sub(r"-\d{8}$", "", mid)
    return aliases.get(undated, mid)


def _price_rows(entries: list[dict[str, Any]], origin: str, defaults: dict[str, Any],
                flags: dict[str, dict], where: str, aliases: dict[str, str] | None = None) -> list[tuple]:
    rows = []
    for i, p in enumerate(entries, 1):
        if not isinstance(p, dict):
            raise ConfigError(f"{where} price entry {i}: not a table")
        here = f"{where} price entry {i} ({p.get('model', '?')})"
        if "model" not in p:
            raise ConfigError(f"{here}: missing `model`")
        for key in ("input", "output", "valid_from"):
            if key not in p:
                raise ConfigError(f"{here}: missing `{key}`")
        unknown = set(p) - set(PRICE_KEYS)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(f"{here}: unknown key {key!r}.{did_you_mean(key, PRICE_KEYS)}")
        model = _canonical(p["model"], aliases or {})
        band = p.get("band_min_tokens", 0)
        if isinstance(band, bool) or not isinstance(band, int) or band < 0:
            raise ConfigError(f"{here}: band_min_tokens must be a whole number of prompt tokens, got {band!r}")
        m = flags.get(model, {})
        us = defaults.get("us_geo_factor") if m.get("us_geo", True) else None
        regional = defaults.get("regional_factor", 1) if m.get("regional_premium", True) else 1
        speed = p.get("speed", "standard")
        if speed not in ("standard", "fast"):
            raise ConfigError(f"{here}: speed must be standard or fast, not {speed!r}")
        start, end = _instant(p["valid_from"], here), _instant(p.get("valid_to"), here)
        if end is not None and end <= start:
            raise ConfigError(f"{here}: valid_to ({p.get('valid_to')}) must be after valid_from ({p['valid_from']})")
        rows.append((
            model, speed, band, start, end,
            *(_money(p.get(f), f"{here} {f}") for f in PRICE_FIELDS),
            _money(p.get("web_search_per_1k", defaults.get("web_search_per_1k")), here),
            _money(p.get("batch_factor", defaults.get("batch_factor", 0.5)), here),
            _money(p.get("us_geo_factor", us), here),
            _money(p.get("regional_factor", regional), here),
            origin, PRIORITY[origin], p.get("source", origin),
        ))
    return rows


def _discount_rows(entries: list[dict[str, Any]], where: str, aliases: dict[str, str] | None = None) -> list[tuple]:
    rows = []
    for i, d in enumerate(entries, 1):
        if not isinstance(d, dict):
            raise ConfigError(f"{where} discount entry {i}: not a table")
        here = f"{where} discount entry {i} ({d.get('model', '*')} on {d.get('platform', '*')})"
        # A misspelt `model` or `platform` would otherwise widen the discount to every model or platform.
        unknown = sorted(set(d) - set(DISCOUNT_KEYS))
        if unknown:
            raise ConfigError(f"{here}: unknown key {unknown[0]!r}.{did_you_mean(unknown[0], DISCOUNT_KEYS)}")
        if "factor" in d and "percent_off" in d:
            raise ConfigError(f"{here}: give `factor` or `percent_off`, not both")
        if "factor" in d:
            factor = _money(d["factor"], f"{here} factor")
        elif "percent_off" in d:
            factor = 1 - _money(d["percent_off"], f"{here} percent_off") / 100
        else:
            raise ConfigError(f"{here}: give `factor = 0.92` or `percent_off = 8`")
        if not 0 < factor <= 1:
            raise ConfigError(
                f"{here}: a discount multiplies list prices by a factor above 0 and at most 1 "
                f"(factor = 0.92 or percent_off = 8 for 8% off); this one gives {factor}"
            )
        if "valid_from" not in d:
            raise ConfigError(f"{here}: missing `valid_from` (the date the discount takes effect)")
        start, end = _instant(d["valid_from"], here), _instant(d.get("valid_to"), here)
        if end is not None and end <= start:
            raise ConfigError(f"{here}: valid_to ({d.get('valid_to')}) must be after valid_from ({d['valid_from']})")
        model = str(d.get("model", "*")).strip().lower()
        platform = str(d.get("platform", "*")).strip().lower()
        if platform != "*" and platform not in PLATFORMS:
            raise ConfigError(f"{here}: unknown platform {platform!r}.{did_you_mean(platform, PLATFORMS)} "
                              f"Platforms: {', '.join(PLATFORMS)}, or '*' for all.")
        rows.append((
            model if model == "*" else _canonical(model, aliases or {}), platform,
            start, end, factor, "config", d.get("source", "costlab.toml"),
        ))
    return rows


def build_tables(config: Config) -> Tables:
    """The built-in catalogue plus costlab.toml overrides, as table rows."""
    cat = tomllib.loads(catalogue_text())
    defaults = cat.get("defaults", {})
    models, aliases, flags = _model_rows(cat["model"], "builtin", "catalogue.toml")
    prices = _price_rows(cat["price"], "builtin", defaults, flags, "catalogue.toml")
    where = str(config.path or "costlab.toml")
    cm, ca, cflags = _model_rows(config.models, "config", where)
    known = {r[0] for r in models}
    models += [r for r in cm if r[0] not in known]
    aliases += ca
    alias_map = {alias: model for alias, model, _ in aliases}
    prices += _price_rows(config.prices, "config", defaults, {**flags, **cflags}, where, alias_map)
    return Tables(prices, _discount_rows(config.discounts, where, alias_map), models, aliases)


def _fingerprint(config: Config) -> str:
    payload = json.dumps([config.prices, config.discounts, config.models], default=str, sort_keys=True)
    return hashlib.sha256((catalogue_text() + payload).encode()).hexdigest()


def outdated(store: "Store", config: Config) -> bool:
    """True when costlab.toml's prices, models or discounts (or the catalogue) changed since the
    store was last opened read-write: a read-only open reads the prices as of then."""
    stored = store.scalar("select value from _costlab_meta where key = 'pricing_fingerprint'")
    return stored is not None and stored != _fingerprint(config)


def sync(store: "Store", config: Config) -> bool:
    """Load the catalogue and overrides into the store when they changed; True if anything did."""
    fp = _fingerprint(config)
    if store.scalar("select value from _costlab_meta where key = 'pricing_fingerprint'") == fp:
        return False
    tables = build_tables(config)
    _check_discount_models(store, config, tables)
    with store.transaction():
        for table in ("prices", "models", "model_aliases"):
            store.execute(f"delete from {table} where origin in ('builtin', 'config')")
        store.execute("delete from price_discounts where origin = 'config'")
        _insert(store, "prices", PRICE_COLUMNS, tables.prices)
        _insert(store, "price_discounts",
                ("model", "platform", "valid_from", "valid_to", "factor", "origin", "source"), tables.discounts)
        # An imported model that the catalogue now knows yields to the catalogue's entry.
        store.execute("delete from models where origin = 'import' and model in (select unnest(?))",
                      [[r[0] for r in tables.models]])
        _insert(store, "models", MODEL_COLUMNS, tables.models)
        store.execute("delete from model_aliases where alias in (select unnest(?))", [[r[0] for r in tables.aliases]])
        _insert(store, "model_aliases", ("alias", "model", "origin"),
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
    Runs at each read-write open, after the price card is built (about 10 ms).
    """
    version = store.scalar(
        """select hash(
               (select coalesce(string_agg(c::VARCHAR, '|' order by c::VARCHAR), '') from price_card c),
               (select coalesce(string_agg(model || '=' || coalesce(tier, ''), '|' order by model), '') from models),
               (select coalesce(string_agg(distinct model || '/' || speed, '|' order by model || '/' || speed), '')
                from prices),
               $text)""",
        {"text": sql.load("internal/price_rows").text},
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
    if shadowed or stale_count(store, since, until):
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
    from costlab.progress import rows_bar

    n = store.scalar(f"select count(*) from requests where {_STALE}")
    if not n:
        return 0
    with rows_bar(n, f"pricing {n:,} requests at the current prices") as advance:
        # Each round takes the stale rows from the lowest stale rowid on, asked afresh: a checkpoint
        # between rounds may compact row groups and renumber rows.
        while (start := store.scalar(f"select min(rowid) from requests where {_STALE}")) is not None:
            chunk = f"{_STALE} and rowid >= {int(start)} and rowid < {int(start) + chunk_rows}"
            # A view, not a parameter: query_table in costlab_price_rows takes a name.
            store.execute(f"create or replace temp view _costlab_reprice as select * from requests where {chunk}")
            with store.transaction():
                done = store.scalar("select count(*) from _costlab_reprice")
                # The appended rows carry the current version, so `chunk` no longer matches them.
                store.execute("insert into requests by name select * exclude (prompt_tokens), "
                              "costlab_price_version() as price_version from costlab_price_rows('_costlab_reprice')")
                store.execute(f"delete from requests where {chunk}")
            advance(done)
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


def _insert(store: "Store", table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    # One multi-row INSERT: executemany prepares and runs a statement per row, which made opening a
    # store (a few hundred catalogue rows) take ~0.1 s longer.
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        marks = "(" + ", ".join("?" for _ in columns) + ")"
        store.con.execute(one_statement(f"insert into {table} ({', '.join(columns)}) values {', '.join([marks] * len(chunk))}"),
                          [value for row in chunk for value in row])


# -- questions about prices ------------------------------------------------------------------------

def normalise(store: "Store", raw: str) -> str:
    """The catalogue id a raw model string bills as (same rules as ingest)."""
    return store.scalar("select costlab_model(?)", [raw])


def list_prices(store: "Store", at: datetime | None = None) -> pl.DataFrame:
    """The price of every model at `at` (default now): one row per model, speed and band."""
    return store.frame(
        """
        select c.model, m.tier, c.speed, c.band_min_tokens,
               -- fUSD per token x 1e-9 = $/MTok, as exact DECIMAL arithmetic (`/ 1e9` would be a DOUBLE).
               (c.input_fusd * 0.000000001)::DECIMAL(18,6) as input,
               (c.cache_write_5m_fusd * 0.000000001)::DECIMAL(18,6) as cache_write_5m,
               (c.cache_write_1h_fusd * 0.000000001)::DECIMAL(18,6) as cache_write_1h,
               (c.cache_read_fusd * 0.000000001)::DECIMAL(18,6) as cache_read,
               (c.output_fusd * 0.000000001)::DECIMAL(18,6) as output,
               m.lifecycle, m.retirement_date, c.origin
        from price_card c left join models m using (model)
        where c.platform = 'anthropic' and c.service_tier = 'standard' and c.geo_class = 'global'
          and c.seg_from <= $at and (c.seg_to is null or c.seg_to > $at)
        order by m.tier nulls last, c.input_fusd desc, c.model, c.speed, c.band_min_tokens
        """,
        {"at": at or datetime.now(timezone.utc)},
    )


def show_model(store: "Store", raw: str) -> dict[str, pl.DataFrame]:
    """Everything known about one model: its entry, aliases and full price history."""
    model = normalise(store, raw)
    info = store.frame("select * from models where model = $m", {"m": model})
    history = store.frame(
        """select model, speed, band_min_tokens, valid_from, valid_to, input, cache_write_5m, cache_write_1h,
                  cache_read, output, origin, source
           from prices where model = $m order by speed, band_min_tokens, valid_from""",
        {"m": model},
    )
    if info.is_empty() and history.is_empty():
        known = [r[0] for r in store.rows("select alias from model_aliases")]
        raise UnknownModelError(
            f"no model {raw!r} in the catalogue.{did_you_mean(model, known)} "
            "Add it under [[models]] and [[prices]] in costlab.toml, or run `costlab prices import`."
        )
    aliases = store.frame("select alias from model_aliases where model = $m and alias <> $m order by alias", {"m": model})
    return {"model": info, "aliases": aliases, "prices": history}


def unpriced(store: "Store") -> pl.DataFrame:
    """Requests without a price, grouped by model and reason (empty when everything is priced)."""
    return store.frame(
        """select model, unpriced_reason as reason, count(*)::BIGINT as requests,
                  sum(prompt_tokens)::BIGINT as prompt_tokens, sum(coalesce(output_tokens, 0))::BIGINT as output_tokens,
                  min(ts) as first_seen, max(ts) as last_seen
           from costed_requests where not priced group by all order by requests desc"""
    )


# -- LiteLLM import ----------------------------------------------------------------------------------

_LITELLM_FIELDS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_write_5m": "cache_creation_input_token_cost",
    "cache_write_1h": "cache_creation_input_token_cost_above_1hr",
    "cache_read": "cache_read_input_token_cost",
}
_PREFERRED_PROVIDER = {"anthropic": 0, "bedrock": 1, "bedrock_converse": 1, "vertex_ai": 2,
                       "vertex_ai-anthropic_models": 2}


def import_litellm(store: "Store", path: Path, valid_from: date | None = None,
                   override: bool = False, match: str = "claude") -> pl.DataFrame:
    """Read LiteLLM's model_prices_and_context_window.json into `prices` as origin 'import'.

    By default only models the catalogue lacks are imported (LiteLLM's map has no effective dates
    and lags releases); `override` imports every matching entry, ranked above the catalogue.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as ex:
        raise InputError(f"{path}: not a LiteLLM price map (model_prices_and_context_window.json): {ex}") from ex
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object keyed by model name, as LiteLLM's price map is")
    start = _instant(valid_from or date(1970, 1, 1), "--valid-from")
    chosen: dict[str, tuple[int, dict[str, Any], str]] = {}
    for key, entry in data.items():
        if key == "sample_spec" or not isinstance(entry, dict) or match not in key.lower():
            continue
        if entry.get("mode", "chat") != "chat" or "input_cost_per_token" not in entry:
            continue
        model = normalise(store, key)
        rank = _PREFERRED_PROVIDER.get(str(entry.get("litellm_provider", "")), 9)
        if model not in chosen or rank < chosen[model][0]:
            chosen[model] = (rank, entry, key)
    catalogue = {r[0] for r in store.rows("select model from prices where origin = 'builtin'")}
    # Models the catalogue or costlab.toml already describe keep their entry (tier, lifecycle); an
    # import only adds prices for them (and a costlab.toml price still outranks an imported one).
    described = {r[0] for r in store.rows("select model from models where origin <> 'import'")}
    rows, models = [], []
    for model, (_, e, key) in sorted(chosen.items()):
        if model in catalogue and not override:
            continue
        per_mtok = {f: _per_mtok(e, k, path, key) for f, k in _LITELLM_FIELDS.items()}
        base = dict(model=model, valid_from=start, source=f"LiteLLM price map {Path(path).name}: {key}")
        rows.append(_litellm_price(base, per_mtok, 0))
        above = {f: _per_mtok(e, f"{k}_above_200k_tokens", path, key) for f, k in _LITELLM_FIELDS.items()}
        if above["input"] is not None:
            rows.append(_litellm_price(base, _above_band(per_mtok, above), 200001))
        tier = next((t for t in ("haiku", "sonnet", "opus", "fable", "mythos") if t in model), None)
        models.append((model, tier, tier, None, e.get("max_input_tokens"), e.get("max_output_tokens"), None,
                       "active", e.get("deprecation_date"), None, None, "import", base["source"]))
    with store.transaction():
        store.execute("delete from prices where origin = 'import' and model in (select unnest(?))", [[r[0] for r in rows]])
        _insert(store, "prices", PRICE_COLUMNS, rows)
        new_models = [m for m in models if m[0] not in catalogue and m[0] not in described]
        store.execute("delete from models where origin = 'import' and model in (select unnest(?))", [[m[0] for m in new_models]])
        _insert(store, "models", MODEL_COLUMNS, new_models)
        _insert(store, "model_aliases", ("alias", "model", "origin"),
                [(m[0], m[0], "import") for m in new_models
                 if not store.scalar("select count(*) from model_aliases where alias = ?", [m[0]])])
    store.refresh(force=True)
    return pl.DataFrame({"model": [r[0] for r in rows], "band_min_tokens": [r[2] for r in rows],
                         "input": [r[5] for r in rows], "output": [r[6] for r in rows]},
                        schema={"model": pl.String, "band_min_tokens": pl.Int64,
                                "input": pl.Decimal(18, 9), "output": pl.Decimal(18, 9)})


def _above_band(base: dict[str, Decimal | None], above: dict[str, Decimal | None]) -> dict[str, Decimal | None]:
    """The >200K band's rates, where the map gives only some of them.

    Anthropic prices cache writes and reads as multiples of the input rate in force, and the band
    raises that input rate, so a cache rate the entry leaves out scales with the input (the >200K 1h
    write of Sonnet 4.5 is 2 x $6 = $12, not the <=200K $6). Falling back to the low band's cache
    rate, as a plain `or` would, under-bills long-context cache use (LiteLLM #16377). A missing
    output rate keeps the base rate (LiteLLM's own fallback): the output premium is not the input's.
    """
    rates = dict(above)
    if rates["output"] is None:
        rates["output"] = base["output"]
    for f in ("cache_write_5m", "cache_write_1h", "cache_read"):
        if rates[f] is None and base[f] is not None and base["input"]:
            rates[f] = (base[f] * above["input"] / base["input"]).quantize(Decimal("0.000000001"))
        # Both missing: left NULL, and the price card derives 1.25x / 2x / 0.1x of the band's input.
    return rates


def _per_mtok(entry: dict[str, Any], field: str, path: Path, key: str) -> Decimal | None:
    """A LiteLLM $/token figure as $/MTok. repr() of the JSON float is its shortest decimal spelling
    (3.75e-06 -> '3.75e-06'), so the result is the decimal the file wrote, not the binary float."""
    value = entry.get(field)
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        amount = (Decimal(repr(float(value))) * 1_000_000).quantize(Decimal("0.000000001"))
    except (TypeError, ValueError, ArithmeticError) as ex:
        raise InputError(f"{path}: {key}.{field} is not a price: {value!r}") from ex
    if not amount.is_finite() or amount < 0:
        raise InputError(f"{path}: {key}.{field} is not a price: {value!r}")
    return amount


def _litellm_price(base: dict[str, Any], p: dict[str, Decimal | None], band: int) -> tuple:
    return (
        base["model"], "standard", band, base["valid_from"], None,
        p["input"], p["output"], p["cache_write_5m"], p["cache_write_1h"], p["cache_read"],
        Decimal(10), Decimal("0.5"), None, Decimal(1), "import", PRIORITY["import"], base["source"],
    )
