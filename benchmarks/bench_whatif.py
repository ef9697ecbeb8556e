"""What-if simulator: the one pass, the 5,151-split frontier, one scenario with a 1,000-resample
bootstrap, and the RouteLLM figures of the complexity policy.

Targets (issue #6), after the one pass that reduces the logs to per-request arrays:
  the 5,151-split frontier over 10M requests in under 5 s; one scenario with a 1,000-resample
  day-block bootstrap in under 5 s.

    .venv/bin/python benchmarks/bench_whatif.py --rows 10000000 --record
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402

TIERS = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def best(fn, repeat: int = 3):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), times, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = ap.parse_args()

    from costlab.config import Config
    from costlab.generate import generate_sql
    from costlab.store import Store
    from costlab.whatif import Scenario, bootstrap, evaluate, parse_split, reduce
    from costlab.whatif import frontier as F
    from costlab.whatif.routellm import evidence, outcomes_reduction, read_outcomes

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb", Config())
        t = time.perf_counter()
        store.execute("insert into requests " + generate_sql(args.rows, seed=7))
        build = time.perf_counter() - t
        t = time.perf_counter()
        red = reduce(store, tiers=TIERS)
        one_pass = time.perf_counter() - t
        rss_after_reduce = rss_gib()
        store.close()

    fp, fp_all, frp = best(lambda: F.proportional(red))
    fc, fc_all, frc = best(lambda: F.complexity(red))
    split = parse_split("haiku=70,sonnet=25,opus=5")
    bs, bs_all, res = best(lambda: bootstrap(evaluate(red, Scenario(split)), 1000))
    bc, bc_all, resc = best(lambda: bootstrap(evaluate(red, Scenario(split, policy="complexity")), 1000))
    cur = evaluate(red, Scenario(parse_split("current")))
    m = F.frontier_metrics(red, frp)

    lines.append(f"\n## What-if simulator (issue #6), {time.strftime('%Y-%m-%d')}\n")
    lines.append(describe() + "\n")
    lines.append(f"{red.n:,} generated requests (seed 7, 14 days, three tiers), reduced once to per-request arrays "
                 f"(cost on each tier, warm-up, batch, cache deltas, quality, scorer features). Targets: the 5,151-split "
                 f"frontier and one scenario with a 1,000-resample day-block bootstrap, each under 5 s after the pass.\n")
    lines.append("| what | time (best of 3) | all runs |\n|---|---|---|")
    lines.append(f"| build the store (generate_sql insert) | {build:.1f} s | - |")
    lines.append(f"| the one pass (`reduce`: SQL over costed_requests x 3 tiers, arrays) | {one_pass:.1f} s | - |")
    lines.append(f"| frontier, proportional, 5,151 splits + Pareto | {fp:.2f} s | {', '.join(f'{x:.2f}' for x in fp_all)} |")
    lines.append(f"| frontier, complexity policy, 5,151 splits + Pareto | {fc:.2f} s | {', '.join(f'{x:.2f}' for x in fc_all)} |")
    lines.append(f"| one scenario (proportional 70/25/5) + 1,000-resample bootstrap | {bs:.2f} s | {', '.join(f'{x:.2f}' for x in bs_all)} |")
    lines.append(f"| one scenario (complexity 70/25/5) + 1,000-resample bootstrap | {bc:.2f} s | {', '.join(f'{x:.2f}' for x in bc_all)} |")
    lines.append("")
    lines.append(f"- Peak RSS {rss_gib():.1f} GiB ({rss_after_reduce:.1f} GiB after the pass). "
                 f"Actual cost (`--split current`) {cur.cost_nusd / 1e9:,.2f} USD; 70/25/5 proportional "
                 f"{float(res.cost) / 1e9:,.2f} USD [{res.interval['cost_nusd'][0] / 1e9:,.2f}, {res.interval['cost_nusd'][1] / 1e9:,.2f}].")
    if m is not None:
        lines.append(f"- Proportional frontier on the generated logs (quality = logged feedback): APGR {m.apgr:.3f}, AIQ {m.aiq:.4f}, "
                     f"CPT(50%) ${m.cpt[0.5][0]:,.2f}, CPT(80%) ${m.cpt[0.8][0]:,.2f}; {len(frp.pareto)} Pareto splits.")

    # RouteLLM evidence: complexity policy, random router, oracle (prompt length and wording only)
    import duckdb  # noqa: F401

    from costlab.store import Store as S2

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
