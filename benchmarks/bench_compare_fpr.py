"""`costlab compare`'s false-positive rate on stationary traffic, and its power on injected changes.

For each seed: two weeks of the same generated traffic (costlab.testing.switch.switch_weeks: each
week its own draw of the same spec, at --per-week requests: the demo's volume is 50,000), ingested
through the normal path into a fresh store, compared with `--switch-day 2026-11-09` at the default
settings (alpha 0.05, Holm over every metric). A comparison that calls any metric significant is a
false positive. Then --power-seeds seeds with the second week's cost -10% (token counts x 0.9) and
with one answer in 100 turned into an error (+1 pp): how often each change is found.

    .venv/bin/python benchmarks/bench_compare_fpr.py --seeds 40 --record
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import Timer, describe, machine_info, record_section  # noqa: E402

from costlab import compare as K  # noqa: E402
from costlab.config import Config  # noqa: E402
from costlab.ingest import ingest_paths  # noqa: E402
from costlab.open import open_store  # noqa: E402
from costlab.testing.switch import switch_weeks  # noqa: E402


def one(folder: Path, per_week: int, seed: int, resamples: int, **change) -> K.Comparison:
    folder.mkdir(parents=True, exist_ok=True)
    paths = switch_weeks(folder, per_week, seed=seed, **change)
    with open_store(folder / "s.duckdb", Config()) as store:
        assert not ingest_paths(store, [str(p) for p in paths]).failed
        return K.compare(store, K.switch_day(store, "2026-11-09"), resamples=resamples, seed=seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--power-seeds", type=int, default=10)
    ap.add_argument("--per-week", type=int, default=50_000)
    ap.add_argument("--power-per-week", type=int, default=50_000, help="requests a week in the power runs")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--record", action="store_true", help="write the section into benchmarks/RESULTS.md")
    args = ap.parse_args()
    info = machine_info()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    flagged, raw, tests, which = 0, Counter(), Counter(), Counter()
    with tempfile.TemporaryDirectory() as tmp, Timer() as t:
        for seed in range(args.seeds):
            result = one(Path(tmp) / f"s{seed}", args.per_week, seed, args.resamples)
            sig = result.table.filter("significant")["metric"].to_list()
            flagged += bool(sig)
            which.update(sig)
            for r in result.table.iter_rows(named=True):
                tests[r["metric"]] += 1
                raw[r["metric"]] += r["p_value"] is not None and r["p_value"] < 0.05
            print(f"seed {seed}: {'FLAGGED ' + ', '.join(sig) if sig else 'silent'}", file=sys.stderr, flush=True)
        power = {"cost -10%": 0, "error rate +1 pp": 0}
        for seed in range(1000, 1000 + args.power_seeds):
            cheaper = one(Path(tmp) / f"c{seed}", args.power_per_week, seed, args.resamples, cost_factor=0.9)
            power["cost -10%"] += bool(cheaper.row("cost_per_request_usd")["significant"])
            errors = one(Path(tmp) / f"e{seed}", args.power_per_week, seed, args.resamples, extra_error_share=0.01)
            power["error rate +1 pp"] += bool(errors.row("error_rate")["significant"])
            print(f"power seed {seed}: cost {cheaper.verdict}; errors {errors.verdict}", file=sys.stderr, flush=True)
    fpr = flagged / args.seeds
    per_test = sum(raw.values()) / max(1, sum(tests.values()))
    lines = [
        f"`.venv/bin/python benchmarks/bench_compare_fpr.py --seeds {args.seeds} --power-seeds {args.power_seeds} "
        f"--per-week {args.per_week} --power-per-week {args.power_per_week} --resamples {args.resamples} --record`",
        "",
        describe(info) + f" `uptime` at start: {uptime}.",
        "",
        f"Two weeks of the same generated traffic ({args.per_week:,} requests a week, each week its own seed of the "
        "same spec), ingested, `costlab compare --switch-day 2026-11-09` at the defaults (alpha 0.05, Holm over "
        f"every metric, {args.resamples} bootstrap resamples). Wall time {t.wall:.0f} s in all.",
        "",
        "| what | result |",
        "|---|---|",
        f"| stationary comparisons with any metric significant (family-wise false-positive rate) | "
        f"**{flagged} of {args.seeds} ({fpr:.1%})** |",
        f"| single tests with an unadjusted p < 0.05 (per-test rate, before the correction) | {per_test:.1%} of "
        f"{sum(tests.values())} |",
        f"| metrics that were called significant | {', '.join(f'{m} ({n})' for m, n in which.most_common()) or 'none'} |",
        f"| cost -10% in the second week, {args.power_per_week:,} requests a week: found (power) | "
        f"{power['cost -10%']} of {args.power_seeds} |",
        f"| error rate +1 pp in the second week, {args.power_per_week:,} requests a week: found (power) | "
        f"{power['error rate +1 pp']} of {args.power_seeds} |",
    ]
    body = "\n".join(lines) + "\n"
    print(body)
    if args.record:
        record_section("Compare: false positives on stationary traffic", body)


if __name__ == "__main__":
    main()
