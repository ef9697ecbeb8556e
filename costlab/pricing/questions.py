"""Questions about prices: what a raw model string bills as, the price list, one model's history,
what is unpriced."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

import polars as pl

from costlab.errors import UnknownModelError, did_you_mean

if TYPE_CHECKING:
    from costlab.store import Store


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
    """Everything known about one model: its entry, aliases and full price history.

    A price row's valid_to is when it stops being in force: its own valid_to, or the next row's
    valid_from for the same speed and band from the same origin (the latest valid_from wins, so a
    change adds a row and ends the one before it), whichever is first; empty only for the current row.
    """
    model = normalise(store, raw)
    info = store.frame("select * from models where model = $m", {"m": model})
    history = store.frame(
        """select model, speed, band_min_tokens, valid_from,
                  -- least() skips NULLs: an open-ended row ends where the next one starts
                  least(valid_to, lead(valid_from) over (partition by model, speed, band_min_tokens, priority
                                                         order by valid_from)) as valid_to,
                  input, cache_write_5m, cache_write_1h, cache_read, output, origin, source
           from prices where model = $m order by speed, band_min_tokens, valid_from, priority""",
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


