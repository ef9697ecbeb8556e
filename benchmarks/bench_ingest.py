"""Ingest throughput against the physical limit: raw DuckDB reading the same file into a table.

For each format (Anthropic envelope JSONL, canonical CSV) a seeded file of --rows requests is
generated once; then raw DuckDB and `costlab ingest` (library call, fresh store each time) run side
by side, alternating, --repeat times, each in its own process so peak memory is its own. Best of
the repeats is reported, with the ratio costlab/raw in rows per second.

    .venv/bin/python benchmarks/bench_ingest.py --rows 1000000 --repeat 2 --record

--profile adds one more costlab run per format that times each SQL statement of the ingest (wall and
process CPU), to see where the time goes; it is printed, not recorded.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import PEAK, side_by_side, side_by_side_table  # noqa: E402

RAW = PEAK + """
import duckdb, sys, time
path, fmt, db = sys.argv[1:4]
con = duckdb.connect(db)
con.execute("set enable_progress_bar = false")
reader = "read_json(?, format='newline_delimited')" if fmt == "anthropic" else "read_csv(?)"
t = time.perf_counter()
con.execute(f"create table raw as select * from {reader}", [path])
dt = time.perf_counter() - t
n = con.execute("select count(*) from raw").fetchall()[0][0]
print(dt, n, peak_bytes())
"""

COSTLAB = PEAK + """
import sys, time
from costlab.config import Config
from costlab.ingest import ingest_paths
from costlab.open import open_store
path, fmt, db = sys.argv[1:4]
store = open_store(db, Config())
t = time.perf_counter()
result = ingest_paths(store, [path]).files[0]
dt = time.perf_counter() - t
assert result.error is None and result.rows_rejected == 0, result
print(dt, result.rows_added, peak_bytes())
"""


PROFILE = """
import json, re, resource, sys, time
from costlab.config import Config
from costlab.ingest import ingest_paths
from costlab.open import open_store
path, fmt, db = sys.argv[1:4]
store = open_store(db, Config())
steps = []


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Timed:  # the store's connection, timing every statement the ingest runs
    def __init__(self, con):
        self.con = con

    def execute(self, query, *args, **kwargs):
        c, t = cpu(), time.perf_counter()
        out = self.con.execute(query, *args, **kwargs)
        steps.append((re.sub(r"\\s+", " ", query).strip()[:90], time.perf_counter() - t, cpu() - c))
        return out

    def __getattr__(self, name):
        return getattr(self.con, name)


store.con = Timed(store.con)
c, t = cpu(), time.perf_counter()
ingest_paths(store, [path])
total = (time.perf_counter() - t, cpu() - c)
print(json.dumps({"total": total, "steps": [s for s in steps if s[1] >= 0.02]}))
"""


def profile(path: Path, fmt: str, work: Path) -> None:
    db = work / f"profile-{time.monotonic_ns()}.duckdb"
    out = subprocess.run([sys.executable, "-c", PROFILE, str(path), fmt, str(db)], capture_output=True, text=True, check=True)
    db.unlink(missing_ok=True)
    Path(str(db) + ".wal").unlink(missing_ok=True)
    data = json.loads(out.stdout)
    print(f"profile of {path.name}: {data['total'][0]:.2f} s wall, {data['total'][1]:.2f} s CPU (all threads, sha256 included)",
          file=sys.stderr)
    for query, wall, cpu in data["steps"]:
        print(f"  {wall:6.2f} s wall {cpu:6.2f} s CPU  {query}", file=sys.stderr)


def measure(code: str, path: Path, fmt: str, work: Path, tag: str) -> tuple[float, int, int]:
    db = work / f"{tag}-{time.monotonic_ns()}.duckdb"
    out = subprocess.run([sys.executable, "-c", code, str(path), fmt, str(db)], capture_output=True, text=True, check=True)
    seconds, rows, peak = out.stdout.split()
    db.unlink(missing_ok=True)
    Path(str(db) + ".wal").unlink(missing_ok=True)
    return float(seconds), int(rows), int(peak)


def run(rows: int, repeat: int, work: Path, with_profile: bool = False) -> list[dict]:
    from costlab.generate import generate

    results = []
    for fmt, gen_fmt, name in (("anthropic", "anthropic", "envelope.jsonl"), ("csv", "canonical-csv", "canonical.csv")):
        path = work / name
        t = time.perf_counter()
        generate(path, rows, seed=1, fmt=gen_fmt)
        print(f"generated {rows:,} rows of {gen_fmt} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s",
              file=sys.stderr)
        raw, ours = [], []
        for _ in range(repeat):
            raw.append(measure(RAW, path, fmt, work, "raw"))
            ours.append(measure(COSTLAB, path, fmt, work, "costlab"))
        results.append(side_by_side(gen_fmt, rows, path, raw, ours))
        if with_profile:
            profile(path, fmt, work)
        path.unlink()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    ap.add_argument("--profile", action="store_true", help="also time each SQL step of one costlab ingest (stderr)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=HERE.parent if (HERE.parent / ".venv").exists() else None) as tmp:
        results = run(args.rows, args.repeat, Path(tmp), args.profile)
    print(json.dumps(results, indent=2))
    if args.record:
        from machine import describe

        lines = [f"\n## Ingest ({time.strftime('%Y-%m-%d')}, `benchmarks/bench_ingest.py --rows {args.rows} --repeat {args.repeat}`)\n",
                 describe(), "",
                 *side_by_side_table(results)]
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
