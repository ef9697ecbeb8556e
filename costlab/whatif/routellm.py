"""RouteLLM per-prompt outcomes as judged outcomes, and a Reduction built from judgements alone.

INTERNAL loader: the replay issue owns `costlab replay import`, which will write the same rows
(source 'import:<name>', one judgements row per (prompt, tier), good = correct). Until that lands,
`import_outcomes` writes them here, into an existing `judgements` table (the m003_replay contract),
so the what-if code reads imported evidence exactly as it will read `replay import`'s.

RouteLLM's data has no token counts, so a prompt's "cost" on a tier is a per-call unit
(`call_cost_nusd`, default 0 on the weak tier and 1 on the strong one): the normalised cost u is
then RouteLLM's strong-call share, and PGR/CPT/APGR are RouteLLM's own numbers.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import polars as pl

from costlab.errors import ConfigError
from costlab.store.sqlquote import literal
from costlab.money import NANOS_PER_USD
from costlab.whatif.arrays import ReduceOptions, Reduction
from costlab.whatif.frontier import complexity, metrics
from costlab.whatif.scenario import Scenario, Split, evaluate

_COLS = "columns={'prompt': 'VARCHAR', 'weak': 'BOOLEAN', 'strong': 'BOOLEAN'}"


def read_outcomes(store, path: str | Path):
    """prompt, subject, weak, strong from a RouteLLM folder (mmlu_responses/*.csv) or one CSV."""
    p = Path(path)
    files = str(p / "*.csv") if p.is_dir() else str(p)
    return store.frame(
        f"select prompt, regexp_extract(filename, '([^/]+)\\.csv$', 1) as subject, weak, strong "
        f"from read_csv($f, header = true, filename = true, {_COLS})", {"f": files}).sort("subject", maintain_order=True)


def prompt_id(subject: str, row: int) -> str:
    """A stable id per prompt: its file (subject) and row (prompts repeat across and within files)."""
    return "p_" + hashlib.blake2b(f"{subject}:{row}".encode("utf-8"), digest_size=10).hexdigest()


def import_outcomes(store, path: str | Path, name: str, weak_tier: str = "haiku", strong_tier: str = "opus") -> int:
    """Write one judgements row per (prompt, tier): source 'import:<name>', judge 'routellm',
    verdict pass/fail, score and good = correct, details {prompt, subject}. Returns prompts written."""
    if not store.has_table("judgements"):
        raise ConfigError("no judgements table in this store (it comes with the replay migration)")
    df = read_outcomes(store, path)
    rows = df.with_columns(pl.int_range(pl.len()).over("subject").alias("_row"))
    rows = rows.with_columns(request_id=pl.Series([prompt_id(s, r) for s, r in zip(rows["subject"], rows["_row"])],
                                                  dtype=pl.String)).drop("_row")
    with store.registered("_routellm", rows):
        store.execute(
            f"""
            insert into judgements (run, source, request_id, tier, judge, verdict, score, good, order_consistent,
                                    judge_cost_usd, details)
            select {literal('import:' + name)}, {literal('import:' + name)}, request_id, t.tier, 'routellm',
                   case when t.ok then 'pass' else 'fail' end, t.ok::INT::DOUBLE, t.ok, null, 0,
                   json_object('prompt', prompt, 'subject', subject)
            from _routellm, (select unnest([{{'tier': ?, 'ok': weak}}, {{'tier': ?, 'ok': strong}}], recursive := true)) t
            """,
            [weak_tier, strong_tier],
        )
    return rows.height


def reduce_outcomes(store, source: str, tiers: tuple[str, ...], call_cost_nusd: tuple[int, ...] | None = None) -> Reduction:
    """A Reduction over judged prompts with no logged requests (an import): quality = judged score,
    good = the verdict, cost per call from `call_cost_nusd`, complexity features from the prompt text."""
    df = store.frame(
        """
        select request_id, tier, avg(coalesce(score, good::INT::DOUBLE)) as q, bool_and(good) as good,
               any_value(details->>'prompt') as prompt, any_value(details->>'subject') as subject
        from judgements where source = $s and tier in (select unnest($t)) group by all order by request_id, tier
        """,
        {"s": source, "t": list(tiers)},
    )
    if df.height == 0:
        raise ConfigError(f"no judgements for source {source!r} on tiers {', '.join(tiers)}")
    # One row per prompt (sorted ids), the tiers' outcomes scattered into (prompt x tier) arrays; a
    # prompt's text and subject: the last non-empty one over its tiers (the rows are in tier order).
    per_prompt = (df.group_by("request_id", maintain_order=True)
                  .agg(pl.col("prompt").filter(pl.col("prompt") != "").last(),
                       pl.col("subject").filter(pl.col("subject") != "").last())
                  .with_row_index("i"))
    rows = df.join(per_prompt.select("request_id", "i"), on="request_id")
    n, T = per_prompt.height, len(tiers)
    at = (rows["i"].to_numpy(), rows["tier"].replace_strict({t: k for k, t in enumerate(tiers)}, return_dtype=pl.Int64).to_numpy())
    quality = np.full((n, T), np.nan)
    good = np.full((n, T), np.nan)
    quality[at] = rows["q"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    good[at] = rows["good"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    prompts = per_prompt["prompt"].fill_null("").to_list()
    subjects = per_prompt["subject"].fill_null("(none)").to_list()
    return outcomes_reduction(quality, good, prompts, subjects, tiers, call_cost_nusd)


def outcomes_reduction(quality: np.ndarray, good: np.ndarray, prompts: list[str], subjects: list[str],
                       tiers: tuple[str, ...], call_cost_nusd: tuple[int, ...] | None = None) -> Reduction:
    n, T = quality.shape
    unit = np.array(call_cost_nusd if call_cost_nusd is not None else tuple(range(T)), dtype=np.int64)
    cond = re.compile(r"\b(if|unless|otherwise|suppose|given that)\b", re.I)
    steps = re.compile(r"\b(then|first|after|each|every|total|remaining|twice|half)\b", re.I)
    feats = tuple(sorted(set(subjects)))
    fidx = {f: i for i, f in enumerate(feats)}
    zeros = np.zeros((n, T), dtype=np.int64)
    return Reduction(
        tiers=tuple(tiers), models=tuple(tiers), cost=np.broadcast_to(unit, (n, T)).copy(), warmup=zeros,
        batch=np.broadcast_to(unit, (n, T)).copy(), cache_read_delta=zeros, cache_write_delta=zeros,
        out_src=np.zeros((n, T), dtype=np.int8), quality=quality, q_src=np.ones((n, T), dtype=np.int8), good=good,
        actual=np.zeros(n, dtype=np.int64), own=np.full(n, -1, dtype=np.int16), current=np.full(n, -1, dtype=np.int16),
        day=np.zeros(n, dtype=np.int32), days=("(no dates)",), feature=np.array([fidx[s] for s in subjects], dtype=np.int32),
        features=feats, prompt_tokens=np.array([max(1, len(p) // 4) for p in prompts], dtype=np.int64),
        web_search=np.zeros(n, dtype=np.int64), tool_use=np.zeros(n, dtype=bool), batch_now=np.zeros(n, dtype=bool),
        documents=np.zeros(n, dtype=np.int64), conditional=np.array([bool(cond.search(p)) for p in prompts]),
        multistep=np.array([len(steps.findall(p)) >= 2 for p in prompts]), options=ReduceOptions(),
        texts=np.array(prompts, dtype=object),
    )


def random_router_curve(reduction: Reduction, seed: int = 0, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """A random two-tier router: each prompt goes to the strong tier with probability s, for s on a
    grid; returns the realised strong-call share and the realised mean quality at each s."""
    rng = np.random.default_rng(seed)
    q = reduction.quality
    known = np.isfinite(q).all(axis=1)
    q = q[known]
    draws = rng.random(len(q))
    shares, quals = [], []
    for s in np.linspace(0, 1, points):
        strong = draws < s
        shares.append(strong.mean())
        quals.append(np.where(strong, q[:, -1], q[:, 0]).mean())
    return np.array(shares), np.array(quals)


def evidence(reduction: Reduction, seed: int = 0) -> dict[str, float]:
    """RouteLLM-style figures on a two-tier outcomes Reduction: random router, oracle, complexity policy."""
    n = reduction.n
    q = reduction.quality
    q_weak, q_strong = float(np.nanmean(q[:, 0])), float(np.nanmean(q[:, -1]))
    # a random router's APGR, averaged over 10 seeds of the router's coin (one seed is noisier on small sets)
    rnd_apgrs = []
    for k in range(10):
        share, qual = random_router_curve(reduction, seed + k)
        rnd_apgrs.append(metrics(share * n, qual, 0.0, float(n), q_weak, q_strong, envelope=False).apgr)
    orc = evaluate(reduction, Scenario(Split(((reduction.tiers[0], 1),)), policy="oracle"))
    cx = complexity(reduction)
    cm = metrics(cx.cost * NANOS_PER_USD, cx.quality, 0.0, float(n), q_weak, q_strong, envelope=False)
    return {
        "prompts": n, "q_weak": q_weak, "q_strong": q_strong,
        "random_apgr": float(np.mean(rnd_apgrs)), "random_apgr_min": float(np.min(rnd_apgrs)),
        "random_apgr_max": float(np.max(rnd_apgrs)),
        "oracle_quality": float(orc.quality), "oracle_strong_share": orc.tier_share[reduction.tiers[-1]],
        "max_per_prompt_quality": float(np.nanmax(q, axis=1).mean()),
        "complexity_apgr": cm.apgr, "complexity_cpt50": cm.cpt[0.5][1], "complexity_cpt80": cm.cpt[0.8][1],
        "complexity_aiq": cm.aiq,
    }
