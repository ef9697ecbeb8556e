"""`costlab summary`: cost by tier, model, feature and day (costlab.summary), written in --format."""

from __future__ import annotations

import typer

from costlab.cli.context import day, open_store, output_format
from costlab.cli.errors import handle_errors
from costlab.cli.options import ConfigOption, DbOption, FormatOption, OutOption, SinceDayOption, UntilDayOption


def register(app: typer.Typer) -> None:
    """Add `summary` to the app."""
    app.command("summary")(summary)


@handle_errors
def summary(
    since: SinceDayOption = None,
    until: UntilDayOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Cost by tier, model, feature and day, with the unpriced count in every section."""
    from costlab import frames, plausible
    from costlab.summary import TITLES, cost_summary, summary_frame

    fmt = output_format(fmt, out)
    with open_store(db, config) as store:
        start, end, outside = plausible.default_window(store, day(since, "--since"), day(until, "--until"))
        sections = cost_summary(store, since=start, until=end)
    # titled tables for people; one long frame (section, key, ...) for csv, json, jsonl, parquet
    frames.write_sections(sections, fmt, out, long=summary_frame(sections), titles=TITLES)
    if outside:
        typer.echo(f"note: {outside}", err=True)
