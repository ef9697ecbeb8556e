"""What writing the store in an older DuckDB storage format costs: ingest, report and file size,
DuckDB's newest format (base) against the format costlab writes new stores in (costlab.store.connection.
STORAGE_VERSION, readable by DuckDB 1.x clients), side by side.

A seeded Anthropic-envelope JSONL file of --rows requests (two weeks, 2026-11-02..15) is generated
once. Then, alternating, --repeat times, each variant in its own process with a fresh store:
`ingest_paths` of the file (one read-write open, migration and pricing included in "open + ingest"),
the order alternating (A B, B A, ...) so that neither format always runs first,
a checkpoint, the file size, then a read-only open and the weekly report for 2026-W46 (build + the
HTML render). Best of the repeats is reported.

    .venv/bin/python benchmarks/bench_storage.py --rows 1000000 --repeat 3 --record
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

from common import PEAK, describe, machine_info, record_section  # noqa: E402

RUN = PEAK + """
import json, os, sys, time
from costlab.store import connection
version = sys.argv[3]
connection.STORAGE_VERSION = None if version == "latest" else version
from costlab.config import Config
from costlab.ingest import ingest_paths
from costlab.open import open_store
from costlab.report import SECTIONS, build_report, render, window
path, db = sys.argv[1:3]
t, c = time.perf_counter(), time.process_time()
with open_store(db, Config()) as store:
    result = ingest_paths(store, [path]).files[0]
    assert result.error is None and result.rows_rejected == 0, result
    store.execute("checkpoint")
    tags = store.scalar("select tags['storage_version'] from duckdb_databases() where database_name = current_database()")
ingest, ingest_cpu = time.perf_counter() - t, time.process_time() - c
size = os.path.getsize(db)
t, c = time.perf_counter(), time.process_time()
with open_store(db, Config(), read_only=True) as store:
    report = build_report(store, window.week("2026-W46"), sections=[s for s in SECTIONS if not s.optional])
    render(report, "html")
print(json.dumps({"ingest": ingest, "ingest_cpu": ingest_cpu, "report": time.perf_counter() - t,
                  "report_cpu": time.process_time() - c, "size": size, "rows": result.rows_added,
                  "storage_version": tags, "peak": peak_bytes()}))
"""


def measure(path: Path, version: str, work: Path) -> dict:
    db = work / f"{version}-{time.monotonic_ns()}.duckdb"
    out = subprocess.run([sys.executable, "-c", RUN, str(path), str(db), version], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    db.unlink(missing_ok=True)
    Path(str(db) + ".wal").unlink(missing_ok=True)
    return json.loads(out.stdout)


def main() -> None:
    from costlab.store.connection import STORAGE_VERSION

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--versions", default=f"latest,{STORAGE_VERSION}",
                    help="storage versions to compare (latest: DuckDB's newest format)")
    ap.add_argument("--record", action="store_true", help="write the 'Storage compatibility' section of RESULTS.md")
    args = ap.parse_args()
    versions = args.versions.split(",")
    load = os.getloadavg()[0]
    info = machine_info()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    runs: dict[str, list[dict]] = {v: [] for v in versions}
    with tempfile.TemporaryDirectory(dir=HERE.parent if (HERE.parent / ".venv").exists() else None) as tmp:
        from costlab.generate import generate

        path = Path(tmp) / "envelope.jsonl"
        generate(path, args.rows, seed=1)
        mb = path.stat().st_size / 1e6
        for i in range(args.repeat):
            for v in (versions if i % 2 == 0 else versions[::-1]):  # ABBA: neither runs always first
                runs[v].append(measure(path, v, Path(tmp)))
                print(v, runs[v][-1], file=sys.stderr)
    uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    best = {v: {k: min(r[k] for r in rs) for k in ("ingest", "ingest_cpu", "report", "report_cpu", "size", "peak")} | {"tag": rs[0]["storage_version"]}
            for v, rs in runs.items()}
    print(json.dumps({"runs": runs, "best": best}, indent=2))
    if not args.record:
        return
    base = best[versions[0]]
    lines = [f"`.venv/bin/python benchmarks/bench_storage.py --rows {args.rows} --repeat {args.repeat}` "
             f"({time.strftime('%Y-%m-%d')})", "",
             describe(info), "", f"`uptime` before: {uptime}; after: {uptime_after} (1-minute load {load:.2f} at start).", "",
             f"{args.rows:,} generated Anthropic-envelope requests ({mb:.0f} MB JSONL), a fresh store per run, each run "
             "its own process, the order alternating; best of the repeats. "
             "\"open + ingest\": a read-write open (migration, prices) and `ingest_paths` of the file, then a checkpoint; "
             "report: a read-only open, the weekly report for 2026-W46 built and rendered as HTML.", "",
             "| storage format | file tag | open + ingest: wall (CPU) | report: wall (CPU) | store file | peak memory |",
             "|---|---|---|---|---|---|"]

    def cell(v: str, key: str, unit: str = " s", scale: float = 1.0) -> str:
        value = best[v][key] / scale
        change = "" if v == versions[0] else f" ({best[v][key] / base[key] - 1:+.0%})"
        return f"{value:.2f}{unit}{change}"

    for v in versions:
        name = "DuckDB's newest (base)" if v == "latest" else f"`{v}` (compat)"
        lines.append(f"| {name} | {best[v]['tag']} | {cell(v, 'ingest')} ({cell(v, 'ingest_cpu')}) | "
                     f"{cell(v, 'report')} ({cell(v, 'report_cpu')}) | {cell(v, 'size', ' MiB', 2**20)} | "
                     f"{cell(v, 'peak', ' GiB', 2**30)} |")
    lines += ["", "All runs (s wall / CPU, ingest; report): " + "; ".join(
        f"{v}: " + ", ".join(f"{r['ingest']:.1f}/{r['ingest_cpu']:.1f}; {r['report']:.1f}/{r['report_cpu']:.1f}" for r in runs[v])
        for v in versions) + "."]
    record_section("Storage compatibility", "\n".join(lines))


if __name__ == "__main__":
    main()
