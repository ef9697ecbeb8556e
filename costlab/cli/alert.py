"""`costlab alert`: send new findings (signals, budgets, compare guardrails) to the [[alerts]] destinations, once each."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from costlab.cli.context import calendar_day, open_store
from costlab.cli.errors import handle_errors
from costlab.cli.options import ConfigOption, DbOption


def register(app: typer.Typer) -> None:
    """Add `alert` to the app."""
    app.command("alert")(alert_command)


@handle_errors
def alert_command(
    to: Annotated[Optional[list[str]], typer.Option("--to", help="Only this [[alerts]] destination (repeatable).", show_default=False)] = None,
    source: Annotated[Optional[list[str]], typer.Option("--source", help="Only this finding source (repeatable): signals, budgets, compare.", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what each destination would get (stdout); send and remember nothing.")] = False,
    since: Annotated[str, typer.Option(help="Signals' window: a duration back from the last request's day (8w, 14d) or a first day.")] = "8w",
    until: Annotated[Optional[str], typer.Option(help="Signals' window end, exclusive (YYYY-MM-DD). [default: the day after the last request]", show_default=False)] = None,
    through: Annotated[Optional[str], typer.Option(help="Budgets' last day counted (YYYY-MM-DD). [default: the last day with data, before today]", show_default=False)] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Send what is new since the last run to Slack, a webhook or Markdown: each finding once, again only
    when its severity changes, and its clearing once where a destination asks.

    \b
    Exit codes: 0 every destination took its message (or had nothing new), 7 one or more failed after
    their retries (the others were still sent; the failed ones are tried again next run), 2 bad settings.
    \b
    Examples:
      costlab alert                       # after ingest, from cron or CI
      costlab alert --dry-run             # what would be sent, nothing sent or remembered
      costlab alert --to team-slack --source budgets
    """
    from costlab import alerts
    from costlab.cli.context import day as midnight
    from costlab.errors import AlertDeliveryError
    from costlab.frames import emit
    from costlab.progress import stderr

    window = alerts.Window(since=since, until=midnight(until, "--until"), through=calendar_day(through, "--through"))
    notes: list[str] = []
    with open_store(db, config) as store:
        outcomes = alerts.run_alerts(store, only=to, sources=source, window=window, dry_run=dry_run, notes=notes)
    say = lambda text: stderr.print(text, highlight=False, markup=False)  # noqa: E731
    for o in outcomes:
        n = o.counts()
        what = ", ".join(f"{v} {k}" for k, v in n.items() if v) or "nothing new"
        if dry_run:
            say(f"{o.destination} ({o.kind}): would send {what}" + ("" if o.body else ""))
            if o.body:
                emit(o.body if o.body.endswith("\n") else o.body + "\n")
        elif o.error:
            say(f"{o.destination} ({o.kind}): FAILED after {o.attempts} attempt{'s' if o.attempts != 1 else ''}: {o.error}")
        else:
            tries = f" ({o.attempts} attempts)" if o.attempts > 1 else ""
            say(f"{o.destination} ({o.kind}): {'sent ' + what if o.changes.height else what}{tries}")
            if o.to_stdout and o.body:
                emit(o.body)
    for line in notes:
        say(f"note: {line}")
    failed = [o for o in outcomes if o.error]
    if failed:
        raise AlertDeliveryError(f"{len(failed)} of {len(outcomes)} alert destination{'s' if len(outcomes) != 1 else ''} "
                                 f"failed: {', '.join(o.destination for o in failed)} (tried again on the next run)")
