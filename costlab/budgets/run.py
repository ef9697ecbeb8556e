"""`costlab budget`: each budget's spend to date, its forecast to the period's end, and the findings.

    rows = budget_status(store)                # one row per [[budgets]] entry (polars)
    found = budget_findings(store)             # breaches and forecast breaches, in the signals' findings shape

Spend to date is exact: DECIMAL sums of costed_requests (each row's cost times its sample_weight,
queries/budgets/daily_spend.sql); unpriced requests are counted beside it, never as $0. The forecast of
the days left (costlab.budgets.forecast) is an estimate in dollars and cents, with its 90% interval,
the days it rests on and how.
"""

from __future__ import annotations

import shlex
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable

import numpy as np
import polars as pl

from costlab import plausible
from costlab.budgets.forecast import Forecast, calendar, first_day, forecast
from costlab.budgets.settings import Budget, budgets
from costlab.config import Config, pick_named
from costlab.errors import ConfigError
from costlab.signals.findings import COLUMNS, empty, order

QUERY = "budgets/daily_spend"
QUERY_PATH = "queries/budgets/daily_spend.sql"
SIGNAL = "budget"
CENT = Decimal("0.01")

STATUS_COLUMNS = {
    "budget": pl.String, "scope": pl.String, "period": pl.String, "period_start": pl.Date, "period_end": pl.Date,
    "through": pl.Date, "amount_usd": pl.Decimal(18, 2), "spend_usd": pl.Decimal(38, 9), "spent_pct": pl.Float64,
    "requests": pl.Int64, "unpriced_requests": pl.Int64, "days_elapsed": pl.Int64, "days_left": pl.Int64,
    "forecast_usd": pl.Decimal(18, 2), "forecast_low_usd": pl.Decimal(18, 2), "forecast_high_usd": pl.Decimal(18, 2),
    "forecast_pct": pl.Float64, "crosses_on": pl.Date, "crosses_earliest": pl.Date, "crosses_latest": pl.Date,
    "status": pl.String, "history_days": pl.Int64, "method": pl.String,
}
STATUSES = ("breached", "forecast breach", "at risk", "ok")


def period_of(budget: Budget, day: date) -> tuple[date, date, str]:
    """(first day, first day after, label) of the budget's period holding `day`: a calendar month or
    an ISO week (Monday to Sunday), UTC."""
    if budget.period == "week":
        start = day - timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return start, start + timedelta(days=7), f"{year}-W{week:02d}"
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end, f"{start:%Y-%m}"


def data_days(store: Any, config: Config | None) -> tuple[date, date] | None:
    """The first and last UTC day with a plausible request (costlab.plausible), or None."""
    b = plausible.analysis_bounds(config)
    first, last = store.rows("select min(ts) filter (where ts >= $lo and ts < $hi), "
                             "max(ts) filter (where ts >= $lo and ts < $hi) from requests",
                             {"lo": b.earliest, "hi": b.latest})[0]
    if first is None:
        return None
    return first.astimezone(timezone.utc).date(), last.astimezone(timezone.utc).date()


def default_through(last: date, today: date | None = None) -> date:
    """The last day counted: the last day with data, but never today (still running) or later."""
    today = today or datetime.now(timezone.utc).date()
    return min(last, today - timedelta(days=1))


def budget_status(store: Any, config: Config | None = None, through: date | None = None,
                  names: Iterable[str] | None = None, notes: list[str] | None = None,
                  required: bool = True) -> pl.DataFrame:
    """One row per budget (STATUS_COLUMNS): spend to date in the period holding `through`, the
    forecast to its end with the 90% interval, and the day it crosses the budget.

    Args:
        through: the last day counted, inclusive (default: default_through of the last day with data).
        names: only these budgets. notes: filled with what a reader should know (unpriced requests).
        required: a ConfigError when costlab.toml has no [[budgets]] (else an empty frame).

    Raises:
        ConfigError: bad [[budgets]], none defined (when required), or an unknown name.
    """
    config = config if config is not None else store.config
    chosen = budgets(config.budgets)
    if not chosen:
        if required:
            raise ConfigError("costlab.toml has no [[budgets]]: add one, e.g.\n"
                              '[[budgets]]\nname = "org-monthly"\nperiod = "month"\namount_usd = "10000"')
        return pl.DataFrame(schema=STATUS_COLUMNS)
    chosen = pick_named(chosen, list(names or []), "budget")
    span = data_days(store, config)
    if span is None:
        if notes is not None:
            notes.append("the store has no requests: no spend to date and nothing to forecast from")
        return pl.DataFrame(schema=STATUS_COLUMNS)
    first, last = span
    through = through or default_through(last)
    rows = [_one(store, b, first, through, notes) for b in chosen]
    return pl.DataFrame(rows, schema=STATUS_COLUMNS, orient="row")


