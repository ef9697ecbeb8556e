"""`costlab prices list | show | check | import`: the price catalogue (costlab.pricing)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from costlab.cli.context import day, open_store, output_format, write_frame
from costlab.cli.errors import handle_errors
from costlab.cli.helptext import Group
from costlab.cli.options import ConfigOption, DbOption, FormatOption, OutOption
from costlab.display import plural
from costlab.errors import UnpricedError


def register(app: typer.Typer) -> None:
    """Add the `prices` group (list, show, check, import) to the app."""
    prices_app = typer.Typer(help="The price catalogue: list, show, check and import prices.", rich_markup_mode=None,
                             no_args_is_help=True, cls=Group)
    app.add_typer(prices_app, name="prices")
    prices_app.command("list")(prices_list)
    prices_app.command("show")(prices_show)
    prices_app.command("check")(prices_check)
    prices_app.command("import")(prices_import)


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

    with open_store(db, config) as store:
        frame = pricing.list_prices(store, day(at, "--at"))
    write_frame(frame, fmt, out, title="Prices, USD per million tokens")


@handle_errors
def prices_show(
    model: Annotated[str, typer.Argument(help="A model id in any spelling (Bedrock, Vertex, dated snapshot, ...).")],
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """One model: its catalogue entry, aliases and full price history with sources.

    In table and markdown, a titled table for each; in csv, json, jsonl and parquet, the price history.
    """
    from costlab import frames, pricing

    fmt = output_format(fmt, out)
    with open_store(db, config) as store:
        parts = pricing.show_model(store, model)
    shown = {title: frame for title, frame in parts.items() if not frame.is_empty()}
    frames.write_sections(shown, fmt, out, long=parts["prices"])


@handle_errors
def prices_check(
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Exit non-zero while any request has no price (its cost would be unknown, not zero)."""
    from costlab import frames, pricing

    fmt = output_format(fmt, out)
    with open_store(db, config) as store:
        frame = pricing.unpriced(store)
        total = store.scalar("select count(*) from requests")
    if frame.is_empty():
        typer.echo(f"All {total:,} requests are priced.", err=True)
        if not frames.FORMATS[fmt].for_people or not frames.is_stdout(out):  # an empty answer: [], a CSV header
            write_frame(frame, fmt, out, title="Unpriced requests")
        return
    write_frame(frame, fmt, out, title="Unpriced requests")
    n = int(frame["requests"].sum())
    raise UnpricedError(
        f"{n:,} of {total:,} requests have no price. Add the model to costlab.toml ([[models]] and "
        "[[prices]]) or run `costlab prices import model_prices_and_context_window.json`."
    )


@handle_errors
def prices_import(
    file: Annotated[Path, typer.Argument(help="LiteLLM's model_prices_and_context_window.json.")],
    valid_from: Annotated[Optional[str], typer.Option(help="Day the imported prices take effect (default: always).")] = None,
    override: Annotated[bool, typer.Option(help="Also replace catalogue prices (default: add missing models only).")] = False,
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Import prices in LiteLLM's price-map format."""
    from costlab import pricing

    with open_store(db, config) as store:
        frame = pricing.import_litellm(store, file, day(valid_from, "--valid-from"), override=override)
    write_frame(frame, fmt, out, title=f"Imported {plural(frame.height, 'price row')}")
