"""`costlab signals`: run the wrong-model detectors and print the findings, worst first."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from costlab.cli.context import open_engine, output_format, time_zone
from costlab.cli.errors import handle_errors
from costlab.cli.options import (ConfigOption, DbOption, EngineOption, FormatOption, LakeOption, MasterOption, OutOption,
                                 TzOption)
from costlab.display import plural

LEVELS = ("high", "medium", "low")


def register(app: typer.Typer) -> None:
    """Add `signals` to the app."""
    app.command("signals")(signals_command)


@handle_errors
def signals_command(
    since: Annotated[str, typer.Option(help="Window: a duration back from the last request's day (8w, 14d) or a first day (YYYY-MM-DD).")] = "8w",
    until: Annotated[Optional[str], typer.Option(help="End of the window, exclusive (YYYY-MM-DD). [default: the day after the last request]", show_default=False)] = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    fail_on: Annotated[Optional[str], typer.Option("--fail-on", help="Exit 5 when a finding is at this severity or worse: high, medium or low.", show_default=False)] = None,
    only: Annotated[Optional[list[str]], typer.Option("--only", help="Run only this detector (repeatable).", show_default=False)] = None,
    tz: TzOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    engine: EngineOption = None,
    lake: LakeOption = None,
    master: MasterOption = None,
) -> None:
    """Where traffic is on the wrong model: findings with evidence, weekly dollar impact and a fix.

    Days (the window's ends, daily baselines, the days and times in the evidence) run midnight to
    midnight in --tz (default: costlab.toml [report] timezone, else UTC).

    With --lake it reads a lake (`costlab export`) instead of the store, on DuckDB or (--engine spark)
    on Apache Spark: the same detector files, the same findings (docs/scale.md says which detectors
    run on Spark, and what a lake does not carry: rejected rows, replay results).

    \b
    Examples:
      costlab signals
      costlab signals --since 4w --format markdown > signals.md
      costlab signals --fail-on high        # exit 5 when a high finding exists (weekly job)
      costlab signals --tz America/New_York # days from midnight in New York
      costlab signals --format parquet --out findings.parquet   # one row per finding, with its evidence
      costlab signals --engine spark --lake lake/ --master spark://head:7077
    """
    from costlab import frames
    from costlab import signals as lib
    from costlab.progress import stderr

    fmt = output_format(fmt, out)
    if fail_on is not None and fail_on not in LEVELS:
        raise typer.BadParameter(f"expected high, medium or low, got {fail_on!r}", param_hint="--fail-on")
    zone = time_zone(tz, config)
    until_day = None
    if until is not None:
        try:
            until_day = lib.parse_since(until, zone)
        except Exception:
            raise typer.BadParameter(f"expected a day like 2026-11-16, got {until!r}", param_hint="--until")
        if not hasattr(until_day, "tzinfo"):
            raise typer.BadParameter(f"expected a day like 2026-11-16, got {until!r}", param_hint="--until")
    with open_engine(engine, lake, master, db, config) as store:
        span = lib.window(store, since, until_day, zone)
        said: list[str] = []  # what a detector could not judge in this window (too short a baseline, no ids)
        findings = lib.run_signals(store, since=since, until=until_day, only=only, notes=said, tz=zone)
        outside = lib.outside_note(store) if until_day is None else None  # rows the default window ignores
        if getattr(store, "gaps", None):  # over a lake: what it does not carry (costlab.engine.lake.LAKE_GAPS)
            said.append(store.gaps)

    n = lib.counts(findings)
    where = f" over {span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}" if span else " (the store has no requests)"
    if findings.height == 0:
        stderr.print(f"no findings{where}", highlight=False, markup=False)
        if not frames.FORMATS[fmt].for_people:  # a program reading the data gets an empty answer: [], a CSV header
            frames.write(findings, fmt, out)
        elif not frames.is_stdout(out):  # a file for people says so rather than stay empty
            frames.emit(f"No findings{where}.\n", out)
    else:
        stderr.print(f"{plural(findings.height, 'finding')}{where}: {n['high']} high, {n['medium']} medium, {n['low']} low",
                     highlight=False, markup=False)
        summary = lib.summary(findings)
        if fmt == "table":
            frames.emit(frames.to_text(summary, "table", "Signals, worst first", width=frames.default_width(out))
                        + "\n" + lib.details(findings), out)
        elif fmt == "markdown":
            frames.emit(frames.markdown(summary, "Signals, worst first") + "\n" + lib.details(findings, markdown=True), out)
        else:  # csv, json, jsonl, parquet: the findings frame, one row per finding
            frames.write(findings, fmt, out)
    for line in said:
        stderr.print(f"note: {line}", highlight=False, markup=False)
    if outside:
        stderr.print(f"note: {outside}", highlight=False, markup=False)
    if lib.exceeds(findings, fail_on):
        stderr.print(f"exit {lib.FINDINGS_EXIT}: findings at or above {fail_on}", highlight=False, markup=False)
        raise typer.Exit(lib.FINDINGS_EXIT)
