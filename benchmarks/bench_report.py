"""The weekly report on a large store: build the whole report and render it, time and peak memory.

A store with --rows generated requests in one ISO week (2026-W46, seeded, costlab.generate) is made
once under benchmarks/data/ (kept for re-runs; --fresh remakes it). Each run is its own process (so
peak memory, VmHWM, is its own), opens the store read-only with the examples' settings
(examples/costlab.toml: [tiers], and [report] with target_split and whatif_splits) and builds the
report for 2026-W46 against W45:

  * full report: every section an SRE gets (wrong-model findings from costlab.signals and the
    what-if headline included), then rendered as terminal, Markdown, JSON and HTML
  * without what-if: the same without the what-if section (costlab.whatif's own cost, timed apart)
  * own sections: the report's own sections only (headline ... trends), the figure recorded before
  * full report, cold Vega bundle cache: as "full report" with an empty bundle cache (vl-convert
    starts its JS runtime once)

Each row also gives the seconds per step: pricing the window once (Parquet), each section.
Target (issue 5): the full report for 10M requests in a week in under 10 s and under 2 GB.

    .venv/bin/python benchmarks/bench_report.py --rows 10000000 --repeat 2 --reprice --record

--reprice also times what a user waits for once after a price change: every stored price stale,
then one read-write open that re-prices them all. --no-parent-links also times the full report on
the same log with every parent_request_id NULL (its own cached store).
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

from common import PEAK  # noqa: E402

# The store is made and refreshed with the settings the report runs with, as a user's store is:
# its stored prices are then current for the report's read-only open.
MAKE = PEAK + """
import sys, time
from costlab.config import load_config
from costlab.generate import generate_into
from costlab.open import open_store
db, n, config, links = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "links"
# a log whose re-sends carry no parent id: escalations only through sessions and traces
blank = None if links else (lambda rows: f"select * replace (NULL::VARCHAR as parent_request_id) from ({rows})")
t, cpu = time.perf_counter(), time.process_time()
with open_store(db, load_config(config)) as store:
    # generated and priced as ingest prices (stored prices current), in parts: memory is one part's
    generate_into(store, n, seed=11, start="2026-11-09", days=7, transform=blank)
    made = time.perf_counter() - t
    store.execute("checkpoint")
print(made, time.perf_counter() - t - made, time.process_time() - cpu, peak_bytes())
"""

REFRESH = """
import sys, time
from costlab.config import load_config
from costlab.open import open_store
t = time.perf_counter()
open_store(sys.argv[1], load_config(sys.argv[2])).close()
print(time.perf_counter() - t)
"""

# A price change: every stored price is stale (tagged with another card's version), then the next
# read-write open re-prices all rows (what a user waits for once after editing prices). Leaves the store current.
REPRICE = PEAK + """
import json, sys, time
from costlab.config import load_config
from costlab.open import open_store
db, config = sys.argv[1], sys.argv[2]
with open_store(db, load_config(config)) as store:
    # every row as if priced under another card (the re-price appends them again, with fresh statistics)
    store.execute("update requests set price_version = 1")
t = time.perf_counter()
with open_store(db, load_config(config)) as store:
    n = store.scalar("select count(*) from requests")
    stale = store.scalar("select count(*) from stale_requests")
print(json.dumps({"reprice_s": time.perf_counter() - t, "rows": n, "stale_after": stale, "peak_bytes": peak_bytes()}))
"""

RUN = PEAK + """
import json, resource, sys, time
from contextlib import contextmanager
from dataclasses import replace
t0 = time.perf_counter()
from costlab.config import load_config
from costlab.report import SECTIONS, build_report, render, window
import costlab.report.build as build
from costlab.open import open_store
db, config, mode, formats = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "all"
specs = {"full": SECTIONS, "no-whatif": [s for s in SECTIONS if s.name != "whatif"],
         "own": [s for s in SECTIONS if not s.optional]}[mode]
steps = {}
priced_once = build.priced_once

def timed(section):  # wall seconds per section builder
    def run(ctx):
        t = time.perf_counter()
        try:
            return section.build(ctx)
        finally:
            steps[section.name] = time.perf_counter() - t
    return replace(section, build=run)

@contextmanager
def timed_window(*args, **kw):
    t = time.perf_counter()
    with priced_once(*args, **kw):
        steps["window (stored prices checked, or priced once)"] = time.perf_counter() - t
        yield

specs = [timed(s) for s in specs]
build.priced_once = timed_window
t, cpu = time.perf_counter(), time.process_time()
with open_store(db, load_config(config), read_only=True) as store:
    report = build_report(store, window.week("2026-W46"), sections=specs)
built = time.perf_counter() - t
sizes = {}
if formats:
    for fmt in ("terminal", "markdown", "json", "html"):
        sizes[fmt] = len(render(report, fmt, width=100))
print(json.dumps({"build_s": built, "total_s": time.perf_counter() - t, "cpu_s": time.process_time() - cpu,
                  "with_imports_s": time.perf_counter() - t0,
                  "peak_bytes": peak_bytes(), "sizes": sizes,
                  "sections": list(report["sections"]), "steps": steps,
                  "requests": next(m for m in report["sections"]["headline"]["metrics"] if m["key"] == "requests")["current"]}))
