"""`costlab compare`: a verdict on a model switch: two cohorts of the logged traffic, every metric
with its test, corrected for multiple comparisons, against the guardrails of [compare.guardrails].

    costlab compare --switch-day 2026-11-09
    costlab compare --before 2026-11-02..2026-11-09 --after 2026-11-09..2026-11-16
    costlab compare --a "model = 'claude-sonnet-5-5'" --b "model = 'claude-haiku-5-5'" --feature ticket-tagger
    costlab compare --flag new_model --since 2026-11-09

Data on stdout (costlab.frames); the verdict follows the table (table, markdown) or goes to stderr
(data formats), with the notes. A guardrail breached: exit 5. The work lives in costlab.compare.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from costlab.cli.context import open_store, output_format
from costlab.cli.errors import handle_errors
from costlab.cli.options import ConfigOption, DbOption, FormatOption, OutOption, SinceDayOption, UntilDayOption


def register(app: typer.Typer) -> None:
    """Add `compare` to the app."""
    app.command("compare")(compare_command)


@handle_errors
def compare_command(
    before: Annotated[Optional[str], typer.Option("--before", help="Cohort a: FIRST..END days (END not included), e.g. 2026-11-02..2026-11-09.", show_default=False)] = None,
    after: Annotated[Optional[str], typer.Option("--after", help="Cohort b: FIRST..END days, e.g. 2026-11-09..2026-11-16.", show_default=False)] = None,
    switch_day: Annotated[Optional[str], typer.Option("--switch-day", help="Days before DAY against DAY and after, equal windows (--days, default: all the days after).", show_default=False)] = None,
    a: Annotated[Optional[str], typer.Option("--a", help="Cohort a: your SQL condition over costed_requests' columns, e.g. \"model = 'claude-sonnet-5-5'\".", show_default=False)] = None,
    b: Annotated[Optional[str], typer.Option("--b", help="Cohort b: your SQL condition, over the same window as --a.", show_default=False)] = None,
    flag: Annotated[Optional[str], typer.Option("--flag", help="A rollout: requests whose metadata KEY is true (b) against the rest (a).", show_default=False)] = None,
    days: Annotated[Optional[int], typer.Option("--days", help="Days each side of --switch-day; the window of --a/--b/--flag without --since (default 7).", show_default=False)] = None,
    since: SinceDayOption = None,
    until: UntilDayOption = None,
    where: Annotated[Optional[str], typer.Option("--where", help="Only requests matching your SQL condition (both cohorts).", show_default=False)] = None,
    feature: Annotated[Optional[str], typer.Option("--feature", help="Only this feature (both cohorts).", show_default=False)] = None,
    resamples: Annotated[Optional[int], typer.Option("--resamples", help="Bootstrap resamples. [default: [compare] resamples, 1000]", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Bootstrap seed. [default: 0]", show_default=False)] = None,
    no_guardrails: Annotated[bool, typer.Option("--no-guardrails", help="Report only: a breached guardrail does not exit 5.")] = False,
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Compare two cohorts of the logged traffic: cost, errors, stop reasons, latency, quality.

    Cohort a is the baseline, b the change. Exit 5 when a change is significant and past a guardrail
    of [compare.guardrails] (error_rate_pp = 1, p95_latency_pct = 20, quality_pp = -3 by default).

    \b
    Examples:
      costlab compare --switch-day 2026-11-09
      costlab compare --before 2026-11-02..2026-11-09 --after 2026-11-09..2026-11-16
      costlab compare --a "model = 'claude-sonnet-5-5'" --b "model = 'claude-haiku-5-5'" --feature ticket-tagger
      costlab compare --flag new_model --days 3        # a rollout behind a metadata flag, gated in CI
    """
    from costlab import compare as lib
    from costlab import frames
    from costlab.cli.context import calendar_day
    from costlab.display import visible
    from costlab.errors import ExitCode
    from costlab.progress import stderr

    ways = [name for name, given in (("--before/--after", before or after), ("--switch-day", switch_day),
                                     ("--a/--b", a or b), ("--flag", flag)) if given]
    if len(ways) > 1:
        raise typer.BadParameter(f"choose one way to cut the traffic, not {' and '.join(ways)}", param_hint=ways[1])
    if (before is None) != (after is None):
        raise typer.BadParameter("--before and --after go together", param_hint="--before" if before is None else "--after")
    if (a is None) != (b is None):
        raise typer.BadParameter("--a and --b go together", param_hint="--a" if a is None else "--b")
    if days is not None and days < 1:
        raise typer.BadParameter("a whole number of days, at least 1", param_hint="--days")
    if resamples is not None and not 100 <= resamples <= 100_000:
        raise typer.BadParameter("from 100 to 100000", param_hint="--resamples")
    fmt = output_format(fmt, out)  # an unknown name, or parquet without --out, refused before any work
    since_day, until_day = calendar_day(since, "--since"), calendar_day(until, "--until")

    with open_store(db, config, read_only=True) as store:
        settings = lib.parse(getattr(store.config, "compare", {}) or {})
        if before is not None:
            cohorts = lib.periods(before, after)
        elif switch_day is not None:
            cohorts = lib.switch_day(store, calendar_day(switch_day, "--switch-day"), days)
        elif a is not None:
            cohorts = lib.expressions(a, b, *lib.window(store, since_day, until_day, days or 7))
        elif flag is not None:
            cohorts = lib.flag(flag, *lib.window(store, since_day, until_day, days or 7))
        else:
            cohorts = lib.from_settings(store, settings.cohorts)
            if cohorts is None:
                raise typer.BadParameter("say what to compare: --switch-day DAY, --before/--after, --a/--b or --flag KEY "
                                         "(or a default in costlab.toml [compare])", param_hint="--switch-day")
        if where is not None or feature is not None:
            cohorts = lib.scoped(cohorts, where if where is not None else cohorts.where,
                                 feature if feature is not None else cohorts.feature)
        result = lib.compare(store, cohorts, settings, resamples=resamples, seed=seed)

    label_a, label_b = cohorts.labels
    title = f"Compare: b ({label_b}) against a ({label_a})" + (f", {cohorts.scope}" if cohorts.scope else "")
    line = f"verdict: {result.verdict}"
    correction = {"holm": "Holm", "bh": "Benjamini-Hochberg"}[settings.correction]
    said = (f"{result.table.height} tests at alpha {settings.alpha:g}, p adjusted by {correction}; "
            f"a: {result.requests[0]:,.0f} requests, b: {result.requests[1]:,.0f}")
    if fmt in ("table", "markdown") and frames.is_stdout(out):
        frames.emit(frames.to_text(lib.for_people(result.table), fmt, visible(title), width=frames.default_width(out))
                    + "\n" + visible(line) + "\n")
    else:
        frames.write(result.table, fmt, out=out, title=visible(title))
        stderr.print(visible(line), highlight=False, markup=False)
    stderr.print(said, highlight=False, markup=False)
    for note in result.notes:
        stderr.print(f"note: {visible(note)}", highlight=False, markup=False)
    if result.breaches and not no_guardrails:
        names = ", ".join(x["guardrail"] for x in result.breaches)
        stderr.print(f"exit {int(ExitCode.FINDINGS)}: guardrail breached: {names}", highlight=False, markup=False)
        raise typer.Exit(int(ExitCode.FINDINGS))
