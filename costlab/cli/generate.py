"""`costlab generate`: write a seeded synthetic log (costlab.generate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from costlab.cli.errors import handle_errors
from costlab.errors import ConfigError
from costlab.display import plural


def register(app: typer.Typer) -> None:
    """Add `generate` to the app."""
    app.command("generate")(generate)


@handle_errors
def generate(
    out: Annotated[Path, typer.Argument(help="File to write (.jsonl, .jsonl.gz, .csv or .parquet).")],
    rows: Annotated[int, typer.Option("--rows", "-n", help="How many requests.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Same seed, same file.")] = 0,
    fmt: Annotated[Optional[str], typer.Option("--format", help="anthropic, batch, canonical-csv, canonical-jsonl or canonical-parquet. [default: from OUT's extension: .parquet canonical-parquet, .csv canonical-csv, else anthropic]", show_default=False)] = None,
    start: Annotated[str, typer.Option(help="First day of traffic (YYYY-MM-DD).")] = "2026-11-02",
    days: Annotated[int, typer.Option(help="Days of traffic.")] = 14,
    mix: Annotated[Optional[str], typer.Option(help="Haiku/Sonnet/Opus share of first attempts in percent, summing to 100: haiku=45,sonnet=40,opus=15. [default: 60/32/8]", show_default=False)] = None,
    pattern: Annotated[Optional[list[str]], typer.Option("--pattern", help="Add a pattern the detectors should find (repeatable): over-modeling, rate-limited-top-tier, cost-per-user-growth, escalation-spike, nightly-batch, or all of those; task-mix-shift (the last week's task mix moves: route_drift) only by name.", show_default=False)] = None,
) -> None:
    """Write a seeded, realistic production log (for trying costlab, tests and benchmarks).

    \b
    Examples:
      costlab generate logs.jsonl.gz --rows 100000 --seed 7
      costlab generate demo.parquet --format canonical-parquet --rows 80000 --seed 13 --mix haiku=45,sonnet=40,opus=15 --pattern all
    """
    from costlab.generate import ALL_PATTERNS, PATTERNS
    from costlab.generate import generate as gen
    from costlab.progress import rows_bar, stderr

    shares = None
    if mix is not None:
        try:
            parts = dict(part.split("=", 1) for part in mix.split(","))
            shares = {k.strip(): float(v) for k, v in parts.items()}
        except ValueError:
            raise typer.BadParameter(f"expected haiku=N,sonnet=N,opus=N, got {mix!r}", param_hint="--mix") from None
        if abs(sum(shares.values()) - 100) > 1e-9:
            raise typer.BadParameter(f"the shares sum to {sum(shares.values()):g}, not 100", param_hint="--mix")
    named = [p for p in (pattern or []) if p != "all"]
    patterns = list(dict.fromkeys([*PATTERNS, *named])) if pattern and "all" in pattern else named
    for name in patterns:
        if name not in ALL_PATTERNS:
            raise typer.BadParameter(f"no pattern {name!r}; choose from {', '.join(ALL_PATTERNS)} or all", param_hint="--pattern")
    try:
        with rows_bar(rows, f"generate {out}") as bar:  # DuckDB's progress of the one COPY: rows written so far
            n = gen(out, rows, seed=seed, fmt=fmt, start=start, days=days, mix=shares, patterns=tuple(patterns),
                    on_progress=(lambda fraction: bar.to(round(fraction * rows))) if bar.shown else None)
    except ValueError as ex:  # a format the file name contradicts, a start before any model of a tier, ...
        raise ConfigError(str(ex)) from ex
    stderr.print(f"wrote {plural(n, 'request')} to {out}", highlight=False, markup=False)
