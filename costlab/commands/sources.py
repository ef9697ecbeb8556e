"""`costlab reconcile` and `costlab pull-usage`: the provider's own figures against costlab's.

The work lives in costlab.reconcile and costlab.ingest.usage_api; this module parses options, calls them
and renders.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from costlab.cli import ConfigOption, DbOption, FormatOption, OutOption, _day, _open, _render, handle_errors
from costlab.errors import ConfigError, ExitCode

FLAGGED_EXIT = int(ExitCode.FINDINGS)  # the command ran, and found something to look at


def register(app: typer.Typer) -> None:
    """Add `reconcile` and `pull-usage` to the costlab app."""
    app.command("reconcile")(reconcile)
    app.command("pull-usage")(pull_usage)


@handle_errors
def reconcile(
    since: Annotated[Optional[str], typer.Option(help="First day, inclusive (YYYY-MM-DD).")] = None,
    until: Annotated[Optional[str], typer.Option(help="Last day, exclusive (YYYY-MM-DD).")] = None,
    tolerance: Annotated[float, typer.Option(help="Relative gap beyond which a row is flagged (0.01 = 1%).")] = 0.01,
    fmt: FormatOption = "table",
    out: OutOption = None,
    all_rows: Annotated[bool, typer.Option("--all", help="Show every row, not only the flagged ones (table format).")] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Computed cost and logged tokens against the Admin API reports and gateways' reported cost.

    Per day x model x service tier. Exits 5 when any row is beyond the tolerance.

    \b
    Example:
      costlab pull-usage --since 2026-11-01 --until 2026-11-08
      costlab reconcile --since 2026-11-01 --until 2026-11-08 --format json
    """
    from costlab.reconcile import reconcile as run

    with _open(db, config) as store:
        result = run(store, since=_day(since, "--since"), until=_day(until, "--until"), tolerance=tolerance)
    if fmt == "json":
        text = json.dumps(result.to_json(), indent=2)
        if out:
            out.write_text(text + "\n", encoding="utf-8")
        else:
            typer.echo(text)
    else:
        frame = result.rows
        if fmt == "table" and not all_rows and result.flagged:
            frame = frame.filter(frame["flagged"])
        _render(frame, fmt, out, title=f"Reconciliation (tolerance {tolerance:.1%}; {result.flagged} flagged)")
    if result.flagged:
        typer.echo(f"{result.flagged} of {result.rows.height} rows beyond the {tolerance:.1%} tolerance", err=True)
        raise typer.Exit(FLAGGED_EXIT)


@handle_errors
def pull_usage(
    since: Annotated[str, typer.Option(help="First day, inclusive (YYYY-MM-DD).")],
    until: Annotated[Optional[str], typer.Option(help="Last day, exclusive (YYYY-MM-DD). [default: tomorrow, UTC]", show_default=False)] = None,
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="Admin API base URL. [env: ANTHROPIC_BASE_URL; default https://api.anthropic.com]", show_default=False)] = None,
    save: Annotated[Optional[Path], typer.Option("--save", help="Also write the fetched pages as JSON lines into this folder.")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Fetch the Admin API usage and cost reports into usage_buckets (needs ANTHROPIC_ADMIN_KEY).

    \b
    Example:
      ANTHROPIC_ADMIN_KEY=sk-ant-admin... costlab pull-usage --since 2026-11-01 --until 2026-11-08
    """
    from costlab.ingest.usage_api import pull

    from costlab.keys import env_key

    key = env_key("ANTHROPIC_ADMIN_KEY")  # stripped and checked: a line break in it would be quoted in an error
    if not key:
        raise ConfigError("pull-usage needs an Admin API key in ANTHROPIC_ADMIN_KEY (sk-ant-admin...; "
                          "Console > Settings > Admin keys)")
    start = _iso_day(since, "--since")
    end = _iso_day(until, "--until") if until else (datetime.now(timezone.utc).date() + timedelta(days=1))
    if end <= start:
        raise typer.BadParameter(f"must be after --since ({start})", param_hint="--until")
    url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
    with _open(db, config) as store:
        result, n_usage, n_cost = pull(store, key, start.isoformat(), end.isoformat(), base_url=url, save_dir=save)
    typer.echo(f"✓ usage report: {n_usage} pages, cost report: {n_cost} pages; {result.rows_added:,} buckets loaded, "
               f"{result.rows_rejected:,} rejected", err=True)


def _iso_day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected a date like 2026-11-16, got {value!r}", param_hint=flag) from None
