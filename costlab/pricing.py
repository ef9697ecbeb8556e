"""Prices and models: the built-in catalogue, costlab.toml overrides, LiteLLM imports, checks.

Cost itself is computed in SQL (queries/views/costed_requests.sql over the resolved
queries/internal/price_card.sql); this module only fills the small `prices`, `price_discounts`,
`models` and `model_aliases` tables the SQL reads, and answers questions about them.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from costlab.config import Config
from costlab.errors import ConfigError, InputError, UnknownModelError, did_you_mean

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
        mid = m.get("id") or m.get("model")
        if not mid:
            raise ConfigError(f"{where}: model entry {i} has no id")
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


def _price_rows(entries: list[dict[str, Any]], origin: str, defaults: dict[str, Any],
                flags: dict[str, dict], where: str) -> list[tuple]:
    rows = []
    for i, p in enumerate(entries, 1):
        here = f"{where} price entry {i} ({p.get('model', '?')})"
        if "model" not in p:
            raise ConfigError(f"{here}: missing `model`")
        for key in ("input", "output", "valid_from"):
            if key not in p:
                raise ConfigError(f"{here}: missing `{key}`")
        unknown = set(p) - set(PRICE_COLUMNS) - {"model"}
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(f"{here}: unknown key {key!r}.{did_you_mean(key, PRICE_COLUMNS)}")
        model = str(p["model"]).lower()
        m = flags.get(model, {})
        us = defaults.get("us_geo_factor") if m.get("us_geo", True) else None
        regional = defaults.get("regional_factor", 1) if m.get("regional_premium", True) else 1
        speed = p.get("speed", "standard")
        if speed not in ("standard", "fast"):
            raise ConfigError(f"{here}: speed must be standard or fast, not {speed!r}")
        rows.append((
            model, speed, int(p.get("band_min_tokens", 0)),
            _instant(p["valid_from"], here), _instant(p.get("valid_to"), here),
            *(_money(p.get(f), f"{here} {f}") for f in PRICE_FIELDS),
            _money(p.get("web_search_per_1k", defaults.get("web_search_per_1k")), here),
            _money(p.get("batch_factor", defaults.get("batch_factor", 0.5)), here),
            _money(p.get("us_geo_factor", us), here),
            _money(p.get("regional_factor", regional), here),
            origin, PRIORITY[origin], p.get("source", origin),
        ))
    return rows


def _discount_rows(entries: list[dict[str, Any]], where: str) -> list[tuple]:
    rows = []
    for i, d in enumerate(entries, 1):
        here = f"{where} discount entry {i}"
        if "factor" in d:
            factor = _money(d["factor"], here)
        elif "percent_off" in d:
            factor = 1 - _money(d["percent_off"], here) / 100
        else:
            raise ConfigError(f"{here}: give `factor = 0.92` or `percent_off = 8`")
        if "valid_from" not in d:
            raise ConfigError(f"{here}: missing `valid_from` (the date the discount takes effect)")
        rows.append((
            str(d.get("model", "*")).lower(), str(d.get("platform", "*")).lower(),
            _instant(d["valid_from"], here), _instant(d.get("valid_to"), here), factor, "config",
            d.get("source", "costlab.toml"),
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
    prices += _price_rows(config.prices, "config", defaults, {**flags, **cflags}, where)
    return Tables(prices, _discount_rows(config.discounts, where), models, aliases)


def _fingerprint(config: Config) -> str:
    payload = json.dumps([config.prices, config.discounts, config.models], default=str, sort_keys=True)
    return hashlib.sha256((catalogue_text() + payload).encode()).hexdigest()


def sync(store: "Store", config: Config) -> bool:
    """Load the catalogue and overrides into the store when they changed; True if anything did."""
    fp = _fingerprint(config)
    if store.scalar("select value from _costlab_meta where key = 'pricing_fingerprint'") == fp:
        return False
    tables = build_tables(config)
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


def _insert(store: "Store", table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if rows:
        marks = ", ".join("?" for _ in columns)
        store.con.executemany(f"insert into {table} ({', '.join(columns)}) values ({marks})", rows)


# -- questions about prices ------------------------------------------------------------------------

def normalise(store: "Store", raw: str) -> str:
    """The catalogue id a raw model string bills as (same rules as ingest)."""
    return store.scalar("select costlab_model(?)", [raw])


def list_prices(store: "Store", at: datetime | None = None) -> pl.DataFrame:
    """The price of every model at `at` (default now): one row per model, speed and band."""
    return store.frame(
        """
        select c.model, m.tier, c.speed, c.band_min_tokens,
               (c.input_fusd / 1e9)::DECIMAL(18,6) as input,
               (c.cache_write_5m_fusd / 1e9)::DECIMAL(18,6) as cache_write_5m,
               (c.cache_write_1h_fusd / 1e9)::DECIMAL(18,6) as cache_write_1h,
               (c.cache_read_fusd / 1e9)::DECIMAL(18,6) as cache_read,
               (c.output_fusd / 1e9)::DECIMAL(18,6) as output,
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
_PREFERRED_PROVIDER = {"anthropic": 0, "bedrock": 1, "bedrock_converse": 1, "vertex_ai": 2}


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
    rows, models = [], []
    for model, (_, e, key) in sorted(chosen.items()):
        if model in catalogue and not override:
            continue
        per_mtok = {f: _per_mtok(e.get(k)) for f, k in _LITELLM_FIELDS.items()}
        base = dict(model=model, valid_from=start, source=f"LiteLLM price map {Path(path).name}: {key}")
        rows.append(_litellm_price(base, per_mtok, 0))
        above = {f: _per_mtok(e.get(f"{k}_above_200k_tokens")) for f, k in _LITELLM_FIELDS.items()}
        if above["input"] is not None:
            rows.append(_litellm_price(base, {f: above[f] or per_mtok[f] for f in above}, 200001))
        tier = next((t for t in ("haiku", "sonnet", "opus", "fable", "mythos") if t in model), None)
        models.append((model, tier, tier, None, e.get("max_input_tokens"), e.get("max_output_tokens"), None,
                       "active", e.get("deprecation_date"), None, None, "import", base["source"]))
    with store.transaction():
        store.execute("delete from prices where origin = 'import' and model in (select unnest(?))", [[r[0] for r in rows]])
        _insert(store, "prices", PRICE_COLUMNS, rows)
        new_models = [m for m in models if m[0] not in catalogue]
        store.execute("delete from models where origin = 'import' and model in (select unnest(?))", [[m[0] for m in new_models]])
        _insert(store, "models", MODEL_COLUMNS, new_models)
        _insert(store, "model_aliases", ("alias", "model", "origin"),
                [(m[0], m[0], "import") for m in new_models
                 if not store.scalar("select count(*) from model_aliases where alias = ?", [m[0]])])
    store.refresh(force=True)
    return pl.DataFrame({"model": [r[0] for r in rows], "band_min_tokens": [r[2] for r in rows],
                         "input": [float(r[5]) for r in rows], "output": [float(r[6]) for r in rows]},
                        schema={"model": pl.String, "band_min_tokens": pl.Int64, "input": pl.Float64, "output": pl.Float64})


def _per_mtok(value: Any) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(repr(float(value))) * 1_000_000).quantize(Decimal("0.000000001"))


def _litellm_price(base: dict[str, Any], p: dict[str, Decimal | None], band: int) -> tuple:
    return (
        base["model"], "standard", band, base["valid_from"], None,
        p["input"], p["output"], p["cache_write_5m"], p["cache_write_1h"], p["cache_read"],
        Decimal(10), Decimal("0.5"), None, Decimal(1), "import", PRIORITY["import"], base["source"],
    )
