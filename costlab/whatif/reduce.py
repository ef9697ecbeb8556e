"""The one pass: a window of logs reduced to per-request arrays (cost on every tier, quality, features).

Everything else in costlab.whatif works on a `Reduction`; no scenario reads the store again.
The SQL is queries/whatif/reduce.sql (the same file an engineer can run by hand).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from costlab import sql
from costlab.config import Config
from costlab.errors import ConfigError, did_you_mean

OUT_SOURCES = ("own", "replay", "feature_ratio", "default")
Q_SOURCES = ("none", "judged", "feedback")


@dataclass(frozen=True)
class ReduceOptions:
    """Modelling knobs ([whatif] in costlab.toml, or flags)."""

    tokenizer_factor: float = 1.3  # Claude 4.7+ produce ~30% more tokens for the same text
    warmup_minutes: float = 60.0  # per feature, cache reads in the first minutes on another model are writes
    default_output_ratio: float = 1.0  # output tokens on another tier per logged output token, last resort
    min_ratio_requests: int = 20  # ok requests per (feature, model) before a traffic ratio is used

    @classmethod
    def from_config(cls, config: Config | None) -> "ReduceOptions":
        data = dict(getattr(config, "whatif", {}) or {}) if config is not None else {}
        known_keys = ("tokenizer_factor", "warmup_minutes", "default_output_ratio", "min_ratio_requests",
                      "interactive", "complexity_weights")
        for key in data:
            if key not in known_keys:
                raise ConfigError(f"[whatif]: unknown setting {key!r}.{did_you_mean(key, known_keys)} "
                                  f"Known: {', '.join(known_keys)}.")
        known = {f: data[f] for f in ("tokenizer_factor", "warmup_minutes", "default_output_ratio", "min_ratio_requests") if f in data}
        return cls(**known)


@dataclass
class Reduction:
    """Per-request arrays for one window. n requests (priced on every tier), T tiers, cheapest first.

    Money is int64 nano-dollars. cost[i, t] is request i's cost on tier t with a warm cache;
    warmup[i, t] the extra while that tier's cache warms up; batch[i, t] its cost through the Batches
    API; cache_read_delta / cache_write_delta the change if every cacheable token were read / written.
    actual[i] is its logged cost, so sum(actual) is the window's actual (priced) cost exactly.
    """

    tiers: tuple[str, ...]
    models: tuple[str, ...]
    cost: np.ndarray
    warmup: np.ndarray
    batch: np.ndarray
    cache_read_delta: np.ndarray
    cache_write_delta: np.ndarray
    out_src: np.ndarray  # int8 [n, T], index into OUT_SOURCES
    quality: np.ndarray  # float64 [n, T], NaN unknown
    q_src: np.ndarray  # int8 [n, T], index into Q_SOURCES
    good: np.ndarray  # float64 [n, T]: 1 good, 0 not, NaN unknown
    actual: np.ndarray  # int64 [n]
    own: np.ndarray  # int16 [n]: tier index whose model the request ran on, -1 none
    current: np.ndarray  # int16 [n]: tier index of the request's tier line, -1 not a configured tier
    day: np.ndarray  # int32 [n], index into days
    days: tuple[Any, ...]
    feature: np.ndarray  # int32 [n], index into features
    features: tuple[str, ...]
    prompt_tokens: np.ndarray
    web_search: np.ndarray
    tool_use: np.ndarray
    batch_now: np.ndarray  # bool: ran on the Batches API
    documents: np.ndarray
    conditional: np.ndarray
    multistep: np.ndarray
    unpriced: int = 0  # requests with no price in force: not simulated, cost unknown (never $0)
    unpriced_on_tier: dict[str, int] = field(default_factory=dict)  # priced requests with no price on a tier
    excluded_actual: int = 0  # actual nano-dollars of requests left out because a tier could not price them
    options: ReduceOptions = field(default_factory=ReduceOptions)
    window: tuple[Any, Any] = (None, None)
    memo: dict[str, Any] = field(default_factory=dict, repr=False)  # per-segment totals, filled once

    def day_totals(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(exact int64 totals per tier [T], float per-day totals [D, T]) of one [n, T] money array:
        the per-segment arrays every proportional scenario is a weighted sum of. Computed once."""
        if name not in self.memo:
            m = getattr(self, name)
            D, T = len(self.days), len(self.tiers)
            per_day = np.zeros((D, T))
            for t in range(T):
                if self.n:
                    per_day[:, t] = np.bincount(self.day, weights=m[:, t], minlength=D)
            self.memo[name] = (m.sum(axis=0), per_day)
        return self.memo[name]

    def precompute(self) -> "Reduction":
        """Fill the per-segment totals (part of the one pass, so scenarios only combine them)."""
        for name in ("cost", "warmup", "cache_read_delta", "cache_write_delta"):
            self.day_totals(name)
        from costlab.whatif.frontier import tier_quality

        tier_quality(self)
        return self

    @property
    def n(self) -> int:
        return int(self.actual.shape[0])

    def subset(self, mask: np.ndarray) -> "Reduction":
        """The same arrays restricted to requests where mask is true (days and features kept)."""
        kw = {}
        for name, value in self.__dict__.items():
            if isinstance(value, np.ndarray) and value.shape[:1] == (self.n,):
                kw[name] = value[mask]
            else:
                kw[name] = value
        kw["memo"] = {}
        return Reduction(**kw)

    def quality_known(self) -> bool:
        return bool(np.isfinite(self.quality).any())


