"""`costlab generate`: write a seeded synthetic log (costlab.generate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costlab.cli.errors import handle_errors


def register(app: typer.Typer) -> None:
    """Add `generate` to the app."""
    app.command("generate")(generate)


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
