"""What-if simulator: the one pass (time, CPU, peak RSS), the pass with request bodies (payload
features), the segment-level headline the weekly report shows, the 5,151-split frontier, one
scenario with a 1,000-resample bootstrap, and the RouteLLM figures of the complexity policy.

The headline runs on one week of --rows requests (bench_report.py's cached store under
benchmarks/data/ when it is there, else built here): target (issue 5) about 1 s of the report's 10 s.

Targets (issue #6), after the one pass that reduces the logs to per-request arrays:
  the 5,151-split frontier over 10M requests in under 5 s; one scenario with a 1,000-resample
  day-block bootstrap in under 5 s. The pass itself: peak RSS under 4 GB at 10M requests.

Each measured step runs in a fresh process (spawn), so a peak RSS is that step's own, not the
store build's.

    .venv/bin/python benchmarks/bench_whatif.py --rows 10000000 --payload-rows 1000000 --record
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402

TIERS = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}
SPLIT = "haiku=70,sonnet=25,opus=5"

# Request bodies for the payload run: a quarter carry 1-3 documents, two fifths conditional wording,
# two fifths multi-step wording (the generator's own bodies have none of these), one per request.
PAYLOADS_SQL = """
insert into payloads
select source, request_id,
  ('{"model":"' || model || '","max_tokens":1024,"messages":[{"role":"user","content":[' ||
   repeat('{"type":"document","source":{"type":"text","media_type":"text/plain","data":"Quarterly report body."}},',
          (case when h % 4 = 0 then (h // 8) % 3 + 1 else 0 end)::BIGINT) ||
   '{"type":"text","text":"' ||
   case (h // 64) % 5 when 0 then 'If the total exceeds the limit, flag it; otherwise approve.'
                      when 1 then 'First extract the table, then compute the totals.'
                      when 2 then 'Summarise this for the weekly review.'
                      when 3 then 'If needed, first check the policy, then answer, step 3 finally.'
                      else 'Translate the release notes.' end ||
   '"}]}]}')::JSON, null
from (select source, request_id, model, hash(source, request_id) as h from requests)
"""


def rss_gib() -> float:
    """This process's own peak RSS (VmHWM: ru_maxrss survives exec, so a spawned child would report its parent's)."""
    from common import peak_rss_bytes

    return peak_rss_bytes() / 2**30


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def best(fn, repeat: int = 3):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), times, out


def in_child(fn, *args):
    """Run fn(*args) in a fresh process; returns its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as ex:
        return ex.submit(fn, *args).result()


def build_store(path: str, rows: int, payloads: bool) -> float:
    from costlab.config import Config
    from costlab.generate import generate_sql
    from costlab.open import open_store

    from costlab import pricing

    t = time.perf_counter()
    store = open_store(Path(path), Config())
    store.execute("insert into requests by name " + generate_sql(rows, seed=7))
    pricing.reprice(store)  # each row's stored price, as ingest writes it
    if payloads:
        store.execute(PAYLOADS_SQL)
    store.close()
    return time.perf_counter() - t


WEEK = ("2026-11-09", "2026-11-16")  # 2026-W46, the week bench_report.py's cached store holds


def build_week(path: str, rows: int) -> float:
    """A store with `rows` requests in one ISO week (bench_report.py's store, same seed)."""
    from costlab.config import Config
    from costlab.generate import generate_sql
    from costlab.open import open_store

    from costlab import pricing

    t = time.perf_counter()
    with open_store(Path(path), Config()) as store:
        store.execute("insert into requests by name " + generate_sql(rows, seed=11, start=WEEK[0], days=7))
        pricing.reprice(store)  # each row's stored price, as ingest writes it
        store.execute("checkpoint")
    return time.perf_counter() - t


def refresh(path: str) -> None:
    """One read-write open: a cached store made by an older checkout gets this costlab's macros and views."""
    from costlab.config import Config
    from costlab.open import open_store

    open_store(Path(path), Config()).close()


def headline(path: str, in_report: bool = False) -> dict:
    """The weekly report's what-if section on one week: the segment pass (aggregate-first), the
    actual split and two alternatives, each with a 1,000-resample bootstrap; with in_report, inside
    the report's window (costed_requests shadowed by the stored prices, or by Parquet when some are
    stale; that step is timed apart)."""
    from contextlib import nullcontext
    from datetime import datetime, timezone

    from costlab.config import Config
    from costlab.open import open_store
    from costlab.whatif import Scenario, bootstrap, parse_split
    from costlab.whatif.daily_totals import evaluate_daily_totals, reduce_daily_totals

    store = open_store(Path(path), Config(), read_only=True)
    since, until = (datetime.fromisoformat(d).replace(tzinfo=timezone.utc) for d in WEEK)
    price_s = 0.0
    ctx = nullcontext()
    if in_report:
        from costlab.report.build import priced_once

        ctx = priced_once(store, since, until)
    t0 = time.perf_counter()
    with ctx:
        price_s = time.perf_counter() - t0
        t, c = time.perf_counter(), cpu_s()
        seg = reduce_daily_totals(store, since=since, until=until, tiers=TIERS)
        pass_s = time.perf_counter() - t
        res = [bootstrap(evaluate_daily_totals(seg, Scenario(parse_split(x))), 1000) for x in ("current", SPLIT, "haiku=100")]
        wall, cpu = time.perf_counter() - t, cpu_s() - c
        logged = store.scalar("select sum(cost_usd) from costed_requests where priced and ts >= $s and ts < $u",
                              {"s": since, "u": until})
    return {"wall": wall, "pass": pass_s, "cpu": cpu, "rss": rss_gib(), "n": seg.n, "price": price_s,
            "actual_gap_nusd": int(res[0].cost) - int(logged * 10**9),
            "cost": float(res[1].cost) / 1e9, "interval": [x / 1e9 for x in res[1].interval["cost_nusd"]]}


def one_pass(path: str) -> dict:
    """The per-request pass, then the frontier and bootstrap rows on its arrays."""
    from costlab.config import Config
    from costlab.open import open_store
    from costlab.whatif import Scenario, bootstrap, evaluate, parse_split, reduce
    from costlab.whatif import frontier as F

    store = open_store(Path(path), Config())
    t, c = time.perf_counter(), cpu_s()
    red = reduce(store, tiers=TIERS)
    out = {"pass": time.perf_counter() - t, "cpu": cpu_s() - c, "rss_pass": rss_gib(), "n": red.n}
    store.close()
    split = parse_split(SPLIT)
    out["fp"] = best(lambda: F.proportional(red))[:2]
    fc, fc_all, _ = best(lambda: F.complexity(red))
    out["fc"] = (fc, fc_all)
    out["bs"] = best(lambda: bootstrap(evaluate(red, Scenario(split)), 1000))[:2]
    out["bc"] = best(lambda: bootstrap(evaluate(red, Scenario(split, policy="complexity")), 1000))[:2]
    res = bootstrap(evaluate(red, Scenario(split)), 1000)
    cur = evaluate(red, Scenario(parse_split("current")))
    frp = F.proportional(red)
    m = F.frontier_metrics(red, frp)
    out.update(rss=rss_gib(), actual=cur.cost_nusd / 1e9, cost=float(res.cost) / 1e9,
               interval=[x / 1e9 for x in res.interval["cost_nusd"]], pareto=len(frp.pareto),
               metrics=None if m is None else (m.apgr, m.aiq, m.cpt[0.5][0], m.cpt[0.8][0]))
    return out


def payload_pass(path: str) -> dict:
    from costlab.config import Config
    from costlab.open import open_store
    from costlab.whatif import reduce

    store = open_store(Path(path), Config())
    t, c = time.perf_counter(), cpu_s()
    red = reduce(store, tiers=TIERS)
    return {"pass": time.perf_counter() - t, "cpu": cpu_s() - c, "rss": rss_gib(), "n": red.n,
            "documents": float((red.documents > 0).mean()), "conditional": float(red.conditional.mean()),
            "multistep": float(red.multistep.mean())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--payload-rows", type=int, default=1_000_000, help="rows for the pass with request bodies (0: skip)")
    ap.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = ap.parse_args()

    from costlab.config import Config
    from costlab.whatif.routellm import evidence, outcomes_reduction, read_outcomes

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.duckdb")
        # the headline on one week of --rows requests: bench_report.py's cached store when it is there
        week = HERE / "data" / f"report-{args.rows}.duckdb"
        if not week.exists():
            week = Path(tmp) / "week.duckdb"
            in_child(build_week, str(week), args.rows)
        else:
            in_child(refresh, str(week))
        hl = in_child(headline, str(week))  # first, as the report would meet a cold store
        hl_r = in_child(headline, str(week), True)
        build = in_child(build_store, path, args.rows, False)
        p = in_child(one_pass, path)
        Path(path).unlink()
        pl_ = None
        if args.payload_rows:
            ppath = str(Path(tmp) / "payloads.duckdb")
            pbuild = in_child(build_store, ppath, args.payload_rows, True)
            pl_ = in_child(payload_pass, ppath)

    fmt = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    lines.append(f"\n## What-if simulator (issue #6), {time.strftime('%Y-%m-%d')}\n")
    lines.append(describe() + "\n")
    lines.append(f"{p['n']:,} generated requests (seed 7, 14 days, three tiers), reduced once to per-request arrays "
                 f"(cost on each tier, warm-up, batch, cache deltas, quality, scorer features). Targets: the 5,151-split "
                 f"frontier and one scenario with a 1,000-resample day-block bootstrap, each under 5 s after the pass; "
                 f"the pass under 4 GB peak RSS. Each step in a fresh process (its own peak RSS).\n")
    lines.append("| what | time (best of 3) | all runs | CPU | peak RSS |\n|---|---|---|---|---|")
    lines.append(f"| build the store (generate_sql insert, then each row priced into its stored columns as ingest does) | {build:.1f} s | - | - | - |")
    lines.append(f"| the one pass (`reduce`: one wide row per request streamed as Arrow batches into arrays) | "
                 f"{p['pass']:.1f} s | - | {p['cpu']:.1f} s | {p['rss_pass']:.2f} GiB |")
    lines.append(f"| report headline, one week of {hl['n']:,} requests (`reduce_daily_totals` aggregate-first: the week grouped "
                 f"with no price join, the cube priced per tier; then current + 2 splits with 1,000-resample bootstraps) | "
                 f"{hl['wall']:.2f} s (pass {hl['pass']:.2f} s) | - | {hl['cpu']:.1f} s | {hl['rss']:.2f} GiB |")
    lines.append(f"| the same inside the report's window (`priced_once`, stored prices read through a temp view: "
                 f"{hl_r['price']:.2f} s, not counted) | {hl_r['wall']:.2f} s (pass {hl_r['pass']:.2f} s) | - | {hl_r['cpu']:.1f} s | "
                 f"{hl_r['rss']:.2f} GiB |")
    lines.append(f"| frontier, proportional, 5,151 splits + Pareto | {p['fp'][0]:.2f} s | {fmt(p['fp'][1])} | - | - |")
    lines.append(f"| frontier, complexity policy, 5,151 splits + Pareto | {p['fc'][0]:.2f} s | {fmt(p['fc'][1])} | - | - |")
    lines.append(f"| one scenario (proportional 70/25/5) + 1,000-resample bootstrap | {p['bs'][0]:.2f} s | {fmt(p['bs'][1])} | - | - |")
    lines.append(f"| one scenario (complexity 70/25/5) + 1,000-resample bootstrap | {p['bc'][0]:.2f} s | {fmt(p['bc'][1])} | - | - |")
    if pl_ is not None:
        lines.append(f"| the one pass with request bodies ({pl_['n']:,} requests, payload features in SQL; "
                     f"store built in {pbuild:.1f} s) | {pl_['pass']:.1f} s | - | {pl_['cpu']:.1f} s | {pl_['rss']:.2f} GiB |")
    lines.append("")
    lines.append(f"- Peak RSS of the pass's process {p['rss_pass']:.2f} GiB after the pass, {p['rss']:.2f} GiB after the "
                 f"frontier and bootstrap rows. Actual cost (`--split current`) {p['actual']:,.2f} USD; 70/25/5 proportional "
                 f"{p['cost']:,.2f} USD [{p['interval'][0]:,.2f}, {p['interval'][1]:,.2f}]. Headline week: 70/25/5 "
                 f"{hl['cost']:,.2f} USD [{hl['interval'][0]:,.2f}, {hl['interval'][1]:,.2f}]; its actual split is "
                 f"sum(cost_usd) {hl['actual_gap_nusd']:+,} nano-dollars (the per-request rounding; bound 2.5 a request).")
    if pl_ is not None:
        lines.append(f"- Payload features over {pl_['n']:,} bodies: {pl_['documents']:.0%} with documents, "
                     f"{pl_['conditional']:.0%} conditional, {pl_['multistep']:.0%} multi-step.")
    if p["metrics"] is not None:
        apgr, aiq_, c50, c80 = p["metrics"]
        lines.append(f"- Proportional frontier on the generated logs (quality = logged feedback): APGR {apgr:.3f}, AIQ {aiq_:.4f}, "
                     f"CPT(50%) ${c50:,.2f}, CPT(80%) ${c80:,.2f}; {p['pareto']} Pareto splits.")

    # RouteLLM evidence: complexity policy, random router, oracle (prompt length and wording only)
    import duckdb  # noqa: F401

    from costlab.open import open_store as S2

    data = ROOT / "tests" / "fixtures" / "routellm_whatif"
    s2 = S2(":memory:", Config())
    lines.append("\nRouteLLM outcomes (tests/fixtures/routellm_whatif; Mixtral-8x7B = weak/haiku, GPT-4 = strong/opus; "
                 "cost = strong-call share, as RouteLLM). The complexity policy scores prompts by length and "
                 "conditional/multi-step wording only (no training):\n")
    lines.append("| dataset | prompts | q weak | q strong | random APGR (mean of 10 seeds; range) | oracle quality (= max per prompt) | oracle strong share | complexity APGR | complexity CPT(50%) | CPT(80%) | AIQ |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    import numpy as np

    for name, path in (("MMLU", data / "mmlu_responses"), ("GSM8K", data / "gsm8k_outcomes.csv")):
        df = read_outcomes(s2, path)
        q = np.column_stack([df["weak"].cast(float).to_numpy(), df["strong"].cast(float).to_numpy()])
        red2 = outcomes_reduction(q, q.copy(), df["prompt"].to_list(), df["subject"].to_list(), ("haiku", "opus"), (0, 1))
        ev = evidence(red2)
        lines.append(f"| {name} | {ev['prompts']:,} | {ev['q_weak']:.3f} | {ev['q_strong']:.3f} | {ev['random_apgr']:.3f} ({ev['random_apgr_min']:.3f}-{ev['random_apgr_max']:.3f}) | "
                     f"{ev['oracle_quality']:.3f} ({ev['max_per_prompt_quality']:.3f}) | {ev['oracle_strong_share']:.3f} | "
                     f"{ev['complexity_apgr']:.3f} | {ev['complexity_cpt50']:.3f} | {ev['complexity_cpt80']:.3f} | {ev['complexity_aiq']:.3f} |")
    s2.close()
    text = "\n".join(lines) + "\n"
    print(text)
    if args.record:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