def resolve_tiers(store, config: Config | None, tiers: dict[str, str] | None = None) -> dict[str, str]:
    """tier -> model: the argument, else costlab.toml [tiers], else for each tier line that appears in
    the logs the most recently released active model of that line (from the models table, never code)."""
    chosen = dict(tiers or (config.tiers if config is not None else {}) or {})
    if not chosen:
        rows = store.rows(
            """
            select m.tier, arg_max(m.model, m.released)
            from models m
            where m.tier in (select distinct mm.tier from (select distinct model from requests) r
                             join models mm on mm.model = r.model)
              and coalesce(m.lifecycle, 'active') = 'active'
            group by m.tier order by m.tier
            """
        )
        chosen = {t: m for t, m in rows if t}
    if not chosen:
        raise ConfigError("no tiers: set [tiers] in costlab.toml (tier = \"model id\"), or ingest some logs first")
    known = {m for (m,) in store.rows("select distinct model from price_card")}
    missing = [f"{t} = {m!r}" for t, m in chosen.items() if m not in known]
    if missing:
        raise ConfigError(f"no price for the tier model(s) {', '.join(missing)}: fix [tiers] in costlab.toml "
                          "or add a [[prices]] row")
    return chosen


_MARK = re.compile(r"/\*(\w+)\*/(.*?)/\*end\*/", re.S)


def reduce_sql(store, filter_sql: str | None = None) -> str:
    """reduce.sql with its markers filled in for this store: --filter, replays, judgements, payloads."""
    text = sql.load("whatif/reduce").text
    has = {t for (t,) in store.rows("select table_name from duckdb_tables() where database_name = current_database()")}
    fills: dict[str, str] = {}
    if filter_sql:
        if ";" in filter_sql:
            raise ConfigError("--filter is one SQL condition over costed_requests columns (cr.*), without ';'")
        fills["filter"] = f"({filter_sql})"
    if "replays" in has:
        fills["replays"] = ("select source, request_id, tier, output_tokens from replays "
                            "where status = 'ok' and output_tokens is not null "
                            "qualify row_number() over (partition by source, request_id, tier order by finished_at desc nulls last) = 1")
    if "judgements" in has:
        fills["judgements"] = ("select source, request_id, tier, "
                               "avg(coalesce(score, case when good then 1.0 when not good then 0.0 end)) as quality, "
                               "bool_and(coalesce(good, verdict in ('pass', 'win', 'tie'), score >= 0.5)) as good "
                               "from judgements group by all")
    if "payloads" in has and store.scalar("select count(*) > 0 from (select 1 from payloads limit 1)"):
        fills["payloads"] = (
            "select source, request_id, "
            "coalesce(len(regexp_extract_all(request_json::VARCHAR, '\"type\"\\s*:\\s*\"document\"')), 0)::BIGINT as documents, "
            "regexp_matches(request_json::VARCHAR, '(?i)\\b(if|unless|otherwise|in case)\\b') as conditional, "
            "regexp_matches(request_json::VARCHAR, '(?i)\\b(first|then|step \\d|finally|afterwards)\\b') as multistep "
            "from payloads")

    def sub(m: re.Match) -> str:
        return fills.get(m.group(1), m.group(2))

    return _MARK.sub(sub, text)


