"""The same week of --rows requests from a lake on DuckDB and on Apache Spark, side by side.

A store with --rows generated requests in one ISO week (2026-W46, seeded) is built once under
benchmarks/data/ and exported as a lake (Hive-partitioned Parquet, by `costlab export`:
costlab.lake.export_lake). Then, each in its own process, the same work runs on:

  * duckdb-store   DuckDB over the store (today's path)
  * duckdb-lake    DuckDB over the lake's Parquet
  * spark-local2   Spark local[2] over the lake (driver 1 GB)
  * spark-standalone (--standalone) a master and two 1-core workers on 127.0.0.1, one executor each

The work: the cost summary of the week (cost_by_tier_model_day + cost_by_feature, costlab.summary)
and the other portable queries (every query file whose header says `-- engines: duckdb, spark`).
Each engine runs it --repeat times after starting; recorded: start-up, the first and the best run
(wall seconds), the CPU seconds of the best run summed over every process of the run (the Python
driver, its JVM, the cluster's daemons and executors: /proc), rows per wall second and per CPU
second, and the load average. The machine is shared: read ratios from the same run.

    .venv/bin/python benchmarks/bench_spark.py --rows 2000000 --repeat 3 --standalone --record
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from common import below, describe, processes, record_section  # noqa: E402

WEEK = {"since": "2026-11-09", "until": "2026-11-16"}


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of `root` and every live process below it, from /proc."""
    table = processes()
    return sum(table[pid][1] for pid in below(root, table) if pid in table)


