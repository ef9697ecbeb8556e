"""`costlab signals` and `costlab report` on Spark local[2] against DuckDB, over the same week.

A store (read-only, e.g. /work/big/scale-10000000.duckdb: 10M generated requests in 2026-W46) is
exported once as a lake (`costlab export`, to --lake, kept unless --delete-lake); then, each in its
own process: DuckDB over the store, and Spark local[2] over the lake (driver --driver-memory), run
the detectors (costlab.signals.run_signals, until the week's end) and the weekly report
(costlab.report.build_report) once each. Recorded: wall and CPU seconds (every process of the run:
the Python driver, its JVM and Python workers, from /proc), peak RSS of the tree, load average, and
whether the findings are the same. The machine is shared: read the ratios.

    .venv/bin/python benchmarks/bench_spark_analyses.py --db /work/big/scale-10000000.duckdb \\
        --lake /work/big/sparks3-lake --record --delete-lake
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench_spark import tree_cpu  # noqa: E402
from common import below, describe, processes, record_section  # noqa: E402

WEEK = "2026-W46"


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and every live process below it."""
    table = processes()
    return sum(table[pid][2] for pid in below(root, table) if pid in table)


def child(mode: str, db: Path, lake: Path, driver_memory: str) -> dict:
    from costlab import signals
    from costlab.config import Config
    from costlab.open import open_store
    from costlab.report import build_report, window

    me = os.getpid()
    peak = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss(me))
            stop.wait(1.0)

    threading.Thread(target=watch, daemon=True).start()
    t = time.perf_counter()
    if mode == "duckdb-store":
        engine = open_store(db, Config(), read_only=True)
    else:
        from costlab.engine.spark import SparkEngine, session

        engine = SparkEngine(lake, spark=session("local[2]", app_name="costlab-bench-analyses",
                                                 extra={"spark.driver.memory": driver_memory}))
    out: dict = {"mode": mode, "startup": round(time.perf_counter() - t, 1), "steps": {}}
    span = window.week(WEEK)
    for step in ("signals", "report"):
        load0 = os.getloadavg()[0]
        cpu0, t0 = tree_cpu(me), time.perf_counter()
        if step == "signals":
            notes: list[str] = []
            found = signals.run_signals(engine, until=span.until, notes=notes)
            digest = found.sort(found.columns).write_csv()
            extra = {"findings": found.height}
        else:
            report = build_report(engine, span)
            digest = json.dumps(report.get("sections", {}).get("findings", {}), sort_keys=True, default=str)
            extra = {"sections": len(report.get("sections", {}))}
        out["steps"][step] = {"wall": round(time.perf_counter() - t0, 1), "cpu": round(tree_cpu(me) - cpu0, 1),
                              "load": [round(load0, 1), round(os.getloadavg()[0], 1)], "digest": hash(digest), **extra}
        print(json.dumps({step: out["steps"][step]}), file=sys.stderr, flush=True)
    stop.set()
    out["peak_rss_gib"] = round(peak[0] / 2**30, 2)
    if mode.startswith("spark"):
        engine.spark.stop()
    else:
        engine.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--lake", type=Path, required=True)
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--modes", default="duckdb-store,spark-local2")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--delete-lake", action="store_true")
    ap.add_argument("--child", nargs=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.db, args.lake, args.driver_memory)))
        return
    if not (args.lake / "_costlab" / "manifest.json").exists():
        from costlab.config import Config
        from costlab.lake import export_lake
        from costlab.open import open_store

        t = time.perf_counter()
        with open_store(args.db, Config(), read_only=True) as store:
            export_lake(store, args.lake)
        print(f"exported in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    lake_bytes = sum(f.stat().st_size for f in (args.lake / "requests").rglob("*.parquet"))
    results = []
    try:
        for mode in args.modes.split(","):
            proc = subprocess.run([sys.executable, __file__, "--db", str(args.db), "--lake", str(args.lake),
                                   "--driver-memory", args.driver_memory, "--child", mode],
                                  capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
            if proc.returncode:
                raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        if args.delete_lake:
            shutil.rmtree(args.lake, ignore_errors=True)
    same = {s: len({r["steps"][s]["digest"] for r in results}) == 1 for s in ("signals", "report")}
    lines = [f"{describe()}; `benchmarks/bench_spark_analyses.py --db {args.db.name} --driver-memory {args.driver_memory}`, "
             f"{time.strftime('%Y-%m-%d', time.gmtime())}.", "",
             f"The week {WEEK} of `{args.db.name}`; its lake is {lake_bytes / 1e6:.0f} MB of zstd Parquet. "
             "`signals`: every detector that runs on the engine (run_signals until the week's end, its default "
             "8-week look-back); `report`: build_report of the week (on Spark without the what-if and model-switch "
             "sections, which do not run there). CPU summed over every process of the run (driver, JVM, Python "
             "workers); the machine was shared (load average before, after each step): read the ratios. "
             f"Findings the same on both engines: signals {'yes' if same['signals'] else 'NO'}, the report's "
             f"findings section {'yes' if same['report'] else 'NO (the skipped detector overload_bursts)'}.", "",
             "| engine | start-up s | signals: wall s | CPU s | load | report: wall s | CPU s | load | peak RSS GiB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        s, p = r["steps"]["signals"], r["steps"]["report"]
        lines.append(f"| {r['mode']} | {r['startup']} | {s['wall']} | {s['cpu']} | {s['load'][0]}, {s['load'][1]} | "
                     f"{p['wall']} | {p['cpu']} | {p['load'][0]}, {p['load'][1]} | {r['peak_rss_gib']} |")
    body = "\n".join(lines)
    print(body)
    if args.record:
        record_section("Spark engine: signals and report on Spark local[2] against DuckDB (issue 15, Part 2)", body)


if __name__ == "__main__":
    main()
