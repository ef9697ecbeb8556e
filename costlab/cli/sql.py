"""`costlab sql`: run SQL (given, or from a query file with named parameters) over the store."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from costlab.cli.context import open_engine, write_frame
from costlab.cli.errors import handle_errors
from costlab.cli.options import ConfigOption, DbOption, EngineOption, FormatOption, LakeOption, LimitOption, MasterOption, OutOption
from costlab.errors import ConfigError, ReadOnlyStoreError


def register(app: typer.Typer) -> None:
    """Add `sql` to the app."""
    app.command("sql", short_help="Run SQL over the store: requests, costed_requests, prices and the other tables.")(sql)


@handle_errors
def sql(
    query: Annotated[Optional[str], typer.Argument(help="SQL to run (or use -F FILE).")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-F", help="Run the SQL in this file (e.g. queries/cost_by_feature.sql).")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="A named parameter, NAME=VALUE, for $NAME in the SQL.")] = None,
    write: Annotated[bool, typer.Option("--write", help="Open the store read-write, so statements may change it "
                                        "(default: read-only; readers can share the file).")] = False,
    fmt: FormatOption = "table",
    out: OutOption = None,
    limit: LimitOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    engine: EngineOption = None,
    lake: LakeOption = None,
    master: MasterOption = None,
) -> None:
    """Run SQL over the store: requests, costed_requests, payloads, prices, models, ...

    With --lake the SQL reads a lake (`costlab export`: costed_requests, requests, price_card, models)
    instead of the store; with --engine spark it runs on Apache Spark, transpiled from costlab's
    DuckDB dialect (docs/scale.md says which SQL is portable).

    The store is opened read-only unless --write is given: a statement that would change it fails,
    and `costlab sql` can run while other processes read the same file.

    \b
    Examples:
      costlab sql "select tier, sum(cost_usd) from costed_requests group by all"
      costlab sql -F queries/cost_by_feature.sql -p since=2026-11-01 --format csv
      costlab sql --write "update requests set price_version = null where model = 'x'"
      costlab sql "select * from costed_requests" --limit 200
      costlab sql -F queries/cost_by_feature.sql --engine spark --lake ./lake
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
    if file is not None and not file.exists():
        raise ConfigError(f"--file {file}: no such file")
    if write:
        from costlab.config import load_config
        from costlab.engine import resolve

        if resolve(engine, lake, master, load_config(config))[1] is not None:  # --lake or [engine] lake
            raise typer.BadParameter("--write changes the store; a lake is read-only", param_hint="--write")
    with open_engine(engine, lake, master, db, config, read_only=not write) as store:
        try:
            if file is not None and getattr(store, "kind", "duckdb") == "spark":
                frame = store.query_file(file, params)
            elif file is not None:
                q = sqlfiles.parse(file)
                frame = store.user_frame(q.text, q.bind(params))
            else:
                frame = store.user_frame(query, params)
            if write and re.search(r"(?i)\brequests\b", query if query is not None else file.read_text(encoding="utf-8")):
                from costlab import pricing
                from costlab.progress import stderr

                # an edit of the ids leaves the link keys stored with the price wrong: those rows are re-keyed
                if n := pricing.stale_keys(store):
                    stderr.print(f"{n:,} rows' request_id or parent_request_id changed: marked for re-pricing "
                                 "(their link keys are written with the price)", highlight=False, markup=False)
        except ReadOnlyStoreError as ex:
            raise ReadOnlyStoreError(f"{ex}\n`costlab sql` opens the store read-only: add --write to run "
                                     "statements that change it.") from ex
    write_frame(frame, fmt, out, limit=limit)
