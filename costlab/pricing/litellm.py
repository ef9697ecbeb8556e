"""Import LiteLLM's model price map (model_prices_and_context_window.json) as origin 'import'."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from costlab.errors import InputError
from costlab.pricing.catalogue import MODEL_COLUMNS, PRICE_COLUMNS, PRIORITY, _instant
from costlab.pricing.questions import normalise
from costlab.pricing.stored import refresh

if TYPE_CHECKING:
    from costlab.store import Store

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
        store.insert_rows("prices", PRICE_COLUMNS, rows)
        new_models = [m for m in models if m[0] not in catalogue and m[0] not in described]
        store.execute("delete from models where origin = 'import' and model in (select unnest(?))", [[m[0] for m in new_models]])
        store.insert_rows("models", MODEL_COLUMNS, new_models)
        store.insert_rows("model_aliases", ("alias", "model", "origin"),
                [(m[0], m[0], "import") for m in new_models
                 if not store.scalar("select count(*) from model_aliases where alias = ?", [m[0]])])
    refresh(store, force=True)
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