def reduce(store, *, since: datetime | None = None, until: datetime | None = None, filter_sql: str | None = None,
           tiers: dict[str, str] | None = None, options: ReduceOptions | None = None) -> Reduction:
    """Read the window once and return its per-request arrays (tiers sorted cheapest first)."""
    config = getattr(store, "config", None)
    options = options or ReduceOptions.from_config(config)
    tier_map = resolve_tiers(store, config, tiers)
    names, models = list(tier_map), list(tier_map.values())
    params = {
        "since": since or datetime(1970, 1, 1), "until": until or datetime(9999, 12, 31),
        "tier_names": names, "tier_models": models,
        "tokenizer_factor": float(options.tokenizer_factor), "warmup_minutes": float(options.warmup_minutes),
        "default_output_ratio": float(options.default_output_ratio), "min_ratio_requests": int(options.min_ratio_requests),
    }
    # no local name for the long frame: from_long drops it as soon as its columns are scattered
    return from_long(store.frame(reduce_sql(store, filter_sql), params), names, models, options,
                     (since, until)).precompute()


def from_long(df: pl.DataFrame, names: list[str], models: list[str], options: ReduceOptions,
              window: tuple[Any, Any] = (None, None)) -> Reduction:
    """Scatter the long (request, tier) rows into [n, T] arrays; drop requests a tier cannot price."""
    T = len(names)
    n_all = int(df["rn"].max()) + 1 if df.height else 0
    rn = df["rn"].to_numpy()
    ti = df["ti"].to_numpy()
    head = df.filter(pl.col("ti") <= 0)
    unpriced_mask = np.zeros(n_all, dtype=bool)
    unpriced_mask[head.filter(pl.col("ti") == -1)["rn"].to_numpy()] = True
    tiered = ti >= 0
    r, t = rn[tiered], ti[tiered]

    all_tiered = bool(tiered.all())
    mask_s = None if all_tiered else pl.Series(tiered)

    def tcol(col: str) -> pl.Series:
        return df[col] if all_tiered else df[col].filter(mask_s)

    def grid(col: str, dtype, fill) -> np.ndarray:
        out = np.full((n_all, T), fill, dtype=dtype)
        out[r, t] = tcol(col).fill_null(fill).to_numpy().astype(dtype, copy=False)
        return out

    cost = grid("cost_nusd", np.int64, -1)
    null_cost = np.zeros((n_all, T), dtype=bool)
    null_cost[r, t] = tcol("cost_nusd").is_null().to_numpy()
    own_grid = np.zeros((n_all, T), dtype=bool)
    own_grid[r, t] = tcol("own").to_numpy()
    good = np.full((n_all, T), np.nan)
    good[r, t] = tcol("good").cast(pl.Float64).to_numpy()

    hr = head["rn"].to_numpy()

    def col(name: str, dtype, fill) -> np.ndarray:
        out = np.full(n_all, fill, dtype=dtype)
        out[hr] = head[name].fill_null(fill).to_numpy().astype(dtype)
        return out

    actual = col("actual_nusd", np.int64, 0)
    day_n = np.zeros(n_all, dtype=np.int64)
    day_n[hr] = head["day"].fill_null(0).to_numpy()
    # features and tier lines as small dictionaries: categorical codes, never a Python loop per row
    fser = head["feature"].fill_null("(none)")
    fnames = fser.unique().sort().to_list()
    feat_c = np.zeros(n_all, dtype=np.int64)
    feat_c[hr] = fser.cast(pl.Enum(fnames)).to_physical().to_numpy()
    tier_lookup = {t: i for i, t in enumerate(names)}
    tser = head["cur_tier"].fill_null("")
    tnames = tser.unique().sort().to_list()
    tmap = np.array([tier_lookup.get(t, -1) for t in tnames], dtype=np.int16)
    tier_c = np.full(n_all, -1, dtype=np.int16)
    tier_c[hr] = tmap[tser.cast(pl.Enum(tnames)).to_physical().to_numpy()] if tnames else -1

    bad_tier = null_cost.any(axis=1) & ~unpriced_mask
    keep = ~unpriced_mask & ~bad_tier
    unpriced_on_tier = {names[k]: int((null_cost[:, k] & ~unpriced_mask).sum()) for k in range(T)
                        if (null_cost[:, k] & ~unpriced_mask).any()}

    own = np.where(own_grid.any(axis=1), own_grid.argmax(axis=1), -1).astype(np.int16)
    cur = tier_c[keep]
    uniq_days, day_code = np.unique(day_n[keep], return_inverse=True)
    days = tuple(date(1970, 1, 1) + timedelta(days=int(d)) for d in uniq_days)
    # features that only unpriced or dropped requests had stay in the list (harmless, counted 0)
    feats = tuple(fnames)

    sel = slice(None) if keep.all() else keep  # no copies when every request is kept
    grids = {}
    for name, col_, dtype, fill in (("warmup", "warmup_nusd", np.int64, 0), ("batch", "batch_nusd", np.int64, 0),
                                    ("cache_read_delta", "cache_read_delta_nusd", np.int64, 0),
                                    ("cache_write_delta", "cache_write_delta_nusd", np.int64, 0),
                                    ("out_src", "out_src", np.int8, 0), ("quality", "quality", np.float64, np.nan),
                                    ("q_src", "q_src", np.int8, 0)):
        grids[name] = grid(col_, dtype, fill)[sel]
    per_req = {name: col(c, dtype, fill)[keep] for name, c, dtype, fill in (
        ("prompt_tokens", "prompt_tokens", np.int64, 0), ("web_search", "web_search", np.int64, 0),
        ("tool_use", "tool_use", bool, False), ("batch_now", "batch", bool, False),
        ("documents", "documents", np.int64, 0), ("conditional", "conditional", bool, False),
        ("multistep", "multistep", bool, False))}
    del df, head  # the long frame is no longer needed
    keep = np.ones(n_all, dtype=bool) if isinstance(sel, slice) else keep
    red = Reduction(
        tiers=tuple(names), models=tuple(models), cost=cost[sel], good=good[sel], **grids,
        actual=actual[keep], own=own[keep], current=cur,
        day=day_code.astype(np.int32), days=days,
        feature=feat_c[keep].astype(np.int32), features=feats,
        **per_req,
        unpriced=int(unpriced_mask.sum()), unpriced_on_tier=unpriced_on_tier,
        excluded_actual=int(actual[bad_tier].sum()), options=options, window=window,
    )
    return sort_tiers(red)


def sort_tiers(red: Reduction) -> Reduction:
    """Reorder tiers cheapest first (by total cost of all requests on the tier): cascade and the
    complexity policy need an order, and it comes from the prices, not from the tier names."""
    if red.n == 0:
        return red
    order = np.argsort(red.cost.sum(axis=0), kind="stable")
    if (order == np.arange(len(order))).all():
        return red
    remap = np.empty(len(order), dtype=np.int16)
    remap[order] = np.arange(len(order))
    kw = dict(red.__dict__)
    kw["memo"] = {}
    for name in ("cost", "warmup", "batch", "cache_read_delta", "cache_write_delta", "out_src", "quality", "q_src", "good"):
        kw[name] = kw[name][:, order]
    kw["tiers"] = tuple(red.tiers[i] for i in order)
    kw["models"] = tuple(red.models[i] for i in order)
    for name in ("own", "current"):
        v = kw[name]
        kw[name] = np.where(v >= 0, remap[np.maximum(v, 0)], -1).astype(np.int16)
    return Reduction(**kw)
