"""Pricing a lake in place (`costlab export LAKE --price`) on DuckDB and on Spark local[2], side by side.

The week of --rows generated requests that bench_spark.py builds (benchmarks/data/spark_<rows>_lake)
is turned into what another process would append: every day as the canonical request columns only,
no costs, under a file name of its own. Each engine, in its own process, prices a fresh copy of that
lake (costlab.engine.lakeprice.price_lake with the store's prices); recorded: start-up (Spark's
session), wall and CPU seconds of the pricing (summed over every process of the run: /proc), and
whether the priced days equal the days `costlab export` wrote from the store (every column, to the
nano-dollar). The machine is shared: read the ratios, and the load average beside them.

    .venv/bin/python benchmarks/bench_lake_price.py --rows 200000 --record
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench_spark import build, tree_cpu  # noqa: E402
from common import describe, record_section  # noqa: E402


def raw_lake(lake: Path, rows: int) -> Path:
    """The exported lake's days as another process writes them: canonical columns, no costs, no manifest."""
    from costlab.schema import COLUMN_NAMES
    from costlab.store import Store
    from costlab.store.sqlquote import file_literal, ident, literal

    raw = HERE / "data" / f"spark_{rows}_rawlake"
    if raw.exists():
        return raw
    cols = ", ".join(ident(c) for c in COLUMN_NAMES)
    with Store(":memory:") as local:
        for day in sorted((lake / "requests").glob("day=*")):
            (raw / "requests" / day.name).mkdir(parents=True)
            local.execute(f"copy (select {cols} from read_parquet({file_literal(day / 'part-0.parquet')}, hive_partitioning = false)) "
                          f"to {literal(str(raw / 'requests' / day.name / 'part-00000-appended.zstd.parquet'))} "
                          "(format parquet, compression zstd)")
    return raw


def child(kind: str, db: Path, lake: Path, root: int) -> dict:
    from costlab.config import Config
    from costlab.engine.lakeprice import price_lake
    from costlab.open import open_store

    t = time.perf_counter()
    spark = None
    if kind == "spark":
        from costlab.engine.spark import session

        spark = session("local[2]", app_name="costlab-bench-price")
    startup = time.perf_counter() - t
    cpu0, t0 = tree_cpu(root), time.perf_counter()
    with open_store(db, Config(), read_only=True) as store:
        result = price_lake(store, lake, kind=kind, spark=spark)
    out = {"kind": kind, "startup": startup, "wall": time.perf_counter() - t0, "cpu": tree_cpu(root) - cpu0,
           "days": len(result.written), "rows": result.rows_written}
    if spark is not None:
        spark.stop()
    return out


def same_days(priced: Path, exported: Path) -> bool:
    import polars as pl

    for day in sorted((exported / "requests").glob("day=*")):
        a = pl.read_parquet(day / "part-0.parquet").sort("source", "request_id")
        b = pl.read_parquet(priced / "requests" / day.name / "part-0.parquet").sort("source", "request_id")
        if not a.equals(b):
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--record", action="store_true", help="write the section of benchmarks/RESULTS.md")
    ap.add_argument("--child", nargs=4, metavar=("KIND", "DB", "LAKE", "ROOT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, db, lake, root = args.child
        print(json.dumps(child(kind, Path(db), Path(lake), int(root))))
        return
    db, lake = build(args.rows)
    raw = raw_lake(lake, args.rows)
    results = []
    for kind in ("duckdb", "spark"):
        work = HERE / "data" / f"price_{kind}_{args.rows}"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(raw, work)
        load0 = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, __file__, "--child", kind, str(db), str(work), str(os.getpid())],
                              capture_output=True, text=True, cwd=ROOT)
        if proc.returncode:
            raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["load"] = (load0, os.getloadavg()[0])
        r["same"] = same_days(work, lake)
        results.append(r)
        print(json.dumps(r), file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"{describe()}; `benchmarks/bench_lake_price.py --rows {args.rows}`, {time.strftime('%Y-%m-%d', time.gmtime())}.",
             "",
             f"A week of {args.rows:,} generated requests appended to a lake by \"another process\" (7 days, the "
             "canonical columns, no costs) and priced in place with the store's prices by "
             "queries/lake/price_requests.sql: the pass that decides (per day: rows, misplaced rows, changed "
             "prices) and the one that writes, then each day file re-encoded and checksummed with DuckDB. CPU is "
             "summed over every process of the run (driver, JVM). The machine was shared (load average in the "
             "table): read the ratio, not the absolute times.",
             "",
             "| engine | start-up s | pricing wall s | pricing CPU s | days | rows | rows per CPU-s | same files as export | load avg (before, after) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['kind']} | {r['startup']:.1f} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['days']} | {r['rows']:,} | "
                     f"{r['rows'] / max(r['cpu'], 0.01):,.0f} | {'yes' if r['same'] else 'NO'} | {r['load'][0]:.1f}, {r['load'][1]:.1f} |")
    body = "\n".join(lines)
    print(body)
    if args.record:
        record_section(f"Pricing a lake in place, {args.rows:,} requests on DuckDB and on Spark (issue 15, Part 2)", body)


if __name__ == "__main__":
    main()
