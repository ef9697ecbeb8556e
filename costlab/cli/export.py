"""`costlab export DEST`: the store's costed requests as a lake (costlab.lake, docs/lake.md)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from costlab.cli.context import calendar_day, day, open_store
from costlab.cli.errors import handle_errors
from costlab.cli.options import ConfigOption, DbOption


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
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Write the costed requests as Parquet, one file per UTC day (Hive: requests/day=YYYY-MM-DD/),
    with the price tables beside them and a manifest: a lake DuckDB, polars, Spark or a BI tool reads.

    Run it again to bring the lake up to date: only the days whose requests or prices changed are
    written again (each day replaced whole), days the store no longer has are removed, and days
    outside --since/--until are not touched. Progress and the summary line go to stderr.

    \b
    Examples:
      costlab export lake/
      costlab export s3://bucket/costlab-lake --since 2026-11-01
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
