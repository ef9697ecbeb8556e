"""`costlab replay`: replay sampled requests on other tiers, judge them; status, resume, results, import.

The work lives in costlab.replay; this module parses options, calls it and renders.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer

from costlab.cli.context import day, open_store, output_format, write_frame
from costlab.cli.errors import handle_errors
from costlab.cli.helptext import Group
from costlab.cli.options import ConfigOption, DbOption, FormatOption, OutOption
from costlab.display import plural

BaseUrlOption = Annotated[Optional[str], typer.Option("--base-url", help="API base URL (a gateway, or the costlab test server). [env: ANTHROPIC_BASE_URL; costlab.toml [replay] base_url]", show_default=False)]
ConcurrencyOption = Annotated[Optional[int], typer.Option("--concurrency", "-c", help="Most requests in flight; halves on 429/529. [default: the run's, else 8]", show_default=False)]
RetriesOption = Annotated[Optional[int], typer.Option("--max-retries", help="Retries per request (429, 529, 5xx, timeouts, connection errors); a retry after a timeout reserves its own worst case against --max-usd. [default: [replay] max_retries, else 4]", show_default=False)]
TimeoutOption = Annotated[Optional[float], typer.Option("--timeout", help="Seconds before one attempt of a call times out (then it is retried). [default: [replay] timeout_s, else 120]", show_default=False)]


def register(app: typer.Typer) -> None:
    """Add `replay` and its subcommands (status, resume, results, import, exclude, include, delete) to the app."""
    replay_app = typer.Typer(
        help="Replay a sample of logged requests on other tiers, judge the answers, and record it all.",
        rich_markup_mode=None,
        no_args_is_help=False,
        cls=Group,
    )
    app.add_typer(replay_app, name="replay")
    replay_app.callback(invoke_without_command=True)(replay)
    replay_app.command("resume")(resume)
    replay_app.command("status")(status)
    replay_app.command("results")(results)
    replay_app.command("import")(import_)
    replay_app.command("exclude")(exclude)
    replay_app.command("include")(include)
    replay_app.command("delete")(delete)


def _money(value: Optional[str], flag: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"expected an amount in USD like 2.50, got {value!r}", param_hint=flag) from None
    if not amount.is_finite() or amount < 0:
        raise typer.BadParameter(f"expected an amount in USD like 2.50, got {value!r}", param_hint=flag)
    return amount


def _csv(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int, Decimal], None]]:
    """A bar with the spend so far, on stderr, only when stderr is a terminal."""
    from costlab.progress import stderr

    if not sys.stderr.isatty() or total == 0:
        yield lambda n, spent: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                  TextColumn("${task.fields[spent]}"), TimeRemainingColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=total, spent="0.00")
        yield lambda n, spent: bar.update(task, advance=n, spent=f"{spent:.4f}")


def _say(text: str) -> None:
    from costlab.progress import stderr

    stderr.print(text, highlight=False, markup=False)


def _report(outcome) -> None:
    _say(f"sent {outcome.sent:,}: {outcome.ok:,} answered, {outcome.errors:,} failed after retries; "
         f"replay spend ${outcome.spent_usd:.6f}"
         + (f", judge spend ${outcome.judge_spent_usd:.6f}" if outcome.judge_spent_usd else "")
         + (f"; throttled {outcome.throttled}x (concurrency down to {outcome.min_concurrency})" if outcome.throttled else ""))
    for note in outcome.notes:
        _say(f"note: {note}")
    if outcome.in_doubt:
        _say(f"note: {plural(outcome.in_doubt, 'request')} {'was' if outcome.in_doubt == 1 else 'were'} in flight when a process was killed; they may have been billed "
             "and are not re-sent (status 'sending' in replays)")


def _on_interrupt(n: int) -> None:
    """Said from the signal handler (a plain write: the progress bar may be mid-draw)."""
    import os

    text = {1: "interrupted: no new calls start; the calls in flight finish and are recorded "
               "(Ctrl-C again to stop waiting for them)",
            2: "stopped waiting: calls still in flight are recorded in doubt by resume, never sent again "
               "(Ctrl-C again to quit at once)"}.get(n)
    if text:
        try:
            os.write(2, f"\n{text}\n".encode())
        except OSError:
            pass


def _execute(store, run: str, base_url, concurrency, max_retries, max_usd, poll: float, timeout: float | None = None):
    from costlab import replay

    todo = int(replay.status(store, run)["missing"][0])
    try:
        with _progress(todo, f"replay {run}") as advance:
            return replay.execute(store, run, base_url=base_url, concurrency=concurrency, max_retries=max_retries,
                                  max_usd=max_usd, on_progress=advance, poll_interval=poll, timeout=timeout,
                                  on_interrupt=_on_interrupt)
    except replay.AccountError as ex:
        if ex.outcome is not None:
            _report(ex.outcome)
        raise  # Error: ... naming the key's variable, exit 2; the run is 'failed' and resumable


@handle_errors
def replay(
    ctx: typer.Context,
    sample: Annotated[int, typer.Option("--sample", "-n", help="How many logged requests to replay.")] = 100,
    tiers: Annotated[str, typer.Option(help="Tiers to replay on, comma-separated (models from costlab.toml [tiers]).")] = "haiku,sonnet,opus",
    since: Annotated[Optional[str], typer.Option(help="Only requests from this day (YYYY-MM-DD).")] = None,
    until: Annotated[Optional[str], typer.Option(help="Only requests before this day (YYYY-MM-DD).")] = None,
    filter: Annotated[Optional[str], typer.Option("--filter", help="SQL condition over costed_requests, e.g. \"feature = 'chat'\".")] = None,
    stratify: Annotated[str, typer.Option(help="Strata for the sample: feature, tier, model, customer_id, platform.")] = "feature,tier",
    seed: Annotated[int, typer.Option(help="Same seed, same sample.")] = 0,
    judge: Annotated[Optional[str], typer.Option(help="Tier of the blind pairwise judge (e.g. opus); none: checks only.")] = None,
    max_usd: Annotated[Optional[str], typer.Option("--max-usd", help="Refuse to start above this estimate; stop before crossing it.")] = None,
    concurrency: ConcurrencyOption = None,
    batch: Annotated[bool, typer.Option("--batch", help="Use the Message Batches API (half price, slower).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Draw the sample, print the estimate, send nothing.")] = False,
    run: Annotated[Optional[str], typer.Option("--run", help="Name of the run (default replay-YYYYMMDD-HHMMSS).")] = None,
    base_url: BaseUrlOption = None,
    max_retries: RetriesOption = None,
    timeout: TimeoutOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Replay a sample of logged requests on other tiers (subcommands: status, resume, results, import,
    exclude, include, delete). A run sent to a test server (any host but the platform's API) is marked
    'test' and feeds no production figure until `replay include RUN`.

    \b
    Examples:
      costlab replay --sample 200 --tiers haiku,sonnet --judge opus --max-usd 5 --dry-run
      costlab replay --sample 200 --tiers haiku,sonnet --judge opus --max-usd 5 --run haiku-check
      costlab replay results haiku-check
    """
    if ctx.invoked_subcommand is not None:
        return
    from costlab import replay as lib

    fmt = output_format(fmt, out)  # before any request is sent: a format that cannot be written fails now
    if sample < 1:
        raise typer.BadParameter("expected at least 1", param_hint="--sample")
    spec = lib.ReplaySpec(sample=sample, tiers=_csv(tiers), since=day(since, "--since"), until=day(until, "--until"),
                          filter=filter, stratify=_csv(stratify), seed=seed, judge=judge,
                          max_usd=_money(max_usd, "--max-usd"), concurrency=concurrency or 8, batch=batch, run=run,
                          base_url=base_url)
    with open_store(db, config) as store:
        qualifying = lib.qualifying(store, spec)
        _say(f"{qualifying:,} logged requests qualify (a request body was logged"
             + (", inside the window and filter" if since or until or filter else "") + ")")
        if qualifying == 0:
            from costlab.errors import InputError

            raise InputError("no request can be replayed: ingest logs with request bodies (without --no-payloads) first")
        name, est = lib.plan(store, spec)
        expected = sum(est["expected_usd"].to_list(), Decimal(0))
        worst = sum(est["worst_usd"].to_list(), Decimal(0))
        # The estimate has one row per tier and per judge (a handful): the judge lines' share.
        judging = sum((usd for kind, usd in zip(est["kind"], est["expected_usd"]) if kind == "judge"), Decimal(0)) \
            if "kind" in est.columns else Decimal(0)
        _say(f"run {name}: {int(est['requests'].max() or 0):,} requests x {len(spec.tiers)} tiers, estimated "
             f"${expected:.4f}" + (f" (of which judging ${judging:.4f})" if judging else "")
             + f", at most ${worst:.4f} if every answer used max_tokens"
             + (f", budget ${spec.max_usd}" if spec.max_usd is not None else ""))
        _say_evidence(store, name)
        if dry_run:
            lib.mark_dry_run(store, name)
            write_frame(est, fmt, out, title=f"Estimate for {name}")
            _say(f"dry run: nothing sent; `costlab replay resume {name}` sends it, `costlab replay delete {name}` drops it")
            return
        outcome = _execute(store, name, base_url, concurrency, max_retries, None, 10.0, timeout)
        _report(outcome)
        _say_evidence(store, name)
        frame = lib.status(store, name)
    write_frame(frame, fmt, out)
    if outcome.interrupted:
        _say(f"interrupted: `costlab replay resume {name}` sends what is missing")
        raise typer.Exit(130)


