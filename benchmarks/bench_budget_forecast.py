"""Budget forecast backtest: the forecast made on day 10 of a month against the actual spend at its end.

For each seed, a generated log (costlab.generate: weekday seasonality, 0.6% daily growth, hourly
noise, an overload incident) covering several whole months is inserted into a fresh store, and for
each whole month (January to November 2026, on the 4.5 models, priced all year) `costlab budget`'s forecast through day 10 (lookback 4 weeks) is compared with the
exact spend of the whole month: the absolute percentage error of the point forecast, whether the
actual fell inside the 90% interval, and the interval's width; beside it the naive run rate (spend
to date / 10 x days in the month), which ignores the weekdays ahead and the trend. A "cold start"
run makes the same forecast from a log that begins on the month's first day (10 days of history).

The real traces in examples/ (Azure LLM inference 2023) span one hour: too short for a day-10
forecast; the script says so with their span.

    .venv/bin/python benchmarks/bench_budget_forecast.py --rows 100000 --seeds 2          # quick
    .venv/bin/python benchmarks/bench_budget_forecast.py --rows 1000000 --seeds 5 --record
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import describe, machine_info, record_section  # noqa: E402

from costlab import budgets  # noqa: E402
from costlab.config import Config  # noqa: E402
from costlab.generate import generate_sql  # noqa: E402
from costlab.open import open_store  # noqa: E402

LOOKBACKS = (2, 4, 6)  # weeks of history; 6 is the default
BUDGET = Config(budgets=[{"name": f"{w}w", "period": "month", "amount_usd": "100000000", "lookback_weeks": w}
                         for w in LOOKBACKS])


def month_end(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


# Priced over the whole of 2026 (the 5.5 models are unpriced before their release in September 2026).
MODELS_2026 = ("claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5")


def backtest(path: Path, rows: int, seed: int, start: date, days: int, months: list[date], **options) -> list[dict]:
    """Forecast on day 10 of each month in `months` vs its actual total, on one generated store."""
    out = []
    with open_store(path, BUDGET) as s:
        s.execute("insert into requests by name "
                  + generate_sql(rows, seed=seed, start=start.isoformat(), days=days, **options))
    with open_store(path, BUDGET) as s:  # opened again: the rows are priced once into their stored columns
        for first in months:
            status = budgets.budget_status(s, through=first + timedelta(days=9))
            daily = s.run_query("budgets/daily_spend", since=f"{first} 00:00:00+00", until=f"{month_end(first)} 00:00:00+00")
            actual = Decimal(daily["cost_usd"].sum())
            n_days = (month_end(first) - first).days
            for row in status.iter_rows(named=True):
                naive = row["spend_usd"] / 10 * n_days
                out.append({
                    "seed": seed, "month": f"{first:%Y-%m}", "lookback_weeks": int(row["budget"][:-1]),
                    "history_days": row["history_days"],
                    "spend_day10": float(row["spend_usd"]), "actual": float(actual),
                    "forecast": float(row["forecast_usd"]), "low": float(row["forecast_low_usd"]),
                    "high": float(row["forecast_high_usd"]),
                    "ape": abs(float(row["forecast_usd"]) - float(actual)) / float(actual) * 100,
                    "naive_ape": abs(float(naive) - float(actual)) / float(actual) * 100,
                    "inside": float(row["forecast_low_usd"]) <= float(actual) <= float(row["forecast_high_usd"]),
                    "width_pct": (float(row["forecast_high_usd"]) - float(row["forecast_low_usd"])) / float(row["forecast_usd"]) * 100,
                })
    return out


def real_trace_span() -> str:
    """The span of the Azure trace in examples/ (read with DuckDB through costlab's store)."""
    trace = HERE.parent / "examples" / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"
    with open_store(":memory:", Config()) as s:
        lo, hi = s.rows(f"select min(TIMESTAMP::TIMESTAMP), max(TIMESTAMP::TIMESTAMP) from read_csv('{trace}')")[0]
    return f"{lo:%Y-%m-%d %H:%M} to {hi:%Y-%m-%d %H:%M}"


def summarise(results: list[dict]) -> dict:
    n = len(results)
    mean = lambda k: sum(r[k] for r in results) / n if n else float("nan")  # noqa: E731
    return {"n": n, "mape": mean("ape"), "max_ape": max((r["ape"] for r in results), default=float("nan")),
            "naive_mape": mean("naive_ape"), "coverage": sum(r["inside"] for r in results) / n if n else float("nan"),
            "width_pct": mean("width_pct")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="requests per year-long generated log (default 1,000,000)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    ap.add_argument("--record", action="store_true", help="write the 'Budget forecast' section of RESULTS.md")
    args = ap.parse_args()
    info = machine_info()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    clock = time.perf_counter()
    warm, cold = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, args.seeds + 1):
            # 2025-12-01 to 2026-11-30 on the 4.5 models: January to November 2026, each with four weeks before it
            warm += backtest(Path(tmp) / f"warm{seed}.duckdb", args.rows, seed, date(2025, 12, 1), 365,
                             [date(2026, m, 1) for m in range(1, 12)], models=MODELS_2026)
            cold += backtest(Path(tmp) / f"cold{seed}.duckdb", args.rows // 3, seed, date(2026, 11, 1), 30,
                             [date(2026, 11, 1)])
    seconds = time.perf_counter() - clock
    span = real_trace_span()
    by_lookback = {w: summarise([r for r in warm if r["lookback_weeks"] == w]) for w in LOOKBACKS}
    cold = [r for r in cold if r["lookback_weeks"] == 6]  # ten days of history: the same for every lookback
    result = {"warm": by_lookback, "cold": summarise(cold), "runs": warm + cold, "real_trace_span": span,
              "seconds": round(seconds, 1), "uptime": uptime}
    print(json.dumps(result, indent=2, default=str))
    if args.record:
        c = result["cold"]
        lines = [
            f"`.venv/bin/python benchmarks/bench_budget_forecast.py --rows {args.rows} --seeds {args.seeds} --record`",
            "",
            describe(info),
            f"`uptime` at start: `{uptime}`. Whole run: {seconds:.0f} s.",
            "",
            "The forecast `costlab budget` makes through day 10 of a month (weekday factors times a Theil-Sen trend, "
            "90% residual-bootstrap interval) against the month's exact spend, on generated logs (costlab.generate: "
            "weekday seasonality, 0.6% daily growth, noise, an overload incident, runaway prompts); naive = spend to date "
            "/ 10 x days in the month. Each month Jan-Nov 2026 of a year-long log "
            f"({args.rows:,} requests over 365 days from 2025-12-01, Haiku/Sonnet/Opus 4.5, seeds 1-{args.seeds}), "
            "by the weeks of history the forecast rests on (`lookback_weeks`; 6 is the default, chosen here).",
            "",
            "| history | forecasts | mean abs. error | worst | naive run rate, mean abs. error | actual inside the 90% interval | mean interval width |",
            "|---|---|---|---|---|---|---|",
            *[f"| {w} weeks{' (default)' if w == 6 else ''} | {r['n']} | {r['mape']:.2f}% | {r['max_ape']:.2f}% | "
              f"{r['naive_mape']:.2f}% | {r['coverage']:.0%} | {r['width_pct']:.1f}% |" for w, r in result["warm"].items()],
            f"| cold start: the log begins on the 1st (Nov 2026, {args.rows // 3:,} requests, 10 days of history) | {c['n']} | "
            f"{c['mape']:.2f}% | {c['max_ape']:.2f}% | {c['naive_mape']:.2f}% | {c['coverage']:.0%} | {c['width_pct']:.1f}% |",
            "",
            f"Real traces: the Azure LLM inference trace in examples/ spans {span} (one hour, shifted to 2026 by the "
            "example's mapping): too short for a forecast on day 10 of a month, so no real-trace figure is recorded.",
        ]
        record_section("Budget forecast", "\n".join(lines))


if __name__ == "__main__":
    main()
