"""`costlab export DEST`: the store's costed requests as a lake (costlab.lake, docs/lake.md)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from costlab.cli.context import calendar_day, day, open_store
from costlab.cli.errors import handle_errors
from costlab.cli.options import ConfigOption, DbOption, MasterOption


def register(app: typer.Typer) -> None:
    """Add `export` to the app."""
    app.command("export")(export)


@handle_errors
def export(
    dest: Annotated[str, typer.Argument(help="A folder, or s3://bucket/prefix.", metavar="DEST", show_default=False)],
    since: Annotated[Optional[str], typer.Option("--since", help="First UTC day, inclusive (YYYY-MM-DD). [default: the plausible window's]", show_default=False)] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Last UTC day, exclusive (YYYY-MM-DD). [default: the plausible window's]", show_default=False)] = None,
    full: Annotated[bool, typer.Option("--full", help="Write every day of the window again, changed or not.")] = False,
    endpoint_url: Annotated[Optional[str], typer.Option("--endpoint-url", help="S3-compatible endpoint for an s3:// DEST. [env: AWS_ENDPOINT_URL_S3]", show_default=False)] = None,
    price: Annotated[bool, typer.Option("--price", help="Price the lake DEST in place instead: days another process appended without costs, and days priced under an older price card (the store's prices).")] = False,
    engine: Annotated[Optional[str], typer.Option("--engine", help="With --price: duckdb (here) or spark (needs costlab[spark] and Java 17+). [default: costlab.toml [engine] kind, else duckdb]", show_default=False)] = None,
    master: MasterOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Write the costed requests as Parquet, one file per UTC day (Hive: requests/day=YYYY-MM-DD/),
    with the price tables beside them and a manifest: a lake DuckDB, polars, Spark or a BI tool reads.

    Run it again to bring the lake up to date: only the days whose requests or prices changed are
    written again (each day replaced whole), days the store no longer has are removed, and days
    outside --since/--until are not touched. Progress and the summary line go to stderr.

    With --price, DEST is a lake other processes append days to (the canonical request columns, no
    costs): those days, and days priced under an older price card, are priced with the store's prices
    by the same pricing SQL on DuckDB or --engine spark, and only the days that changed are written.

    \b
    Examples:
      costlab export lake/
      costlab export s3://bucket/costlab-lake --since 2026-11-01
      costlab export lake/ --price --engine spark
    """
    from costlab import plausible
    from costlab.display import plural
    from costlab.lake import export_lake
    from costlab.progress import stderr

    first, last = calendar_day(since, "--since"), calendar_day(until, "--until")
    if first and last and first >= last:
        raise typer.BadParameter(f"{last} is not after --since ({first})", param_hint="--until")

    def note(text: str) -> None:
        stderr.print(text, highlight=False, markup=False)

    if price:
        _price(dest, first, last, full, engine, master, db, config, note)
        return
    if engine or master:
        raise typer.BadParameter("--engine and --master choose where --price runs; export itself reads the store",
                                 param_hint="--engine")

    with open_store(db, config) as store:
        result = export_lake(store, dest, first, last, full=full, endpoint_url=endpoint_url, on_note=note)
        # Requests the default window leaves out (a timestamp outside [ingest] earliest/latest) are said, not lost in silence.
        outside = plausible.default_window(store, day(since, "--since"), day(until, "--until"))[2]
    if outside:
        note(f"note: {outside}")
    if result.resumed:
        note("note: an earlier export into this lake had not finished; its days were written again")
    tables = f"; {plural(len(result.tables_written), 'table')} written" if result.tables_written else ""
    state = "" if result.changed else " (up to date: nothing written)"
    note(f"lake {result.dest}: {plural(len(result.written), 'day')} written ({plural(result.rows_written, 'request')}), "
         f"{result.unchanged:,} unchanged, {len(result.removed):,} removed{tables}{state}; "
         f"days {result.since} to {result.until} (UTC, until exclusive)")


def _price(dest, first, last, full, engine, master, db, config, note) -> None:
    """`costlab export LAKE --price`: costlab.engine.lakeprice with the store's prices."""
    from costlab.config import load_config
    from costlab.display import plural
    from costlab.engine import engine_settings
    from costlab.engine.lakeprice import price_lake

    section = engine_settings(load_config(config))
    kind = (engine or section.get("kind") or "duckdb").lower()
    master = master or section.get("master") or "local[2]"
    # Read-write, as export: the open brings the store's prices up to costlab.toml's.
    with open_store(db, config) as store:
        result = price_lake(store, dest, kind=kind, master=master, since=first, until=last, full=full, on_note=note)
    if result.resumed:
        note("note: an earlier run on this lake had not finished; its days were priced again")
    tables = f"; {plural(len(result.tables_written), 'table')} written" if result.tables_written else ""
    checked = f", {plural(len(result.checked), 'day')} re-priced with no change" if result.checked else ""
    state = "" if result.changed else " (up to date: nothing written)"
    note(f"lake {result.lake}: {plural(len(result.written), 'day')} priced on {result.engine} and written "
         f"({plural(result.rows_written, 'request')}){checked}, {result.unchanged:,} unchanged{tables}{state}")