def _say_evidence(store, run: str) -> None:
    """Say when a run's answers feed no production figure (a test server, or excluded)."""
    from costlab import replay as lib

    evidence = lib.status(store, run)["evidence"][0]
    if evidence == "test":
        _say(f"note: run {run} is a test run (not sent to the platform's own API): its answers feed no what-if, "
             f"frontier, report or signal; `costlab replay include {run}` counts them")
    elif evidence == "excluded":
        _say(f"note: run {run} is excluded: its answers feed no production figure (`costlab replay include {run}`)")


@handle_errors
def resume(
    run: Annotated[str, typer.Argument(help="The run to continue.")],
    max_usd: Annotated[Optional[str], typer.Option("--max-usd", help="A new budget for the whole run (default: the run's).")] = None,
    concurrency: ConcurrencyOption = None,
    base_url: BaseUrlOption = None,
    max_retries: RetriesOption = None,
    timeout: TimeoutOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Send only what a run is missing (never a request already answered or possibly billed), then judge."""
    from costlab import replay as lib

    fmt = output_format(fmt, out)  # before any request is sent

    with open_store(db, config) as store:
        budget = _money(max_usd, "--max-usd")
        if budget is not None:
            lib.set_budget(store, run, budget)
        outcome = _execute(store, run, base_url, concurrency, max_retries, budget, 10.0, timeout)
        _report(outcome)
        _say_evidence(store, run)
        frame = lib.status(store, run)
    write_frame(frame, fmt, out)
    if outcome.interrupted:
        raise typer.Exit(130)


@handle_errors
def status(
    run: Annotated[Optional[str], typer.Argument(help="One run (default: all).")] = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Every replay run: sampled, answered, failed, not sent, in doubt, missing, replay and judge spend."""
    from costlab import replay as lib

    with open_store(db, config, read_only=False) as store:
        frame = lib.status(store, run)
    write_frame(frame, fmt, out)


@handle_errors
def results(
    run: Annotated[str, typer.Argument(help="The run.")],
    failures: Annotated[bool, typer.Option("--failures", help="List the answers judged unsatisfactory instead.")] = False,
    limit: Annotated[int, typer.Option(help="With --failures: at most this many.")] = 50,
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Per feature, tier and judge: pass or win rate with a 95% interval, cost per satisfactory answer."""
    from costlab import replay as lib

    with open_store(db, config) as store:
        frame = lib.failures(store, run, limit) if failures else lib.results(store, run)
        _say_evidence(store, run)
    if not failures:
        _say("pass_rate is good / judged (n = judged), with its Wilson 95% interval pass_low..pass_high")
    write_frame(frame, fmt, out, title=f"{'Failures' if failures else 'Results'} of {run}")


@handle_errors
def import_(
    file: Annotated[Path, typer.Argument(help="A file or folder of recorded outcomes.")],
    fmt_in: Annotated[str, typer.Option("--format", help="routellm or csv.")] = "routellm",
    mapping: Annotated[Optional[list[str]], typer.Option("--map", help="MODEL=TIER (routellm: weak=haiku, strong=opus).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Run name (default: the file's name).")] = None,
    fmt: Annotated[str, typer.Option("--output", help="Output format: table, csv, json, jsonl, markdown or parquet "
                                     "(parquet needs --out). --format names the file's format, as in `costlab ingest`.")] = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Load recorded per-prompt outcomes of several models as a judged run (no API call).

    \b
    Example:
      costlab replay import mmlu_responses/ --format routellm --map weak=haiku --map strong=opus --name mmlu
    """
    from costlab.replay.importer import import_outcomes

    pairs = {}
    for item in mapping or []:
        model, sep, tier = item.rpartition("=")
        if not sep or not model or not tier:
            raise typer.BadParameter(f"expected MODEL=TIER, got {item!r}", param_hint="--map")
        pairs[model] = tier
    with open_store(db, config) as store:
        frame = import_outcomes(store, file, fmt_in, name or file.stem, pairs)
    _say(f"imported run {name or file.stem}: {int(frame['prompts'].max() or 0):,} prompts, {frame.height} tiers")
    write_frame(frame, fmt, out)


@handle_errors
def exclude(
    run: Annotated[str, typer.Argument(help="The run to leave out.")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Keep a run but leave its replays and judgements out of what-if, frontier, report and signals."""
    from costlab import replay as lib

    with open_store(db, config) as store:
        lib.exclude(store, run)
    _say(f"run {run} excluded: kept, and left out of every production figure (`costlab replay include {run}` undoes it)")


@handle_errors
def include(
    run: Annotated[str, typer.Argument(help="The run to count.")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Count a run's answers in production figures: undoes exclude; for a test run, the explicit ask."""
    from costlab import replay as lib

    with open_store(db, config) as store:
        lib.include(store, run)
    _say(f"run {run} included: its replays and judgements feed what-if, frontier, report and signals")


@handle_errors
def delete(
    run: Annotated[str, typer.Argument(help="The run to delete.")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete a run and what it recorded (sample, replays, judgements); logged requests are never touched."""
    from costlab import replay as lib

    with open_store(db, config) as store:
        counts = lib.delete(store, run)
    _say(f"run {run} deleted: {counts['replays']:,} replays, {counts['judgements']:,} judgements, "
         f"{counts['replay_sample']:,} sampled requests (the logged requests stay)")
