"""The weekly report on a large store: build the report object and render it, time and peak memory.

A store with --rows generated requests in one ISO week (2026-W46, seeded, costlab.generate) is made
once under benchmarks/data/ (kept for re-runs; --fresh remakes it). Then, each in its own process so
peak memory (ru_maxrss) is its own:

  * build: open the store read-only, build_report for 2026-W46 against W45 (the report's own
    sections; the optional wrong-model findings section is costlab.signals' and is not timed here)
  * all formats: build, then render terminal, Markdown, JSON and HTML (charts, inlined Vega bundle)
  * HTML cold: as "all formats" with an empty bundle cache (vl-convert starts its JS runtime once)

Target (issue 5): under 10 s and under 2 GB for 10M requests in a week.

    .venv/bin/python benchmarks/bench_report.py --rows 10000000 --repeat 2 --record
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MAKE = """
import sys, time
from costlab.config import Config
from costlab.generate import generate_sql
from costlab.store import Store
db, n = sys.argv[1], int(sys.argv[2])
t = time.perf_counter()
with Store(db, Config()) as store:
    store.execute("insert into requests " + generate_sql(n, seed=11, start="2026-11-09", days=7))
    store.execute("checkpoint")
print(time.perf_counter() - t)
"""

RUN = """
import resource, sys, time
t0 = time.perf_counter()
from costlab.config import Config
from costlab.report import SECTIONS, build_report, render, window
from costlab.store import Store
db, mode = sys.argv[1], sys.argv[2]
t = time.perf_counter()
with Store(db, Config(), read_only=True) as store:
    # The report's own sections; optional ones from other issues (findings) time themselves.
    report = build_report(store, window.week("2026-W46"), sections=[s for s in SECTIONS if not s.optional])
built = time.perf_counter() - t
sizes = {}
if mode != "build":
    for fmt in ("terminal", "markdown", "json", "html"):
        sizes[fmt] = len(render.to_text(report, fmt, width=100))
total = time.perf_counter() - t
import json
print(json.dumps({"build_s": built, "total_s": total, "with_imports_s": time.perf_counter() - t0,
                  "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "sizes": sizes,
                  "requests": next(m for m in report["sections"]["headline"]["metrics"] if m["key"] == "requests")["current"]}))
"""


def run(db: Path, mode: str, cache: str | None = None) -> dict:
    env = dict(os.environ)
    if cache:
        env["XDG_CACHE_HOME"] = cache
    out = subprocess.run([sys.executable, "-c", RUN, str(db), mode], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--fresh", action="store_true", help="remake the store")
    ap.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = ap.parse_args()
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    db = data / f"report-{args.rows}.duckdb"
    if args.fresh or not db.exists():
        db.unlink(missing_ok=True)
        made = subprocess.run([sys.executable, "-c", MAKE, str(db), str(args.rows)], check=True, capture_output=True, text=True)
        print(f"made {db} in {float(made.stdout):.1f} s", file=sys.stderr)
    results = []
    for mode in ("build", "all formats"):
        best = min((run(db, "build" if mode == "build" else "all") for _ in range(args.repeat)), key=lambda r: r["total_s"])
        results.append({"mode": mode, **best})
    with tempfile.TemporaryDirectory() as cold:
        results.append({"mode": "all formats, cold Vega bundle cache", **run(db, "all", cache=cold)})
    print(json.dumps(results, indent=2))
    if args.record:
        from machine import describe

        lines = [f"\n## Weekly report ({time.strftime('%Y-%m-%d')}, `benchmarks/bench_report.py --rows {args.rows} --repeat {args.repeat}`)\n",
                 describe(), "",
                 f"{args.rows:,} generated requests in 2026-W46 (the week before empty); target: under 10 s and 2 GB.", "",
                 "| run | build report | build + render all 4 formats | process wall incl. imports | peak memory |",
                 "|---|---|---|---|---|"]
        for r in results:
            lines.append(f"| {r['mode']} | {r['build_s']:.2f} s | {r['total_s']:.2f} s | {r['with_imports_s']:.2f} s | "
                         f"{r['peak_bytes'] / 2**30:.2f} GB |")
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
