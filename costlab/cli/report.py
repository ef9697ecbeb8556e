"""`costlab report`: the weekly report, in the terminal, as Markdown, JSON or one HTML file.

The work lives in costlab.report (build_report, render); this module parses options, calls it and writes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from costlab.cli.context import calendar_day, open_engine, time_zone
from costlab.cli.errors import handle_errors
from costlab.cli.options import ConfigOption, DbOption, EngineOption, LakeOption, MasterOption, TzOption
from costlab.errors import ConfigError, ExitCode

FINDINGS_EXIT = int(ExitCode.FINDINGS)

WeekOption = Annotated[Optional[str], typer.Option("--week", help="ISO week, e.g. 2026-W47 (against the week before). [default: the last full week with data]", show_default=False)]
SinceOption = Annotated[Optional[str], typer.Option("--since", help="First day, inclusive (YYYY-MM-DD); compared with the same number of days before.", show_default=False)]
UntilOption = Annotated[Optional[str], typer.Option("--until", help="Last day, exclusive (YYYY-MM-DD). [default: today]", show_default=False)]
ReportFormatOption = Annotated[Optional[str], typer.Option("--format", "-f", help="The report: terminal (or table), markdown, json or html; its tables, one file each in the folder --out names: csv, jsonl or parquet. [default: from --out's extension, else terminal]", show_default=False)]
ReportOutOption = Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file instead of stdout (report.html writes the HTML); a folder for csv, jsonl and parquet.", show_default=False)]
FailOnOption = Annotated[Optional[str], typer.Option("--fail-on", help="Exit 5 when a wrong-model finding is at this severity or worse: high or medium.", show_default=False)]


def register(app: typer.Typer) -> None:
    """Add `report` to the costlab app."""
    app.command("report")(report)


@handle_errors
def report(
    week: WeekOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    fmt: ReportFormatOption = None,
    out: ReportOutOption = None,
    fail_on: FailOnOption = None,
    tz: TzOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    engine: EngineOption = None,
    lake: LakeOption = None,
    master: MasterOption = None,
) -> None:
    """The weekly report: spend, tier mix, efficiency and reliability, against the period before.

    With --lake it reads a lake (`costlab export`), on DuckDB or (--engine spark) on Apache Spark: the
    same query files and figures; what a lake or Spark cannot give is named (stderr, and the report's
    last section), never left out silently (docs/scale.md).

    \b
    Examples:
      costlab report                              # the last full ISO week with data, in the terminal
      costlab report --week 2026-W46 --out report.html
      costlab report --since 2026-11-01 --until 2026-12-01 --format json > november.json
      costlab report --week 2026-W46 --format csv -o report-2026-W46/   # each table as a CSV file
      costlab report --week 2026-W46 --engine spark --lake lake/ --format json
    """
    from costlab import frames
    from costlab.progress import stderr
    from costlab.report import build_report, format_for, render, window
    from costlab.report.tables import FORMATS as TABLE_FORMATS, check_folder, write_tables

    if fail_on is not None and fail_on not in ("high", "medium"):
        raise typer.BadParameter(f"expected high or medium, got {fail_on!r}", param_hint="--fail-on")
    fmt_name = format_for(fmt, str(out) if out else None)
    if fmt_name in TABLE_FORMATS and frames.is_stdout(out):
        raise ConfigError(f"--format {fmt_name} writes each table of the report to its own file: give a folder "
                          f"with --out (e.g. --out report/); --format json writes the whole report to stdout")
    if fmt_name in TABLE_FORMATS:
        check_folder(out, fmt_name)  # before the report is built
    first, last = calendar_day(since, "--since"), calendar_day(until, "--until")
    zone = time_zone(tz, config)  # days and weeks from midnight there
    span = window.resolve(week, first, last, tz=zone)  # the flags checked before the store is opened
    with open_engine(engine, lake, master, db, config, read_only=True) as store:
        if not (week or first or last):  # the last full week with data, not the clock's (window.last_week_with_data)
            span = window.resolve(store=store, tz=zone)
        result = build_report(store, span)
        empty = window.empty_note(store, span)  # names the data's days when the period has none
    if span.note:
        stderr.print(f"note: {span.note} (no --week given)", highlight=False, markup=False)
    for line in result["sections"].get("engine", {}).get("notes", []):  # over a lake: what it or the engine could not give
        stderr.print(f"note: {line}", highlight=False, markup=False)
    if empty:
        stderr.print(f"note: {empty}", highlight=False, markup=False)
    if fmt_name in TABLE_FORMATS:
        written = write_tables(result, fmt_name, out)
        stderr.print(f"wrote {len(written) - 1} tables of the {span.label} report ({fmt_name}) to {out}, "
                     f"listed in {written[0].name}", highlight=False, markup=False)
        _fail_on(result, fail_on)
        return
    color = fmt_name == "terminal" and frames.is_stdout(out) and sys.stdout.isatty()
    text = render(result, fmt_name, width=frames.default_width(out), color=color)
    frames.emit(text, out)
    if out is not None and not frames.is_stdout(out):
        stderr.print(f"wrote the {span.label} report ({fmt_name}) to {out}", highlight=False, markup=False)
    _fail_on(result, fail_on)


def _fail_on(result: dict, fail_on: str | None) -> None:
    """Exit 5 when --fail-on is given and a wrong-model finding is at that severity or worse."""
    from costlab.progress import stderr

    if fail_on is not None:
        findings = result["sections"].get("findings")
        if findings is None:
            raise ConfigError("--fail-on needs the wrong-model findings (costlab.signals), which this costlab does not have")
        counts = findings.get("severity_counts", {})
        worse = ("high",) if fail_on == "high" else ("high", "medium")
        n = sum(int(counts.get(s, 0)) for s in worse)
        if n:
            stderr.print(f"{n} finding{'s' if n > 1 else ''} at {fail_on} severity or worse", highlight=False, markup=False)
            raise typer.Exit(FINDINGS_EXIT)
