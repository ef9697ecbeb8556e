"""Every detector's findings from this tree's SQL against the same detector's SQL at a git ref, on one
store: the check that a performance change to queries/signals/*.sql changed no finding (issue 15).

For each detector the query file at --ref (`git show REF:queries/signals/ID.sql`) and the one in
the working tree run on the same store, window and parameters (costlab.toml from --config, plus the
settings below that make every detector do its full work), and their frames, note rows included,
are compared exactly: every string (the evidence's figures), every DECIMAL to the last place,
every DOUBLE to 1e-12 relative (a float sum's last bit depends on the order threads add rows in).
Per detector it prints the CPU seconds of each side (process time of both DuckDB threads), so it is
also a side-by-side timing on a shared machine (--repeat 2: ref, tree, tree, ref, each side's best,
so neither side is always the one that reads cold columns).

    .venv/bin/python benchmarks/compare_signals.py --db STORE --ref main [--until 2026-11-16] [--loose]

--loose lowers the impact, request and share thresholds so the clean background yields findings
to compare too. Exit code 1 when any detector differs. The store is opened read-write (copy a shared one),
or with --read-only as it is (a shared store; its prices must be current for this config).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from costlab import pricing  # noqa: E402
from costlab.config import load_config  # noqa: E402
from costlab.open import open_store  # noqa: E402
from costlab.signals.params import resolve_params  # noqa: E402
from costlab.signals.window import window  # noqa: E402
from costlab.store import queries  # noqa: E402

# Every detector does its full work (as benchmarks/bench_signals.py sets it up).
FULL = {
    "batch_features": ["no-such-feature"],
    "latency_slo_ms": {"chat-assistant": 500, "support-bot": 20000},
    "ttft_slo_ms": {"chat-assistant": 300},
    "pin_versions": True,
}
# Thresholds low enough that a generated log yields findings of most detectors.
LOOSE = {"min_impact_usd": 0, "min_spend_share": 0, "min_requests": 5,
         "under_modeling": {"long_prompt_tokens": 8000, "min_ratio": 1.1, "min_z": 0.5, "min_troubles": 5},
         "context_window": {"near_share": 0.05, "min_share": 0.001, "min_per_week": 1}}


def sql_at(ref: str, name: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:queries/signals/{name}.sql"],
                          check=True, capture_output=True, text=True).stdout


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    return a == b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--ref", default="main")
    ap.add_argument("--config", default=str(ROOT / "examples" / "costlab.toml"))
    ap.add_argument("--until", default=None, help="the window's end, YYYY-MM-DD (default: after the last request)")
    ap.add_argument("--tz", default="UTC")
    ap.add_argument("--loose", action="store_true")
    ap.add_argument("--only", default=None, help="detector ids, comma-separated")
    ap.add_argument("--read-only", action="store_true", help="open the store read-only (a shared one)")
    ap.add_argument("--repeat", type=int, default=1, choices=(1, 2, 3), help="runs of each side (best CPU and wall kept)")
    args = ap.parse_args()
    config = load_config(args.config)
    config = dataclasses.replace(config, signals={**FULL, **(LOOSE if args.loose else {}), **dict(config.signals)})
    detectors, params = resolve_params(config)
    if args.only:
        detectors = [d for d in detectors if d.id in args.only.split(",")]
    until = datetime.fromisoformat(args.until).replace(tzinfo=timezone.utc) if args.until else None
    differ = 0
    with open_store(args.db, config, read_only=args.read_only) as store:
        start, end = window(store, None, until, args.tz)
        if pricing.stale_count(store, start, end):
            raise SystemExit("the window has stale prices: open it read-write with this config first")
        pricing.shadow_with_stored(store, start, end)
        print(f"window {start} to {end}; ref {args.ref}")
        for d in detectors:
            q = queries.load(d.query)
            p = dict(since=start, until=end, **params[d.id])
            if any(x.name == "tz" for x in q.params):
                p["tz"] = args.tz
            bound = q.bind(p)
            out = {}
            texts = {"ref": sql_at(args.ref, d.id), "tree": q.text}
            # ref, tree, then tree, ref (--repeat 2): each side's best run, neither always the cold one
            order = ["ref", "tree", "tree", "ref", "ref", "tree"][:2 * args.repeat]
            for side in order:
                t, cpu = time.perf_counter(), time.process_time()
                rows = store.con.sql(texts[side], params=bound or None).fetchall()
                run = (rows, time.perf_counter() - t, time.process_time() - cpu)
                out[side] = run if side not in out else (rows, min(out[side][1], run[1]), min(out[side][2], run[2]))
            a, b = out["ref"][0], out["tree"][0]
            ok = len(a) == len(b) and all(len(x) == len(y) and all(same(u, v) for u, v in zip(x, y)) for x, y in zip(a, b))
            differ += not ok
            print(f"{d.id:22s} {'same' if ok else 'DIFFERENT':9s} rows {len(a):4d}/{len(b):4d}  "
                  f"cpu ref {out['ref'][2]:6.2f} s  tree {out['tree'][2]:6.2f} s  "
                  f"wall ref {out['ref'][1]:6.2f} s  tree {out['tree'][1]:6.2f} s", flush=True)
            if not ok:
                for x, y in zip(a, b):
                    if x != y:
                        print("   ref :", x, "\n   tree:", y)
                        break
                if len(a) != len(b):
                    print("   ref rows:", a[:3], "\n   tree rows:", b[:3])
        pricing.drop_shadow(store)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
