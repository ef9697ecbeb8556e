"""Signals in a time zone: all detectors over a generated log, in UTC (the default) and in other zones.

Builds (or reuses, with --db) a store of --rows generated requests as bench_signals.py does, then runs
every detector --repeat times per zone and reports the best wall time of each. The UTC path must cost
what it did before --tz existed (the detectors' SQL only takes the time zone's slower expressions when
tz is not UTC); run this once with PYTHONPATH at the code before the change and once after, on the
same --db, to compare (a costlab without run_signals(tz=...) is timed in UTC only).

    .venv/bin/python benchmarks/bench_signals_tz.py --rows 1000000 --db /tmp/sig1m.duckdb --repeat 3
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_signals import build  # noqa: E402
from common import Timer  # noqa: E402

from costlab import signals  # noqa: E402
from costlab.config import Config  # noqa: E402
from costlab.open import open_store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=56)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tz", action="append", help="time zones to time (repeatable; default UTC and Europe/Berlin)")
    ap.add_argument("--db", type=Path, help="store to build or reuse (default: a temporary file)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory() if args.db is None else None
    path = args.db or Path(tmp.name) / "signals.duckdb"
    build(path, args.rows, args.days)
    takes_tz = "tz" in inspect.signature(signals.run_signals).parameters
    zones = (args.tz or ["UTC", "Europe/Berlin"]) if takes_tz else ["UTC (no tz parameter: the code before --tz)"]
    config = Config(signals={"batch_features": ["report-gen"], "pin_versions": True,
                             "latency_slo_ms": {"chat-assistant": 600_000, "sql-assist": 600_000},
                             "ttft_slo_ms": {"chat-assistant": 600_000}})
    print(f"{args.rows:,} requests, {args.days} days, all detectors, best of {args.repeat}")
    print("| time zone | wall (best) | runs | findings |")
    print("|---|---|---|---|")
    with open_store(path, config) as s:
        s.execute("set enable_progress_bar = false")
        for zone in zones:
            kwargs = {"tz": zone} if takes_tz else {}
            runs, found = [], None
            for _ in range(args.repeat):
                with Timer() as t:
                    found = signals.run_signals(s, config=config, **kwargs)
                runs.append(t.wall)
            print(f"| {zone} | {min(runs):.2f} s | {', '.join(f'{r:.2f}' for r in runs)} s | {found.height} |")


if __name__ == "__main__":
    main()