"""
CONFIG = HERE.parent / "examples" / "costlab.toml"
MODES = (("full report", "full", "all"), ("without what-if", "no-whatif", "all"), ("own sections", "own", "all"))


def run(db: Path, mode: str, formats: str, cache: str | None = None) -> dict:
    env = dict(os.environ)
    if cache:
        env["XDG_CACHE_HOME"] = cache
    out = subprocess.run([sys.executable, "-c", RUN, str(db), str(CONFIG), mode, formats],
                         check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)


def prepare(db: Path, rows: int, fresh: bool, links: bool) -> None:
    if fresh or not db.exists():
        db.unlink(missing_ok=True)
        made = subprocess.run([sys.executable, "-c", MAKE, str(db), str(rows), str(CONFIG), "links" if links else "none"],
                              check=True, capture_output=True, text=True)
        insert_s, checkpoint_s, cpu_s, peak = map(float, made.stdout.split())
        print(f"made {db}: rows generated and priced in {insert_s:.1f} s, checkpoint {checkpoint_s:.1f} s, "
              f"CPU {cpu_s:.1f} s, peak {peak / 2**30:.2f} GB", file=sys.stderr)
    else:
        # One read-write open: a store cached by an older checkout gets this costlab's migrations,
        # macros and views, and its stored prices are brought up to date (timed: a full re-price
        # when the store predates them or the price card changed).
        out = subprocess.run([sys.executable, "-c", REFRESH, str(db), str(CONFIG)], check=True,
                             capture_output=True, text=True)
        print(f"refreshed {db} in {float(out.stdout):.1f} s", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--fresh", action="store_true", help="remake the store")
    ap.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    ap.add_argument("--reprice", action="store_true", help="also time re-pricing every stored price (a price change)")
    ap.add_argument("--no-parent-links", action="store_true",
                    help="also time the full report on the same log without parent ids (its own cached store)")
    args = ap.parse_args()
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    db = data / f"report-{args.rows}.duckdb"
    prepare(db, args.rows, args.fresh, links=True)
    results = []
    for label, mode, formats in MODES:
        best = min((run(db, mode, formats) for _ in range(args.repeat)), key=lambda r: r["total_s"])
        results.append({"mode": label, **best})
    with tempfile.TemporaryDirectory() as cold:
        results.append({"mode": "full report, cold Vega bundle cache", **run(db, "full", "all", cache=cold)})
    unlinked = None
    if args.no_parent_links:
        bare = data / f"report-{args.rows}-no-parent-links.duckdb"
        prepare(bare, args.rows, args.fresh, links=False)
        unlinked = min((run(bare, "full", "all") for _ in range(args.repeat)), key=lambda r: r["total_s"])
    repriced = json.loads(subprocess.run([sys.executable, "-c", REPRICE, str(db), str(CONFIG)], check=True,
                                         capture_output=True, text=True).stdout) if args.reprice else None
    print(json.dumps({"report": results, "reprice": repriced, "no_parent_links": unlinked}, indent=2))
    if args.record:
        from machine import describe

        lines = [f"\n## Weekly report ({time.strftime('%Y-%m-%d')}, `benchmarks/bench_report.py --rows {args.rows} --repeat {args.repeat}{' --reprice' if args.reprice else ''}{' --no-parent-links' if args.no_parent_links else ''}`)\n",
                 describe(), "",
                 f"{args.rows:,} generated requests in 2026-W46 (the week before empty), examples/costlab.toml settings "
                 "(target split and a what-if split configured); target: the full report under 10 s and 2 GB.", "",
                 "| run | sections | build report | build + render all 4 formats | CPU | process wall incl. imports | peak memory |",
                 "|---|---|---|---|---|---|---|"]
        for r in results:
            lines.append(f"| {r['mode']} | {len(r['sections'])} | {r['build_s']:.2f} s | {r['total_s']:.2f} s | {r['cpu_s']:.2f} s | "
                         f"{r['with_imports_s']:.2f} s | {r['peak_bytes'] / 2**30:.2f} GB |")
        full = results[0]["steps"]
        lines += ["", "Steps of the full report (wall): " + ", ".join(f"{k} {v:.2f} s" for k, v in full.items()) + "."]
        if unlinked:
            u = unlinked
            lines += ["", f"The same log with no parent ids (escalations found through sessions and traces only), "
                      f"full report: {u['build_s']:.2f} s build, {u['with_imports_s']:.2f} s with imports, peak "
                      f"{u['peak_bytes'] / 2**30:.2f} GB; steps: "
                      + ", ".join(f"{k} {v:.2f} s" for k, v in u["steps"].items()) + "."]
        if repriced:
            lines += ["", f"After a price change, the next read-write open re-prices all {repriced['rows']:,} stored "
                      f"prices in {repriced['reprice_s']:.1f} s (peak {repriced['peak_bytes'] / 2**30:.2f} GB; "
                      f"{repriced['stale_after']} stale after)."]
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