def build(rows: int) -> tuple[Path, Path]:
    from costlab import pricing
    from costlab.config import Config
    from costlab.generate import generate_sql
    from costlab.open import open_store
    from costlab.lake import export_lake

    data = HERE / "data"
    data.mkdir(exist_ok=True)
    db, lake = data / f"spark_{rows}.duckdb", data / f"spark_{rows}_lake"
    if not lake.exists():
        db.unlink(missing_ok=True)
        t = time.perf_counter()
        with open_store(db, Config()) as store:
            store.execute("insert into requests by name " + generate_sql(rows, seed=15, start=WEEK["since"], days=7))
            pricing.reprice(store)
            export_lake(store, lake)
        print(f"built {rows:,} rows and the lake in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return db, lake


def child(mode: str, db: Path, lake: Path, repeat: int, master: str | None, root: int) -> dict:
    """Runs in its own process: start the engine, run the week's work `repeat` times."""
    from costlab.config import Config
    from costlab.engine import duckdb_lake
    from costlab.engine.portable import lint
    from costlab.open import open_store
    from costlab.summary import cost_summary

    names = sorted(lint())
    t = time.perf_counter()
    if mode == "duckdb-store":
        engine = open_store(db, Config(), read_only=True)
    elif mode == "duckdb-lake":
        engine = duckdb_lake(lake)
    else:
        from costlab.engine.spark import SparkEngine, session

        extra = {"spark.executor.memory": "768m", "spark.executor.cores": "1", "spark.cores.max": "2",
                 "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"} if master.startswith("spark://") else {}
        spark = session(master, app_name=f"costlab-bench-{mode}", extra=extra)
        if master.startswith("spark://"):
            deadline = time.monotonic() + 180
            while spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() < 3 and time.monotonic() < deadline:
                time.sleep(1)
        engine = SparkEngine(lake, spark=spark)
    startup = time.perf_counter() - t
    runs = []
    for _ in range(repeat):
        cpu0, t0 = tree_cpu(root), time.perf_counter()
        sections = cost_summary(engine, **WEEK)
        per_query = {}
        for name in names:
            q0 = time.perf_counter()
            engine.run_query(name, **({k: v for k, v in WEEK.items()}))
            per_query[name] = round(time.perf_counter() - q0, 2)
        runs.append({"wall": time.perf_counter() - t0, "cpu": tree_cpu(root) - cpu0, "per_query": per_query})
    total = sections["tier"].filter(sections["tier"]["tier"] == "total")
    out = {"mode": mode, "startup": startup, "runs": runs, "total": str(total["cost_usd"][0]), "requests": int(total["requests"][0])}
    if mode.startswith("spark"):
        engine.spark.stop()
    else:
        engine.close()
    return out


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(tmp: Path) -> tuple[str, list[subprocess.Popen]]:
    """A master and two 1-core workers on 127.0.0.1 from pyspark's spark-class (as the smoke test)."""
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DAEMON_MEMORY": "256m",
           "SPARK_WORKER_DIR": str(tmp / "work")}
    port, web = _port(), _port()
    master = f"spark://127.0.0.1:{port}"
    spark_class = str(home / "bin" / "spark-class")
    procs = [subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                               "--webui-port", str(web)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for i in (1, 2):
        procs.append(subprocess.Popen([spark_class, "org.apache.spark.deploy.worker.Worker", master, "--host", "127.0.0.1",
                                       "--cores", "1", "--memory", "1g", "--webui-port", str(_port()), "--work-dir", str(tmp / f"w{i}")],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web}/json/", timeout=5) as r:
                if sum(w.get("state") == "ALIVE" for w in json.load(r).get("workers", [])) == 2:
                    return master, procs
        except OSError:
            pass
        time.sleep(2)
    raise SystemExit("the standalone cluster did not come up")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--standalone", action="store_true", help="also run on a master + 2 workers on 127.0.0.1")
    ap.add_argument("--record", action="store_true", help="write the section of benchmarks/RESULTS.md")
    ap.add_argument("--child", nargs=5, metavar=("MODE", "DB", "LAKE", "MASTER", "ROOT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, db, lake, master, root = args.child
        print(json.dumps(child(mode, Path(db), Path(lake), args.repeat, master, int(root))))
        return
    db, lake = build(args.rows)
    lake_bytes = sum(f.stat().st_size for f in (lake / "requests").rglob("*.parquet"))
    modes = [("duckdb-store", "-"), ("duckdb-lake", "-"), ("spark-local2", "local[2]")]
    procs: list[subprocess.Popen] = []
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        try:
            if args.standalone:
                master, procs = start_cluster(Path(tmp))
                modes.append(("spark-standalone", master))
            results = []
            for mode, master in modes:
                load0 = os.getloadavg()[0]
                proc = subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat), "--child", mode, str(db), str(lake),
                                       master, str(os.getpid())], capture_output=True, text=True, cwd=ROOT)
                if proc.returncode:
                    raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                r["load"] = (load0, os.getloadavg()[0])
                results.append(r)
                print(json.dumps(r), file=sys.stderr)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=60)
    totals = {r["total"] for r in results}
    lines = [f"{describe()}; `benchmarks/bench_spark.py --rows {args.rows} --repeat {args.repeat}"
             f"{' --standalone' if args.standalone else ''}`, {time.strftime('%Y-%m-%d', time.gmtime())}.",
             "",
             f"One week (2026-W46) of {args.rows:,} generated requests; the lake's requests are "
             f"{lake_bytes / 1e6:.1f} MB of zstd Parquet ({lake_bytes / args.rows:.0f} bytes a request), 7 day partitions. "
             "The work: the cost summary of the week plus every portable query over the week "
             f"({len(results[0]['runs'][0]['per_query'])} files). CPU is summed over every process of the run "
             "(driver, JVM, cluster daemons and executors). The machine was shared with other sessions "
             "(load average in the table): read the ratios, not the absolute times.",
             "",
             f"Every engine's week total: {', '.join(sorted(totals))} USD "
             f"({'identical' if len(totals) == 1 else 'DIFFERENT'}).",
             "",
             "| engine | start-up s | first run s | best run s | CPU s (best) | rows/s (wall) | rows per CPU-s | load avg (before, after) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        best = min(r["runs"], key=lambda x: x["wall"])
        lines.append(f"| {r['mode']} | {r['startup']:.1f} | {r['runs'][0]['wall']:.2f} | {best['wall']:.2f} | {best['cpu']:.1f} | "
                     f"{args.rows / best['wall']:,.0f} | {args.rows / max(best['cpu'], 0.01):,.0f} | "
                     f"{r['load'][0]:.1f}, {r['load'][1]:.1f} |")
    lines += ["", "Best run, seconds per query:", "",
              "| query | " + " | ".join(r["mode"] for r in results) + " |",
              "|---|" + "---|" * len(results)]
    best_runs = [min(r["runs"], key=lambda x: x["wall"]) for r in results]
    for name in best_runs[0]["per_query"]:
        lines.append(f"| {name} | " + " | ".join(f"{b['per_query'][name]:.2f}" for b in best_runs) + " |")
    body = "\n".join(lines)
    print(body)
    if args.record:
        record_section(f"Spark engine, a week of {args.rows:,} requests on DuckDB and on Spark (issue 15, Part 2)", body)


if __name__ == "__main__":
    main()
