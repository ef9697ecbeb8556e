"""The costlab command line: parse options, call the library, render. Nothing else lives here.

Errors: library code raises CostlabError subclasses; `handle_errors` turns each into
`Error: ...` on stderr and its exit code (costlab.errors.ExitCode). Set COSTLAB_DEBUG=1 for tracebacks.
Every error message and traceback printed here goes through costlab.keys.redact first: an exception
text can carry an HTTP header, and so a key.
"""

from __future__ import annotations

import functools
import os
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from costlab.display import visible  # imported now, as memory's: the error path must not import under memory pressure
from costlab.errors import ConfigError, CostlabError, ExitCode
from costlab.keys import redact
from costlab.memory import as_out_of_memory  # imported now: under memory pressure a late import can fail

app = typer.Typer(
    help="What your Claude traffic costs, what it would cost routed differently, and whether each "
    "request is on the right model.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
)
prices_app = typer.Typer(help="The price catalogue: list, show, check and import prices.", rich_markup_mode=None,
                         no_args_is_help=True)
app.add_typer(prices_app, name="prices")

DbOption = Annotated[Optional[Path], typer.Option("--db", help="Store file. [env: COSTLAB_DB; costlab.toml db; default ./costlab.duckdb]", show_default=False)]
ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="Config file. [env: COSTLAB_CONFIG; default ./costlab.toml]", show_default=False)]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="table, csv, json, jsonl, markdown or parquet (parquet needs --out).")]
OutOption = Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file instead of stdout.")]


def _say_error(text: str) -> None:
    """An error line on stderr, with anything that looks like a key redacted and no control character
    from data (a traceback can quote a log's bytes)."""
    typer.echo(visible(redact(text)), err=True)