def _one(store: Any, budget: Budget, first: date, through: date, notes: list[str] | None) -> tuple:
    start, end, label = period_of(budget, through)
    after = through + timedelta(days=1)
    history_start = max(after - timedelta(weeks=budget.lookback_weeks), first)
    since = min(start, history_start)
    daily = store.run_query(QUERY, since=_utc(since), until=_utc(after), scope=budget.scope, value=budget.value)
    in_period = daily.filter(pl.col("day") >= start)
    spend = Decimal(in_period["cost_usd"].sum() or 0)
    requests = int(in_period["requests"].sum() or 0)
    unpriced = int(in_period["unpriced_requests"].sum() or 0)
    if unpriced and notes is not None:
        notes.append(f"{budget.name}: {unpriced:,} requests this period have no price; their cost is unknown and not in "
                     "the spend (`costlab prices check` lists them)")

    before = daily.filter(pl.col("day") < start)["unpriced_requests"].sum() or 0
    if before and notes is not None:
        notes.append(f"{budget.name}: {before:,} requests in the forecast's history (before {start}) have no price; the "
                     "forecast counts only priced spend, so it is low by their cost")
    history = calendar(history_start, after) if history_start <= through else []
    by_day = dict(zip(daily["day"].to_list(), daily["cost_usd"].to_list()))
    y = np.array([float(by_day.get(d, 0)) for d in history])
    future = calendar(after, end)
    fc: Forecast = forecast(history, y, future)
    remaining = _cents(fc.total)
    total = spend + remaining
    low = None if fc.low is None else spend + _cents(fc.low)
    high = None if fc.high is None else spend + _cents(fc.high)

    amount = budget.amount_usd
    need = float(amount - spend)
    if spend >= amount:  # the day the actual spend crossed it
        days = in_period["day"].to_list()
        cum = np.cumsum([float(v) for v in in_period["cost_usd"].to_list()])
        crossed = first_day(days, cum, float(amount))
        crosses, earliest, latest = crossed, crossed, crossed
        status = "breached"
    else:
        crosses = first_day(future, np.cumsum(fc.daily), need)
        earliest = first_day(future, fc.cum_high, need)
        latest = first_day(future, fc.cum_low, need)
        status = ("forecast breach" if total >= amount else "at risk" if high is not None and high >= amount else "ok")
    pct = lambda v: None if v is None else float(v / amount * 100)  # noqa: E731
    return (budget.name, budget.scope_label, label, start, end - timedelta(days=1), through, amount,
            spend, pct(spend), requests, unpriced, (after - start).days, (end - after).days,
            total, low, high, pct(total), crosses, earliest, latest, status, fc.history_days, fc.method)


def _cents(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(CENT)


def _utc(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)


def drill_down(row: dict) -> str:
    """The query that lists the budget's days this period: queries/budgets/daily_spend.sql with its -p."""
    scope, _, value = row["scope"].partition("=")
    args = [QUERY_PATH, "-p", f"since={row['period_start']}", "-p", f"scope={scope}"]
    if value:
        args += ["-p", f"value={value}"]
    return " ".join(shlex.quote(a) for a in args)


def findings(status: pl.DataFrame) -> pl.DataFrame:
    """Breaches (high) and forecast breaches (medium) as findings in the signals' shape (COLUMNS):
    signal `budget`, segment `budget=NAME period=LABEL` (a new period is a new finding; a forecast
    breach that becomes a breach is the same finding at a higher severity)."""
    hit = status.filter(pl.col("status").is_in(["breached", "forecast breach"]))
    if hit.height == 0:
        return empty()
    rows = []
    for r in hit.iter_rows(named=True):  # one row per budget: a handful, not log rows
        amount, spend, total = r["amount_usd"], r["spend_usd"], r["forecast_usd"]
        period_days = (r["period_end"] - r["period_start"]).days + 1
        over = max(total - amount, Decimal(0))
        weekly = (over * 7 / period_days).quantize(Decimal("0.000001"))
        interval = ("" if r["forecast_low_usd"] is None
                    else f" [{_usd(r['forecast_low_usd'])}, {_usd(r['forecast_high_usd'])}]")
        crossed = (f"crossed on {r['crosses_on']}" if r["status"] == "breached"
                   else f"forecast to cross on {r['crosses_on']}" if r["crosses_on"] else "")
        spread = (r["crosses_earliest"], r["crosses_latest"]) != (r["crosses_on"], r["crosses_on"])
        if r["status"] != "breached" and r["crosses_earliest"] and spread:
            crossed += f" (as early as {r['crosses_earliest']}" + (f", as late as {r['crosses_latest']})" if r["crosses_latest"]
                                                                   else ", or not this period)")
        evidence = (f"{_usd(spend)} spent of {_usd(amount)} ({r['spent_pct']:.0f}%) in {r['period']} through {r['through']} "
                    f"({r['days_elapsed']} of {period_days} days, {r['requests']:,} requests); forecast {_usd(total)}{interval} "
                    f"at the period's end ({r['forecast_pct']:.0f}%; {r['method']})" + (f"; {crossed}" if crossed else ""))
        suggestion = (f"see what drives {r['scope']} spend (`costlab summary --since {r['period_start']}`, `costlab signals`) "
                      "and what routing would save (`costlab whatif`), or raise the budget in costlab.toml")
        rows.append(("high" if r["status"] == "breached" else "medium", SIGNAL,
                     f"budget={r['budget']} period={r['period']}", weekly, evidence, float(total), float(amount),
                     r["requests"], suggestion, drill_down(r)))
    return order(pl.DataFrame(rows, schema=COLUMNS, orient="row"))


def _usd(v: Decimal) -> str:
    return f"${v:,.2f}"


def budget_findings(store: Any, config: Config | None = None, through: date | None = None,
                    notes: list[str] | None = None) -> pl.DataFrame:
    """The findings of every budget in costlab.toml (none when there are none)."""
    return findings(budget_status(store, config, through, notes=notes, required=False))
