"""Table rendering (`--format table`) before and after issue 16: 1k and 100k-row results, side by side.

"Before" is costlab.frames.table as of commit bae67e5 (rich, one Table row per result row), loaded
from `git show bae67e5:costlab/frames.py` into a temporary module; "after" is the current
costlab.frames (costlab.tables: values formatted with polars expressions, a plain fixed-width
layout written in chunks). Both render the same frames at width 100:

* narrow: 8 columns that fit (request id, time, model, feature, tokens, cost, latency);
* wide: 44 columns shaped like `select * from costed_requests` (too wide: blocks / one record per block).

Rich takes ~15 ms a row on the wide frame, so "before" renders at most --before-rows rows and the
larger sizes are extrapolated linearly from that (marked so). "after, terminal" is what a terminal
shows by default: the first 50 rows and the total.

    .venv/bin/python benchmarks/bench_tables.py --record
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402
from common import Timer, describe, machine_info, record_section  # noqa: E402

from costlab import frames  # noqa: E402

BASE = "bae67e5"
WIDTH = 100


def before_module():
    """costlab/frames.py as of BASE, as a module of its own."""
    source = subprocess.run(["git", "show", f"{BASE}:costlab/frames.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "frames_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("frames_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["frames_before"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def narrow(rows: int) -> pl.DataFrame:
    t0 = datetime(2026, 11, 16, tzinfo=timezone.utc)
    return pl.DataFrame({
        "request_id": [f"msg_01{i:024d}" for i in range(rows)],
        "ts": [t0 + timedelta(seconds=7 * i, microseconds=i % 1000) for i in range(rows)],
        "model": [("claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5-5")[i % 3] for i in range(rows)],
        "feature": [f"feature-{i % 12}" for i in range(rows)],
        "input_tokens": [(i * 7919) % 50_000 for i in range(rows)],
        "output_tokens": [(i * 104_729) % 4_000 for i in range(rows)],
        "cost_usd": [Decimal((i * 7919) % 1_000_000) / 10**7 for i in range(rows)],
        "latency_ms": [((i * 31) % 40_000) / 3 for i in range(rows)],
    }, schema_overrides={"cost_usd": pl.Decimal(18, 9)})


def wide(rows: int) -> pl.DataFrame:
    base = narrow(rows)
    extra = {}
    for k in range(12):
        extra[f"text_{k}"] = base["feature"]
        extra[f"count_{k}"] = base["output_tokens"] + k
        extra[f"cost_{k}_usd"] = base["cost_usd"]
    return base.with_columns(**extra)


def timed(render, df: pl.DataFrame) -> float:
    with Timer() as t:
        render(df)
    return t.wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,100000", help="result sizes in rows (comma-separated)")
    ap.add_argument("--before-rows", type=int, default=2000, help="most rows the old renderer draws; more is extrapolated")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each after case (best reported)")
    ap.add_argument("--record", action="store_true", help="write the section into benchmarks/RESULTS.md")
    args = ap.parse_args()
    info = machine_info()
    old = before_module()
    sizes = [int(s) for s in args.sizes.split(",")]
    lines = ["| result | rows | before (rich) | after, pipe or file (all rows) | after, terminal (50 rows) | speed-up (all rows) |",
             "|---|---|---|---|---|---|"]
    for shape, make in (("narrow, 8 columns", narrow), ("wide, 44 columns", wide)):
        for rows in sizes:
            df = make(rows)
            drawn = min(rows, args.before_rows)
            before = timed(lambda d: old.table(d, None, WIDTH), df.head(drawn)) * rows / drawn
            after = min(timed(lambda d: frames.to_text(d, "table", width=WIDTH), df) for _ in range(args.repeat))
            term = min(timed(lambda d: frames.to_text(d, "table", width=WIDTH, limit=frames.DEFAULT_ROWS), df)
                       for _ in range(args.repeat))
            note = "" if drawn == rows else f" (extrapolated from {drawn:,} rows)"
            lines.append(f"| {shape} | {rows:,} | {before:.2f} s{note} | {after:.2f} s | {term:.3f} s | {before / after:.0f}x |")
            print(lines[-1], flush=True)
    body = "\n".join([
        f"`.venv/bin/python benchmarks/bench_tables.py {' '.join(sys.argv[1:])}`".replace(" `", "`"),
        "",
        describe(info),
        "",
        f"`--format table` at width {WIDTH}, rendered to a string (no terminal I/O): before is `costlab.frames.table` "
        f"as of {BASE} (rich, a Table row per result row; a wide result split into column blocks), after is the "
        "current one (costlab.tables: polars-formatted values, a plain fixed-width layout written in chunks; the wide "
        "result as one record per block). Best of the runs for after.",
        "",
        *lines,
    ])
    print(body)
    if args.record:
        record_section("Tables", body)


if __name__ == "__main__":
    main()
