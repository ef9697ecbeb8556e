"""`costlab budget`: each [[budgets]] entry's spend to date, forecast to the period's end, and the day it crosses."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from costlab.cli.context import calendar_day, open_store, write_frame
from costlab.cli.errors import handle_errors
from costlab.cli.options import ConfigOption, DbOption, FormatOption, OutOption

LEVELS = ("high", "medium", "low")


def register(app: typer.Typer) -> None:
    """Add `budget` to the app."""
    app.command("budget")(budget_command)


@handle_errors
def budget_command(
    through: Annotated[Optional[str], typer.Option(help="Last day counted, inclusive (YYYY-MM-DD). [default: the last day with data, before today]", show_default=False)] = None,
    name: Annotated[Optional[list[str]], typer.Option("--name", help="Only this budget (repeatable).", show_default=False)] = None,
    fail_on: Annotated[Optional[str], typer.Option("--fail-on", help="Exit 5 on a finding at this severity or worse: high (a breach) or medium (a forecast breach).", show_default=False)] = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Budgets: spend to date this period, the forecast to its end (with a 90% interval) and the day it crosses.

    \b
    Examples:
      costlab budget
      costlab budget --through 2026-11-10 --format json
      costlab budget --fail-on high        # exit 5 when a budget is already breached
    """
    from costlab import budgets
    from costlab.progress import stderr
    from costlab.signals import FINDINGS_EXIT, exceeds

    if fail_on is not None and fail_on not in LEVELS:
        raise typer.BadParameter(f"expected high, medium or low, got {fail_on!r}", param_hint="--fail-on")
    day = calendar_day(through, "--through")
    notes: list[str] = []
    with open_store(db, config) as store:
        rows = budgets.budget_status(store, through=day, names=name, notes=notes)
    if fmt in ("table", "markdown"):  # for people: the columns that answer "will we make it", money in cents
        import polars as pl

        shown = rows.select("budget", "scope", "period", "through", "amount_usd",
                            pl.col("spend_usd").round(2).cast(pl.Decimal(18, 2)), pl.col("spent_pct").round(1), "forecast_usd",
                            "forecast_low_usd", "forecast_high_usd", "crosses_on", "status", "history_days")
        write_frame(shown, fmt, out, title="Budgets (forecast: at the period's end, with its 90% interval)")
    else:
        write_frame(rows, fmt, out, title="Budgets")
    for r in rows.iter_rows(named=True):
        stderr.print(f"{r['budget']}: {r['status']}; forecast rests on {r['history_days']} days ({r['method']})",
                     highlight=False, markup=False)
    for line in notes:
        stderr.print(f"note: {line}", highlight=False, markup=False)
    found = budgets.findings(rows)
    if exceeds(found, fail_on):
        stderr.print(f"exit {FINDINGS_EXIT}: a budget finding at or above {fail_on}", highlight=False, markup=False)
        raise typer.Exit(FINDINGS_EXIT)
