"""`costlab reconcile`: the provider's own figures (Admin API reports, gateways' reported cost)
against costlab's. The work lives in costlab.reconcile; this module parses options, calls it and renders.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from costlab.cli.context import day, open_store, write_frame
from costlab.cli.errors import handle_errors
from costlab.cli.options import ConfigOption, DbOption, FormatOption, OutOption, SinceDayOption, UntilDayOption
from costlab.display import plural
from costlab.errors import ExitCode, NothingCheckedError

FLAGGED_EXIT = int(ExitCode.FINDINGS)  # the command ran, and found something to look at


def register(app: typer.Typer) -> None:
    """Add `reconcile` to the app."""
    app.command("reconcile")(reconcile)


@handle_errors
def reconcile(
    since: SinceDayOption = None,
    until: UntilDayOption = None,
    tolerance: Annotated[float, typer.Option(help="Relative gap beyond which a row is flagged (0.01 = 1%).")] = 0.01,
    fmt: FormatOption = "table",
    out: OutOption = None,
    all_rows: Annotated[bool, typer.Option("--all", help="Show every row, not only the flagged ones (table format).")] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Computed cost and logged tokens against the Admin API reports and gateways' reported cost.

    Per day x model x service tier. Exits 5 when any row is beyond the tolerance, and 6 when there
    is nothing to compare against (no usage or cost report and no reported cost in the window).
    Days are UTC days, as in Anthropic's usage and cost reports (so there is no --tz).

    \b
    Example:
      costlab pull-usage --since 2026-11-01 --until 2026-11-08
      costlab reconcile --since 2026-11-01 --until 2026-11-08 --format json
    """
    from costlab.reconcile import reconcile as run

    with open_store(db, config) as store:
        result = run(store, since=day(since, "--since"), until=day(until, "--until"), tolerance=tolerance)
    if result.missing:
        raise NothingCheckedError(result.missing)
    if fmt == "json":
        from costlab import frames

        # json is the whole comparison (rows, totals, what was compared); the other formats write its rows
        frames.emit(json.dumps(result.to_json(), indent=2) + "\n", out)
    else:
        frame = result.rows
        if fmt == "table" and not all_rows and result.flagged:
            frame = frame.filter(frame["flagged"])
        write_frame(frame, fmt, out, title=f"Reconciliation (tolerance {tolerance:.1%}; {result.flagged} flagged)")
    if result.flagged:
        typer.echo(f"{result.flagged:,} of {plural(result.rows.height, 'row')} beyond the {tolerance:.1%} tolerance", err=True)
        raise typer.Exit(FLAGGED_EXIT)
