"""`costlab pull-usage`: fetch the Admin API usage and cost reports into usage_buckets
(costlab.ingest.usage_api), for `costlab reconcile` to compare with."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from costlab.cli.context import calendar_day, open_store
from costlab.cli.errors import handle_errors
from costlab.cli.options import ConfigOption, DbOption
from costlab.errors import ConfigError
from costlab.keys import env_key


def register(app: typer.Typer) -> None:
    """Add `pull-usage` to the app."""
    app.command("pull-usage")(pull_usage)


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

    key = env_key("ANTHROPIC_ADMIN_KEY")  # stripped and checked: a line break in it would be quoted in an error
    if not key:
        raise ConfigError("pull-usage needs an Admin API key in ANTHROPIC_ADMIN_KEY (sk-ant-admin...; "
                          "Console > Settings > Admin keys)")
    start = calendar_day(since, "--since")
    end = calendar_day(until, "--until") if until else (datetime.now(timezone.utc).date() + timedelta(days=1))
    if end <= start:
        raise typer.BadParameter(f"must be after --since ({start})", param_hint="--until")
    url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
    with open_store(db, config) as store:
        result, n_usage, n_cost = pull(store, key, start.isoformat(), end.isoformat(), base_url=url, save_dir=save)
    typer.echo(f"✓ usage report: {n_usage} pages, cost report: {n_cost} pages; {result.rows_added:,} buckets loaded, "
               f"{result.rows_rejected:,} rejected", err=True)
