"""A team's own eval set (prompts x tiers x scores, from `costlab replay import`) as a Reduction:
the frontier, oracle, cascade, complexity and proportional policies and their intervals run on it
directly, with no logged requests.

What the cost of an answer rests on, per (prompt, tier), in this order (`EvalSet.basis` says which):
  file        the import's own `cost_usd` for that answer, as given;
  tokens      the import's token counts for that answer, priced at the tier's model price in force
              now, through the store's pricing (`costlab_price_rows`: the same price card, exact to
              the nano-dollar);
  assumed     `assume_tokens` (input, output) for every answer without either, priced the same way;
  relative    nothing: each tier's price for the same tokens on every answer (1 input : 1 output),
              so only the ratio between tiers is known: no dollars, cost as a share of all-on-the-
              strongest tier (`EvalSet.relative`).
A tier's model: `tiers` (TIER=MODEL), else costlab.toml [tiers], else the newest active model of
the tier line of that name in the models table.

Only prompts judged on every tier of the import are routed (the others are counted in the notes).
Intervals: `day` holds a bootstrap block per prompt (prompts dealt into at most `blocks` blocks in
request-id order, a hash), so scenario.bootstrap resamples prompts instead of days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import polars as pl

from costlab.config import Config
from costlab.errors import ConfigError, did_you_mean
from costlab.whatif.arrays import ReduceOptions, Reduction

BASES = ("file", "tokens", "assumed", "relative")


@dataclass
class EvalSet:
    name: str
    reduction: Reduction
    basis: dict[str, int]  # answers (prompt x tier) costed by each basis
    models: dict[str, str]  # tier -> the model its tokens were priced at
    notes: list[str] = field(default_factory=list)

    @property
    def relative(self) -> bool:
        return self.basis.get("relative", 0) > 0

    def cost_note(self) -> str:
        """One sentence: what the cost of this eval rests on."""
        parts = []
        total = sum(self.basis.values())
        names = {"file": "the file's cost per answer",
                 "tokens": "the file's tokens priced at " + _models(self.models),
                 "assumed": "ASSUMED tokens per answer priced at " + _models(self.models),
                 "relative": "no cost: each tier's price for the same tokens per answer (1 input : 1 output) at "
                             + _models(self.models) + ", so cost is relative (a share of all on the strongest "
                             "tier), not dollars"}
        for b in BASES:
            if self.basis.get(b):
                parts.append(f"{names[b]} ({self.basis[b]:,} of {total:,} answers)")
        return f"eval {self.name!r}: cost rests on " + "; ".join(parts)


def _models(models: dict[str, str]) -> str:
    return ", ".join(f"{t}={m}" for t, m in models.items()) + " (prices in force now)"


def import_runs(store) -> list[str]:
    """The runs `replay import` wrote, oldest first."""
    if not store.has_table("replay_runs"):
        return []
    return [r for (r,) in store.rows("select run from replay_runs where kind = 'import' order by created_at, run")]


def logged_requests(store) -> int:
    return int(store.scalar("select count(*) from requests"))


def tier_models(store, tiers: list[str], config: Config | None, given: dict[str, str] | None) -> dict[str, str]:
    """tier -> model for the tiers of an import: `given`, else [tiers], else the newest active model of that tier line."""
    chosen = {**((config.tiers if config is not None else {}) or {}), **(given or {})}
    out = {t: chosen[t] for t in tiers if t in chosen}
    rest = [t for t in tiers if t not in out]
    if rest:
        rows = store.rows("select tier, arg_max(model, released) from models where tier in (select unnest($t)) "
                          "and coalesce(lifecycle, 'active') = 'active' group by tier", {"t": rest})
        out.update({t: m for t, m in rows if m})
    return {t: out[t] for t in tiers if t in out}


def load_eval(store, name: str, *, config: Config | None = None, tiers: dict[str, str] | None = None,
              assume_tokens: tuple[int, int] | None = None, blocks: int = 1000) -> EvalSet:
    """The import `name` as an EvalSet (tiers cheapest first by the eval's own cost on each)."""
    runs = import_runs(store)
    if name not in runs:
        raise ConfigError(f"no imported eval set {name!r}.{did_you_mean(name, runs)} "
                          + (f"Imports: {', '.join(runs)}." if runs else "Load one with `costlab replay import`."))
    df = store.frame(
        """
        select j.request_id, j.tier, avg(coalesce(j.score, j.good::INT::DOUBLE)) as q,
               avg(j.good::INT::DOUBLE) as good, any_value(r.model) as model,
               any_value(r.input_tokens) as input_tokens, any_value(r.output_tokens) as output_tokens,
               any_value(r.cache_read_tokens) as cache_read_tokens,
               any_value(r.cache_write_5m_tokens) as cache_write_tokens,
               any_value((r.cost_usd * 1000000000)::BIGINT) as file_nusd,
               any_value(j.details->>'prompt') as prompt, any_value(s.stratum) as stratum
        from judgements j
        left join replays r using (run, source, request_id, tier)
        left join replay_sample s using (run, source, request_id)
        where j.run = $run
        group by all order by j.request_id, j.tier
        """, {"run": name})
    tier_names = sorted(set(df["tier"].to_list()))
    if len(tier_names) < 2:
        raise ConfigError(f"eval {name!r} has outcomes on {len(tier_names)} tier(s); routing needs two or more")
    notes = []
    n_all = df["request_id"].n_unique()
    full = df.group_by("request_id").agg(pl.len().alias("k")).filter(pl.col("k") == len(tier_names))["request_id"]
    df = df.filter(pl.col("request_id").is_in(full.implode()))
    if full.len() < n_all:
        notes.append(f"eval {name!r}: {full.len():,} of {n_all:,} prompts have outcomes on every tier "
                     f"({', '.join(tier_names)}); only those are routed")
    if df.height == 0:
        raise ConfigError(f"eval {name!r}: no prompt has outcomes on every tier ({', '.join(tier_names)})")

    # what each answer's cost rests on
    has_tokens = pl.any_horizontal(pl.col(c).is_not_null() for c in ("input_tokens", "output_tokens",
                                                                       "cache_read_tokens", "cache_write_tokens"))
    df = df.with_columns(basis=pl.when(pl.col("file_nusd").is_not_null()).then(pl.lit("file"))
                         .when(has_tokens).then(pl.lit("tokens"))
                         .when(pl.lit(assume_tokens is not None)).then(pl.lit("assumed"))
                         .otherwise(pl.lit("relative")))
    if assume_tokens is not None:
        df = df.with_columns(
            input_tokens=pl.when(pl.col("basis") == "assumed").then(pl.lit(assume_tokens[0], pl.Int64))
            .otherwise(pl.col("input_tokens")),
            output_tokens=pl.when(pl.col("basis") == "assumed").then(pl.lit(assume_tokens[1], pl.Int64))
            .otherwise(pl.col("output_tokens")))
    counts = dict(df.group_by("basis").agg(pl.len()).iter_rows())
    if counts.get("relative") and len(counts) > 1:
        missing = counts["relative"]
        raise ConfigError(f"eval {name!r}: {missing:,} answers have neither tokens nor cost_usd while the others do; "
                          "give --assume-tokens IN,OUT to price those at an assumed size (and say so), "
                          "or re-import the file with tokens for every answer")
    df = df.with_columns(input_tokens=pl.when(pl.col("basis") == "relative").then(pl.lit(1, pl.Int64))
                         .otherwise(pl.col("input_tokens")),
                         output_tokens=pl.when(pl.col("basis") == "relative").then(pl.lit(1, pl.Int64))
                         .otherwise(pl.col("output_tokens")))
    to_price = df.filter(pl.col("basis") != "file")
    models = tier_models(store, sorted(set(to_price["tier"].to_list())), config, tiers)
    unmapped = sorted(set(to_price["tier"].to_list()) - set(models))
    if unmapped:
        raise ConfigError(f"eval {name!r}: tier {unmapped[0]!r} stands for no model, so its answers cannot be priced: "
                          f"give --tiers {unmapped[0]}=MODEL (or [tiers] in costlab.toml)")
    nusd = _price(store, to_price, models)
    df = df.join(nusd, on=["request_id", "tier"], how="left").with_columns(
        nusd=pl.coalesce("file_nusd", "priced_nusd"))
    unpriced = df.filter(pl.col("nusd").is_null())
    if unpriced.height:
        t = unpriced["tier"][0]
        raise ConfigError(f"eval {name!r}: {unpriced.height:,} answers cannot be priced (e.g. tier {t} at "
                          f"{models.get(t)!r}: no price in force for that model); give --tiers {t}=MODEL")
    return EvalSet(name, _reduction(df, blocks), counts, models, notes)


def _price(store, rows: pl.DataFrame, models: dict[str, str]) -> pl.DataFrame:
    """(request_id, tier, priced_nusd): each answer's tokens at its tier's model, through costlab_price_rows."""
    if rows.height == 0:
        return pl.DataFrame(schema={"request_id": pl.String, "tier": pl.String, "priced_nusd": pl.Int64})
    now = datetime.now(timezone.utc)
    frame = rows.select(
        "request_id", "tier", pl.col("tier").replace_strict(models, return_dtype=pl.String).alias("model"),
        pl.lit(now).alias("ts"),
        *[pl.col(c).cast(pl.Int64) for c in ("input_tokens", "output_tokens", "cache_read_tokens")],
        pl.col("cache_write_tokens").cast(pl.Int64).alias("cache_write_5m_tokens"),
        pl.lit(None, pl.Int64).alias("cache_write_1h_tokens"), pl.lit(None, pl.Int64).alias("web_search_requests"),
        *[pl.lit(None, pl.String).alias(c) for c in ("speed", "platform", "service_tier", "inference_geo")])
    with store.registered("_costlab_eval_answers", frame):
        return store.frame("select request_id, tier, case when priced then (cost_usd * 1000000000)::BIGINT end "
                           "as priced_nusd from costlab_price_rows('_costlab_eval_answers')")


def _reduction(df: pl.DataFrame, blocks: int) -> Reduction:
    """One row per prompt (request-id order), tiers cheapest first by the eval's total cost on each."""
    totals = df.group_by("tier").agg(pl.col("nusd").sum()).sort(["nusd", "tier"])
    tiers = tuple(totals["tier"].to_list())
    per_prompt = (df.group_by("request_id", maintain_order=True)
                  .agg(pl.col("prompt").drop_nulls().first(), pl.col("stratum").drop_nulls().first())
                  .with_row_index("i"))
    rows = df.join(per_prompt.select("request_id", "i"), on="request_id")
    n, T = per_prompt.height, len(tiers)
    at = (rows["i"].to_numpy(), rows["tier"].replace_strict({t: k for k, t in enumerate(tiers)},
                                                            return_dtype=pl.Int64).to_numpy())
    quality = np.full((n, T), np.nan)
    good = np.full((n, T), np.nan)
    cost = np.zeros((n, T), dtype=np.int64)
    quality[at] = rows["q"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    good[at] = rows["good"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    cost[at] = rows["nusd"].cast(pl.Int64).to_numpy()
    prompts = per_prompt["prompt"].fill_null("").to_list()
    strata = per_prompt["stratum"].fill_null("(none)").to_list()
    feats = tuple(sorted(set(strata)))
    fidx = {f: i for i, f in enumerate(feats)}
    B = max(1, min(int(blocks), n))
    cond = re.compile(r"\b(if|unless|otherwise|suppose|given that)\b", re.I)
    steps = re.compile(r"\b(then|first|after|each|every|total|remaining|twice|half)\b", re.I)
    zeros = np.zeros((n, T), dtype=np.int64)
    # complexity features: the prompt's length (its tokens when the file gave them, else text / 4)
    in_tok = rows.group_by("i").agg(pl.col("input_tokens").max()).sort("i")["input_tokens"].fill_null(0).to_numpy()
    ptok = np.array([max(int(t), len(p) // 4) for t, p in zip(in_tok, prompts)], dtype=np.int64)
    return Reduction(
        tiers=tiers, models=tiers, cost=cost, warmup=zeros, batch=cost.copy(), cache_read_delta=zeros,
        cache_write_delta=zeros, out_src=np.zeros((n, T), dtype=np.int8), quality=quality,
        q_src=np.ones((n, T), dtype=np.int8), good=good, actual=np.zeros(n, dtype=np.int64),
        own=np.full(n, -1, dtype=np.int16), current=np.full(n, -1, dtype=np.int16),
        day=(np.arange(n) % B).astype(np.int32), days=tuple(f"block {b + 1}" for b in range(B)),
        feature=np.array([fidx[s] for s in strata], dtype=np.int32), features=feats, prompt_tokens=ptok,
        web_search=np.zeros(n, dtype=np.int64), tool_use=np.zeros(n, dtype=bool), batch_now=np.zeros(n, dtype=bool),
        documents=np.zeros(n, dtype=np.int64), conditional=np.array([bool(cond.search(p)) for p in prompts]),
        multistep=np.array([len(steps.findall(p)) >= 2 for p in prompts]), options=ReduceOptions(),
        texts=np.array(prompts, dtype=object),
    )