def handle_errors(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CostlabError as ex:
            if os.environ.get("COSTLAB_DEBUG"):
                raise
            _fail(ex)
        except KeyboardInterrupt:
            typer.echo("Interrupted: nothing from the unfinished step was written.", err=True)
            raise typer.Exit(int(ExitCode.INTERRUPT))
        except BaseException as ex:  # polars' PanicException is no Exception
            # DuckDB turns Ctrl-C during a query into RuntimeError("Query interrupted").
            if isinstance(ex, RuntimeError) and "interrupted" in str(ex).lower():
                typer.echo("Interrupted: nothing from the unfinished step was written.", err=True)
                raise typer.Exit(int(ExitCode.INTERRUPT))
            oom = as_out_of_memory(ex)  # DuckDB, numpy, pyarrow, a thread: one error naming memory_limit
            if oom is None:
                raise
            _fail(oom, ex)

    return wrapper


def _fail(ex: CostlabError, cause: BaseException | None = None) -> None:
    if cause is not None and os.environ.get("COSTLAB_DEBUG"):
        raise ex from cause
    _say_error(f"Error: {ex}")
    raise typer.Exit(int(ex.exit_code)) from (cause or ex)


def _open(db: Path | None, config: Path | None, read_only: bool = False):
    from costlab.config import load_config
    from costlab.open import open_store

    store = open_store(db, load_config(config), read_only=read_only)
    if read_only:
        from costlab import pricing
        from costlab.progress import stderr

        # A read-only open cannot apply new prices (nor re-price the stored ones): say so rather
        # than report at the old prices in silence.
        if pricing.outdated(store, store.config):
            stderr.print(f"note: the prices, models or discounts in costlab.toml changed since {store.path} was "
                         "last opened read-write, so this command uses the prices as of then. Run "
                         "`costlab prices check` once to apply them (it re-prices the stored requests).",
                         highlight=False, markup=False)
    return store


def _day(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=timezone.utc)
    except ValueError:
        raise typer.BadParameter(f"expected a date like 2026-11-16, got {value!r}", param_hint=flag)


def _ingest_formats_help() -> str:
    # --format's help, from the format registry. Called when typer builds the command (in main(), after
    # the process is set up: the registry imports DuckDB), not when this module is imported.
    from costlab.ingest import formats

    return formats.flag_help()


def _render(frame, fmt: str, out: Path | None, title: str | None = None) -> None:
    from costlab import render

    render.frame(frame, fmt, out=out, title=title)


@app.command()
@handle_errors
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or globs; .gz is read directly.")],
    fmt: Annotated[Optional[str], typer.Option("--format", help=_ingest_formats_help())] = None,
    no_payloads: Annotated[bool, typer.Option("--no-payloads", help="Do not keep request and response bodies.")] = False,
    endpoint_url: Annotated[Optional[str], typer.Option("--endpoint-url", help="S3-compatible endpoint for s3:// paths. [env: AWS_ENDPOINT_URL_S3]", show_default=False)] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Read log files (or s3:// prefixes) into the store; re-running adds nothing twice.

    \b
    Examples:
      costlab ingest logs/2026-11-*.jsonl.gz exports/litellm.csv
      costlab ingest s3://my-bucket/AWSLogs/123456789012/BedrockModelInvocationLogs/
    """
    from costlab.display import styled
    from costlab.ingest import expand, ingest_paths
    from costlab.ingest.s3 import is_s3
    from costlab.progress import bytes_bar, stderr

    files = expand([p for p in paths if not is_s3(p)])
    with _open(db, config) as store, bytes_bar(sum(f.stat().st_size for f in files), "ingest") as advance:
        # The paths as given: ingest_paths expands them the same way, and reports what it leaves out.
        summary = ingest_paths(store, paths, fmt=fmt, payloads=not no_payloads,
                               on_file=lambda _p, size: advance(size), endpoint_url=endpoint_url)
    for f in summary.files:
        if f.error:
            stderr.print(styled("✗", "red"), redact(f.error))
        elif f.skipped:
            stderr.print(f"· {f.file}: already ingested ({f.rows_present:,} rows present)", highlight=False, markup=False)
        else:
            line = (f"✓ {f.file} [{f.format}]: {f.rows_read:,} read, {f.rows_added:,} added, "
                    f"{f.rows_present:,} already present, {f.rows_rejected:,} rejected")
            stderr.print(line, highlight=False, markup=False)
            for note in f.notes:
                stderr.print(f"  note: {note}", highlight=False, markup=False)
    total = (f"{len(summary.files)} files: {summary.total('rows_added'):,} rows added, "
             f"{summary.total('rows_present'):,} already present, {summary.total('rows_rejected'):,} rejected")
    stderr.print(total + (" (see `costlab sql \"select * from rejects\"`)" if summary.total("rows_rejected") else ""),
                 highlight=False, markup=False)
    if summary.failed:
        raise typer.Exit(int(ExitCode.ERROR))


@app.command()
@handle_errors
def summary(
    since: Annotated[Optional[str], typer.Option(help="First day, inclusive (YYYY-MM-DD).")] = None,
    until: Annotated[Optional[str], typer.Option(help="Last day, exclusive (YYYY-MM-DD).")] = None,
    fmt: FormatOption = "table",
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Cost by tier, model, feature and day, with the unpriced count in every section."""
    from costlab import plausible
    from costlab.summary import cost_summary, print_summary

    with _open(db, config) as store:
        start, end, outside = plausible.default_window(store, _day(since, "--since"), _day(until, "--until"))
        sections = cost_summary(store, since=start, until=end)
    print_summary(sections, fmt)
    if outside:
        typer.echo(f"note: {outside}", err=True)


@app.command()
@handle_errors
def sql(
    query: Annotated[Optional[str], typer.Argument(help="SQL to run (or use -F FILE).")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-F", help="Run the SQL in this file (e.g. queries/cost_by_feature.sql).")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="A named parameter, NAME=VALUE, for $NAME in the SQL.")] = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Run SQL over the store: requests, costed_requests, payloads, prices, models, ...

    \b
    Examples:
      costlab sql "select tier, sum(cost_usd) from costed_requests group by all"
      costlab sql -F queries/cost_by_feature.sql -p since=2026-11-01 --format csv
    """
    from costlab.store import queries as sqlfiles

    if (query is None) == (file is None):
        raise typer.BadParameter("give a query or --file, not both", param_hint="QUERY")
    params = {}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--param")
        params[name] = value
    with _open(db, config) as store:
        if file is not None:
            if not file.exists():
                raise ConfigError(f"--file {file}: no such file")
            q = sqlfiles.parse(file)
            frame = store.user_frame(q.text, q.bind(params))
        else:
            frame = store.user_frame(query, params)
    _render(frame, fmt, out)


@app.command()
@handle_errors
def generate(
    out: Annotated[Path, typer.Argument(help="File to write (.jsonl, .jsonl.gz, .csv or .parquet).")],
    rows: Annotated[int, typer.Option("--rows", "-n", help="How many requests.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Same seed, same file.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="anthropic, batch, canonical-csv, canonical-jsonl or canonical-parquet.")] = "anthropic",
    start: Annotated[str, typer.Option(help="First day of traffic (YYYY-MM-DD).")] = "2026-11-02",
    days: Annotated[int, typer.Option(help="Days of traffic.")] = 14,
) -> None:
    """Write a seeded, realistic production log (for trying costlab, tests and benchmarks)."""
    from costlab.generate import generate as gen
    from costlab.progress import stderr

    n = gen(out, rows, seed=seed, fmt=fmt, start=start, days=days)
    stderr.print(f"wrote {n:,} requests to {out}", highlight=False, markup=False)


@prices_app.command("list")
@handle_errors
def prices_list(
    at: Annotated[Optional[str], typer.Option(help="Prices in force on this day (default: now).")] = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Every model's price in force, $/MTok (Claude API, standard tier, global)."""
    from costlab import pricing

    with _open(db, config) as store:
        frame = pricing.list_prices(store, _day(at, "--at"))
    _render(frame, fmt, out, title="Prices, USD per million tokens")


@prices_app.command("show")
@handle_errors
def prices_show(
    model: Annotated[str, typer.Argument(help="A model id in any spelling (Bedrock, Vertex, dated snapshot, ...).")],
    fmt: FormatOption = "table",
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """One model: its catalogue entry, aliases and full price history with sources."""
    from costlab import pricing

    with _open(db, config) as store:
        parts = pricing.show_model(store, model)
    for title, frame in parts.items():
        if not frame.is_empty():
            _render(frame, fmt, None, title=title)


@prices_app.command("check")
@handle_errors
def prices_check(
    fmt: FormatOption = "table",
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Exit non-zero while any request has no price (its cost would be unknown, not zero)."""
    from costlab import pricing
    from costlab.errors import UnpricedError

    with _open(db, config) as store:
        frame = pricing.unpriced(store)
        total = store.scalar("select count(*) from requests")
    if frame.is_empty():
        typer.echo(f"All {total:,} requests are priced.", err=True)
        return
    _render(frame, fmt, None, title="Unpriced requests")
    n = int(frame["requests"].sum())
    raise UnpricedError(
        f"{n:,} of {total:,} requests have no price. Add the model to costlab.toml ([[models]] and "
        "[[prices]]) or run `costlab prices import model_prices_and_context_window.json`."
    )


@prices_app.command("import")
@handle_errors
def prices_import(
    file: Annotated[Path, typer.Argument(help="LiteLLM's model_prices_and_context_window.json.")],
    valid_from: Annotated[Optional[str], typer.Option(help="Day the imported prices take effect (default: always).")] = None,
    override: Annotated[bool, typer.Option(help="Also replace catalogue prices (default: add missing models only).")] = False,
    fmt: FormatOption = "table",
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Import prices in LiteLLM's price-map format."""
    from costlab import pricing

    with _open(db, config) as store:
        frame = pricing.import_litellm(store, file, _day(valid_from, "--valid-from"), override=override)
    _render(frame, fmt, None, title=f"Imported {frame.height} price rows")


def _register_command_groups() -> None:
    # Each module in costlab/commands adds its own commands (see costlab/commands/__init__.py).
    from costlab.commands import replay, report, signals, sources, whatif

    for module in (report, signals, sources, whatif, replay):
        module.register(app)


_register_command_groups()


def main() -> None:
    from costlab.memory import prepare_process

    prepare_process()  # before numpy loads or a thread starts (OpenBLAS threads, malloc arenas)
    try:
        app()
    except Exception as ex:  # a bug, or an error no costlab code expected: its traceback, redacted
        import traceback

        _say_error("".join(traceback.format_exception(ex)).rstrip())
        raise SystemExit(int(ExitCode.ERROR)) from None


if __name__ == "__main__":
    main()
