"""`costlab summary`: cost by tier, model, feature and day (costlab.summary), written in --format."""

from __future__ import annotations

import typer

from costlab.cli.context import day, open_engine, output_format, time_zone
from costlab.cli.errors import handle_errors
from costlab.cli.options import (ConfigOption, DbOption, EngineOption, FormatOption, LakeOption, MasterOption, OutOption,
                                 SinceDayOption, TzOption, UntilDayOption)


def register(app: typer.Typer) -> None:
    """Add `summary` to the app."""
    app.command("summary")(summary)


@handle_errors
def summary(
    since: SinceDayOption = None,
    until: UntilDayOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    tz: TzOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    engine: EngineOption = None,
    lake: LakeOption = None,
    master: MasterOption = None,
) -> None:
    """Cost by tier, model, feature and day, with the unpriced count in every section.

    Days run midnight to midnight in --tz (default: costlab.toml [report] timezone, else UTC).
    With --lake it reads a lake (`costlab export`) instead of the store, on DuckDB or (--engine spark)
    on Apache Spark: the same query files, the same figures to the nano-dollar (docs/scale.md).
    """
    from costlab import frames, plausible
    from costlab.summary import cost_summary, summary_frame, titles

    fmt = output_format(fmt, out)
    zone = time_zone(tz, config)
    with open_engine(engine, lake, master, db, config) as store:
        start, end, outside = plausible.default_window(store, day(since, "--since", zone), day(until, "--until", zone))
        sections = cost_summary(store, since=start, until=end, tz=zone)
    # titled tables for people; one long frame (section, key, ...) for csv, json, jsonl, parquet
    frames.write_sections(sections, fmt, out, long=summary_frame(sections), titles=titles(zone))
    if outside:
        typer.echo(f"note: {outside}", err=True)
