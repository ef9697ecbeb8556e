"""The price catalogue and costlab.toml overrides as rows for the pricing tables (no store needed).

Cost itself is computed in SQL (queries/views/costed_requests.sql over the resolved
queries/internal/price_card.sql); this package only fills the small `prices`, `price_discounts`,
`models` and `model_aliases` tables the SQL reads, and answers questions about them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from importlib import resources
from typing import Any

from costlab.config import Config
from costlab.errors import ConfigError, did_you_mean

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
DISCOUNT_COLUMNS = ("model", "platform", "valid_from", "valid_to", "factor", "origin", "source")
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


