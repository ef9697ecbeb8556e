"""The what-if passes' SQL: queries/whatif/reduce.sql and daily_totals.sql, rendered for a store.

Both files are Jinja templates (the template language dbt and sqlmesh use for SQL), rendered with
named values and nothing else:

    tiers          [1, 2, ..., T]: `{% for k in tiers %}` writes a block once per tier, its columns
                   suffixed _t{{ k }} and its parameters indexed $tier_models[{{ k }}]
    source         the relation read in place of costed_requests (or requests)
    filter         --filter, already checked to be one SQL expression (sqlquote.expression), or None
    ids            carry (source, request_id): only when replays, judgements or payloads join on them
    replays, judgements, payloads
                   the store has that evidence: the block includes queries/whatif/evidence/NAME.sql
    use_replays, observed
                   --output-tokens (`output_flags`): a request's own replay on a tier moves its output
                   tokens there (replay, observed); a ratio observed in the same source, feature and
                   customer's traffic moves the others (observed; reduce.sql only)
    seg, band_raw, band_sc, band_rep
                   (daily_totals.sql) the price-card class expressions of costlab.whatif.daily_totals

Values are never bound into the text: the window, tiers and knobs stay DuckDB named parameters
($since, $tier_models, ...; `pass_params`).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import jinja2

from costlab.store import queries
from costlab.whatif.arrays import ReduceOptions


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(queries.queries_dir())), undefined=jinja2.StrictUndefined,
        autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(name: str, **values: Any) -> str:
    """queries/NAME.sql rendered with `values` (a name the file uses and is not given is an error)."""
    return _environment().get_template(f"{name}.sql").render(**values)


def tables(store) -> set[str]:
    """The tables of the store's own database (an engine over a lake, Spark, says its own: none)."""
    own = getattr(store, "tables", None)
    if callable(own):
        return set(own())
    return {t for (t,) in store.rows("select table_name from duckdb_tables() where database_name = current_database()")}


def evidence(store, payloads: bool) -> set[str]:
    """The evidence the passes can join: 'replays' and 'judgements' when the store has those tables,
    'payloads' (with `payloads`) when stored request bodies exist."""
    has = tables(store)
    found = {name for name in ("replays", "judgements") if name in has}
    if payloads and "payloads" in has and store.scalar("select count(*) > 0 from (select 1 from payloads limit 1)"):
        found.add("payloads")
    return found


def output_flags(options: ReduceOptions, found: set[str]) -> dict[str, bool]:
    """The template switches of --output-tokens: `use_replays` (replay and observed, when the store
    has replays) and `observed`."""
    mode = options.output_tokens
    return {"use_replays": mode in ("replay", "observed") and "replays" in found, "observed": mode == "observed"}


def pass_params(names: list[str], models: list[str], options: ReduceOptions, since: datetime | None,
                until: datetime | None, text: str | None = None, tz: str = "UTC") -> dict[str, Any]:
    """The named parameters of reduce.sql and daily_totals.sql (with `text`, only those it uses);
    `tz`: the time zone of reduce.sql's day column."""
    params = {
        "since": since or datetime(1970, 1, 1), "until": until or datetime(9999, 12, 31), "tz": tz,
        "tier_names": names, "tier_models": models,
        "tokenizer_factor": float(options.tokenizer_factor), "warmup_minutes": float(options.warmup_minutes),
        "min_ratio_requests": int(options.min_ratio_requests),
    }
    return params if text is None else {k: v for k, v in params.items() if f"${k}" in text}
