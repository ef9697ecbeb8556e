"""Replay throughput against its bound: concurrency / latency, with the test server answering after a fixed delay.

The test server (costlab.testing) runs in its own process with --latency (default 50 ms); a store with
--requests logged requests is replayed on one tier at --concurrency (default 32) through the real
anthropic SDK, every result written to the store as it arrives. Throughput = answered requests / wall
time of the send phase (checks and judges excluded). The bound is concurrency / latency (640 req/s at
32 and 50 ms); the target is at least 80% of it.

    .venv/bin/python benchmarks/bench_replay.py --requests 2000 --repeat 3 --record
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = ap.parse_args()

    from costlab import replay
    from costlab.config import Config
    from costlab.open import open_store
    from machine import describe
    from costlab.testing.factories import write_log

    server = subprocess.Popen([sys.executable, "-m", "costlab.testing", "--latency", str(args.latency), "--no-record"],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = server.stdout.readline().strip()
    os.environ.setdefault("ANTHROPIC_API_KEY", "bench")
    bound = args.concurrency / args.latency
    rates, sdk_rates = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            from costlab.ingest import ingest_paths

            store = open_store(Path(tmp) / "bench.duckdb", Config(tiers={"haiku": "claude-haiku-5-5"}))
            ingest_paths(store, [str(write_log(Path(tmp) / "log.jsonl", args.requests))])
            for i in range(args.repeat):
                run, _ = replay.plan(store, replay.ReplaySpec(sample=args.requests, tiers=["haiku"], run=f"bench{i}",
                                                              concurrency=args.concurrency))
                from costlab.replay.jobs import load_jobs
                from costlab.replay.limiter import Limiter
                from costlab.replay.providers import make_client, sdk_arguments
                from costlab.replay.send import send
                from costlab.replay.plan import prepare, run_params, set_run_tiers

                prepare(store)
                set_run_tiers(store, run_params(store, run))
                limiter = Limiter(args.concurrency)
                client = make_client({}, 2, limiter.on_response, url)
                jobs = load_jobs(store, run)
                t = time.perf_counter()
                out = send(store, run, client, jobs, limiter)
                dt = time.perf_counter() - t
                assert out.ok == args.requests, out
                rates.append(out.ok / dt)
                # The same calls through the SDK alone (no store, no journal, no limiter): what this
                # machine allows, so the figure above separates costlab's overhead from the machine's.
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(args.concurrency) as pool:
                    t = time.perf_counter()
                    list(pool.map(lambda j: client.messages.create(**sdk_arguments(client, j.body)), jobs))
                    sdk_rates.append(len(jobs) / (time.perf_counter() - t))
                print(f"run {i}: {out.ok} requests in {dt:.2f} s = {out.ok / dt:.0f} req/s "
                      f"({out.ok / dt / bound:.0%} of the {bound:.0f} req/s bound); SDK alone {sdk_rates[-1]:.0f} req/s",
                      flush=True)
            store.close()
    finally:
        server.terminate()
        server.wait()
    best, median = max(rates), sorted(rates)[len(rates) // 2]
    sdk = sorted(sdk_rates)[len(sdk_rates) // 2]
    load = os.getloadavg()[0]
    line = (f"| replay send, {args.requests:,} requests, concurrency {args.concurrency}, latency {args.latency * 1000:.0f} ms "
            f"| {median:,.0f} req/s median, {best:,.0f} best of {args.repeat} | bound {bound:,.0f} req/s "
            f"| {median / bound:.0%} median, {best / bound:.0%} best | {sdk:,.0f} req/s ({sdk / bound:.0%}) "
            f"| {load:.1f} |")
    print(line)
    if args.record:
        results = HERE / "RESULTS.md"
        with results.open("a", encoding="utf-8") as f:
            f.write(f"\n## Replay throughput ({time.strftime('%Y-%m-%d')})\n\n{describe()}\n"
                    "Test server in its own process (`python -m costlab.testing --latency`), real anthropic SDK, "
                    "every result written to the store as it arrives (`benchmarks/bench_replay.py`).\n\n"
                    "| what | throughput | bound (concurrency / latency) | share of bound | SDK alone, same calls (median) | load average (1 min) |\n|---|---|---|---|---|---|\n"
                    f"{line}\n")


if __name__ == "__main__":
    main()
