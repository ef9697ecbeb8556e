"""What a command gets from its flags: the open store (--db, --config), days (--since, --until, ...)
and a frame written in the chosen --format (costlab.frames).

Library modules are imported inside these functions, as in the commands (see costlab/cli/__init__.py).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import typer


def open_store(db: Path | None, config: Path | None, read_only: bool = False):
    """The store from --db and --config (costlab.open.open_store: migrated, prices current).

    Read-only, it cannot apply new prices: when costlab.toml's prices changed since the last
    read-write open, a note on stderr says so rather than report at the old prices in silence.
    """
    from costlab.config import load_config
    from costlab.open import open_store as open_configured

    store = open_configured(db, load_config(config), read_only=read_only)
    if read_only:
        from costlab import pricing
        from costlab.progress import stderr

        if pricing.outdated(store, store.config):
            stderr.print(f"note: the prices, models or discounts in costlab.toml changed since {store.path} was "
                         "last opened read-write, so this command uses the prices as of then. Run "
                         "`costlab prices check` once to apply them (it re-prices the stored requests).",
                         highlight=False, markup=False)
    return store


def calendar_day(value: str | None, flag: str) -> date | None:
    """A YYYY-MM-DD flag as a date (None when not given); a usage error (exit 2) naming `flag` otherwise."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected a date like 2026-11-16, got {value!r}", param_hint=flag) from None


def day(value: str | None, flag: str, tz: str = "UTC") -> datetime | None:
    """A YYYY-MM-DD flag as midnight that day in the time zone `tz` (default UTC; None when not given)."""
    first = calendar_day(value, flag)
    if first is None:
        return None
    zone = timezone.utc if tz == "UTC" else ZoneInfo(tz)
    return datetime.combine(first, datetime.min.time(), tzinfo=zone)


def time_zone(flag: str | None, config: Path | None) -> str:
    """--tz, else costlab.toml [report] timezone, else UTC; a ConfigError for a name that is no time zone."""
    from costlab.config import load_config, resolve_timezone

    return resolve_timezone(flag, load_config(config))


def output_format(fmt: str, out: Path | None) -> str:
    """--format's name, checked before any work is done: an unknown name is a ConfigError with a suggestion
    (costlab.frames.as_format), and a binary format (parquet) needs a file (--out)."""
    from costlab import frames
    from costlab.errors import ConfigError

    name = frames.as_format(fmt).value
    if frames.FORMATS[name].binary and frames.is_stdout(out):
        raise ConfigError(f"--format {name} is a binary format and cannot go to the terminal: "
                          f"give a file with --out FILE.{name}")
    return name


def write_frame(frame, fmt: str, out: Path | None, title: str | None = None, limit: int | None = None) -> None:
    """Write a polars frame to stdout or --out in --format (costlab.frames.write); `limit` is --limit
    (None: 50 rows in a table on a terminal, all otherwise)."""
    from costlab import frames

    frames.write(frame, fmt, out=out, title=title, limit=limit)


def open_engine(engine: str | None, lake: Path | None, master: str | None, db: Path | None, config: Path | None,
                read_only: bool = False):
    """The store (no --engine or --lake: as open_store), DuckDB over --lake, or Spark over
    --lake (costlab.engine); the choice falls back on costlab.toml [engine]."""
    from costlab.config import load_config

    settings = load_config(config)
    if engine is None and lake is None and not settings.engine:
        # the store: costlab.engine (and sqlglot, tens of MB) is never loaded for it
        return open_store(db, config, read_only=read_only)
    from costlab.engine import open_engine as open_any, resolve

    kind, lake, master = resolve(engine, lake, master, settings)
    if kind == "duckdb" and lake is None:
        return open_store(db, config, read_only=read_only)
    return open_any(kind, lake=lake, master=master, config=settings)
