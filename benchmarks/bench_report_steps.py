"""The weekly report on an existing store, step by step: wall and CPU seconds (process_time: every
thread of the process, DuckDB's included) of each section and of each query file it runs, and the
process's peak RSS. For finding where a large week's report spends its time (issue 15, part 1).

    COSTLAB_MEMORY_LIMIT=2GB PYTHONPATH=. .venv/bin/python benchmarks/bench_report_steps.py STORE [--week 2026-W46]

Prints one JSON object (sections, queries, totals, load average before and after) on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import peak_rss_bytes  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("--week", default="2026-W46")
    ap.add_argument("--config", default=str(HERE.parent / "examples" / "costlab.toml"))
    ap.add_argument("--skip", action="append", default=[], help="a section to leave out (repeatable)")
    ap.add_argument("--only", action="append", default=[], help="only these sections (repeatable)")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    from costlab import memory
    memory.prepare_process()
    from costlab.config import load_config
    from costlab.open import open_store
    from costlab.report import SECTIONS, build_report, window
    from costlab.store import Store

    queries: dict[str, list[float]] = {}
    original = Store.run_query

    def run_query(self, name, **params):
        t, c = time.perf_counter(), time.process_time()
        try:
            return original(self, name, **params)
        finally:
            q = queries.setdefault(name, [0.0, 0.0, 0])
            q[0] += time.perf_counter() - t
            q[1] += time.process_time() - c
            q[2] += 1

    Store.run_query = run_query
    steps: dict[str, dict] = {}

    def timed(section):
        def run(ctx):
            t, c = time.perf_counter(), time.process_time()
            try:
                return section.build(ctx)
            finally:
                steps[section.name] = {"wall_s": round(time.perf_counter() - t, 2),
                                       "cpu_s": round(time.process_time() - c, 2)}
        return replace(section, build=run)

    chosen = [s for s in SECTIONS if s.name not in args.skip and (not args.only or s.name in args.only)]
    t, c = time.perf_counter(), time.process_time()
    with open_store(args.store, load_config(args.config), read_only=True) as store:
        report = build_report(store, window.week(args.week), sections=[timed(s) for s in chosen])
    out = {"total_wall_s": round(time.perf_counter() - t, 2), "total_cpu_s": round(time.process_time() - c, 2),
           "peak_gib": round(peak_rss_bytes() / 2**30, 3), "load_before": load0, "load_after": os.getloadavg()[0],
           "memory_limit": os.environ.get("COSTLAB_MEMORY_LIMIT"), "sections": steps,
           "queries": {k: {"wall_s": round(v[0], 2), "cpu_s": round(v[1], 2), "runs": v[2]} for k, v in queries.items()},
           "built": list(report["sections"])}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
