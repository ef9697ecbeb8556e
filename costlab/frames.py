"""Frames out: the ONE vocabulary of output formats for every table costlab prints or writes.

`FORMATS` is the registry: a format's name (what `--format` takes) -> its `Writer` (the function that
turns a polars frame into text or bytes, and what kind of output it makes). Every command that prints
rows (sql, summary, signals, whatif, prices, replay, reconcile) goes through it; adding a format is one
function below and one line in `FORMATS` (docs/architecture.md, "Adding an output format").

This module writes data and nothing else: it never touches stderr (warnings and progress belong to
the CLI), so `costlab ... --format csv > out.csv` is always a clean file.

How values come out, per format:

    format     for        DECIMAL (money)                      NULL       timestamps
    table      reading    2 to 6 decimals, thousands separators  —          2026-11-16 09:00:00
    markdown   reading    as in table                            —          as in table
    csv        programs   every digit of the scale ("0.001250")  empty      2026-11-16T09:00:00+00:00 (ISO 8601)
    json       programs   a string with every digit ("0.001250") null       as in csv
    jsonl      programs   as in json, one object per line        null       as in json
    parquet    programs   DECIMAL(p,s), exact                    null       TIMESTAMP with time zone

json and jsonl write money as strings on purpose: most JSON readers turn numbers into binary floats,
and 0.1 + 0.2 is not a price. `decimal.Decimal(row["cost_usd"])` (or `pl.col(...).cast(pl.Decimal)`)
gets the exact value back. Integers and floats stay JSON numbers.

The table format fits the terminal width (or `width`): when a frame has more columns than fit, it is
printed as several tables one under the other, each repeating the leading label columns (day, model,
feature, ...), instead of squeezing every header into a vertical stripe.

table and markdown are for people: every value and header is shown literally (costlab.display), so
markup, terminal escape sequences and HTML in the data stay text. csv, json, jsonl and parquet keep
the data exactly as it is.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Mapping

import polars as pl

from costlab.display import console, markdown_text, visible
from costlab.errors import ConfigError, did_you_mean

NULL = "—"
FILE_WIDTH = 100  # width of a table written to a file, where there is no terminal to measure
MAX_TEXT_WIDTH = 40  # longer strings are cut with an ellipsis in table output
MAX_DECIMALS = 6


def is_stdout(out: str | Path | None) -> bool:
    return out is None or str(out) == "-"


def default_width(out: str | Path | None) -> int:
    """The terminal's width (COLUMNS, else the tty, else 80) for stdout; FILE_WIDTH for a file."""
    if not is_stdout(out):
        return FILE_WIDTH
    from rich.console import Console

    return Console(file=sys.stdout).width


def emit(text: str, out: str | Path | None = None) -> None:
    """Write text to stdout (out None or "-") or to the file `out` (UTF-8, parent folders created)."""
    if is_stdout(out):
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        _prepare(out).write_text(text, encoding="utf-8")


# -- data formats ------------------------------------------------------------------------------
def csv(df: pl.DataFrame, title: str | None = None, width: int = 0) -> str:
    """Comma-separated, a header line, money with every digit of its scale, NULL as empty."""
    return _exact(df).write_csv()


def json(df: pl.DataFrame, title: str | None = None, width: int = 0) -> str:
    """One JSON array of objects (money as exact strings), ending in a newline."""
    return _exact(df).write_json() + "\n"


def jsonl(df: pl.DataFrame, title: str | None = None, width: int = 0) -> str:
    """One JSON object per line (empty for no rows)."""
    return _exact(df).write_ndjson()


def parquet(df: pl.DataFrame, title: str | None = None, width: int = 0) -> bytes:
    """A Parquet file's bytes: DECIMAL and time zones kept exactly."""
    buffer = io.BytesIO()
    df.write_parquet(buffer)
    return buffer.getvalue()


def _exact(df: pl.DataFrame) -> pl.DataFrame:
    """Decimals as strings carrying every digit of their scale, so no writer rounds them; timestamps
    as ISO 8601 strings, the same in csv, json and jsonl (`_iso_timestamps`)."""
    decimals = [name for name, dtype in df.schema.items() if isinstance(dtype, pl.Decimal)]
    exact = df.with_columns(pl.col(decimals).cast(pl.String)) if decimals else df
    return _iso_timestamps(exact)


def _iso_timestamps(df: pl.DataFrame) -> pl.DataFrame:
    """Each Datetime column as ISO 8601 text: `2026-11-16T09:00:00+00:00` (the offset with a colon, in the
    column's own time zone; none for a naive column), with `.ffffff` microseconds on every value of a
    column where any value has a fraction of a second, so one column reads one way throughout."""
    stamps = [name for name, dtype in df.schema.items() if isinstance(dtype, pl.Datetime)]
    if not stamps:
        return df
    converted = []
    for name in stamps:
        column = df.get_column(name)
        pattern = "%Y-%m-%dT%H:%M:%S"
        if (column.dt.nanosecond() != 0).any():
            pattern += "%.6f"
        if column.dtype.time_zone is not None:  # type: ignore[union-attr]
            pattern += "%:z"
        converted.append(pl.col(name).dt.to_string(pattern))
    return df.with_columns(converted)


# -- reading formats ---------------------------------------------------------------------------
def display_columns(df: pl.DataFrame) -> dict[str, list[str]]:
    """Every column formatted for reading: one string per value, control characters visible()."""
    return {name: _display(df.get_column(name)) for name in df.columns}


def _display(series: pl.Series) -> list[str]:
    dtype = series.dtype
    values = series.to_list()
    if isinstance(dtype, pl.Decimal):
        places = _decimal_places(values, dtype.scale or 0)
        quantum = Decimal(1).scaleb(-places)
        return [NULL if v is None else f"{v.quantize(quantum, rounding=ROUND_HALF_UP):,.{places}f}" for v in values]
    if dtype.is_integer():
        return [NULL if v is None else f"{v:,}" for v in values]
    if dtype.is_float():
        return [NULL if v is None else _float(v) for v in values]
    if isinstance(dtype, pl.Datetime):
        pattern = "%Y-%m-%d %H:%M:%S" if dtype.time_zone in (None, "UTC") else "%Y-%m-%d %H:%M:%S%z"
        if (series.dt.microsecond() != 0).any():
            pattern = pattern.replace("%S", "%S.%f")
        return [NULL if v is None else v.strftime(pattern) for v in values]
    if dtype == pl.Boolean:
        return [NULL if v is None else ("true" if v else "false") for v in values]
    return [NULL if v is None else visible(" ".join(str(v).split())) for v in values]


def _decimal_places(values: list[Decimal | None], scale: int) -> int:
    """The fewest decimals that show every value exactly, kept between 2 and 6 (never above the scale)."""
    needed = 0
    for v in values:
        if v is not None and v == v and v != 0:
            needed = max(needed, -min(0, int(v.normalize().as_tuple().exponent)))
    return min(scale, max(2, min(needed, MAX_DECIMALS)))


def _float(v: float) -> str:
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return str(v)
    if v == 0:
        return "0"
    if abs(v) < 0.001:
        return f"{v:.3e}"
    if abs(v) < 1000:
        return f"{v:.4f}".rstrip("0").rstrip(".")
    return f"{v:,.1f}"


def _is_number(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or isinstance(dtype, pl.Decimal)


def table(df: pl.DataFrame, title: str | None = None, width: int = FILE_WIDTH) -> str:
    """A rich table as plain text no wider than `width` (split into column groups when needed)."""
    from rich import box
    from rich.table import Table

    cells = display_columns(df)
    headers = {name: visible(" ".join(name.split())) for name in df.columns}
    numeric = {name: _is_number(dtype) for name, dtype in df.schema.items()}
    widths = {
        name: max([len(headers[name])] + [len(c) for c in cells[name]]) if numeric[name]
        else min(max([len(headers[name])] + [len(c) for c in cells[name]]), MAX_TEXT_WIDTH)
        for name in df.columns
    }
    out = io.StringIO()
    printer = console(file=out, width=width, color_system=None)
    groups = _column_groups(df.columns, widths, numeric, width)
    for i, group in enumerate(groups):
        t = Table(
            title=title if i == 0 else None,
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            caption="(no rows)" if df.height == 0 and i == len(groups) - 1 else None,
        )
        for name in group:
            t.add_column(
                headers[name],
                justify="right" if numeric[name] else "left",
                no_wrap=True,
                overflow="ellipsis",
                max_width=min(widths[name], max(width - 2, 1)),
            )
        for row in zip(*(cells[name] for name in group)):
            t.add_row(*row)
        if i:
            printer.print()
        printer.print(t)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def _column_groups(columns: list[str], widths: dict[str, int], numeric: dict[str, bool], width: int) -> list[list[str]]:
    """Split columns into groups that each fit `width`; each group repeats the leading label columns."""
    cost = {name: widths[name] + 3 for name in columns}  # one space of padding each side, one divider
    if not columns or sum(cost.values()) - 3 <= width:
        return [list(columns)]
    labels: list[str] = []
    for name in columns[:2]:
        if numeric[name] or sum(cost[n] for n in labels) + cost[name] > width // 2:
            break
        labels.append(name)
    groups: list[list[str]] = []
    current = list(labels)
    for name in columns[len(labels):]:
        if len(current) > len(labels) and sum(cost[n] for n in current) + cost[name] - 3 > width:
            groups.append(current)
            current = list(labels)
        current.append(name)
    groups.append(current)
    return groups


def markdown(df: pl.DataFrame, title: str | None = None, width: int = 0) -> str:
    """A GitHub-flavoured Markdown table, numbers right-aligned, values formatted as in table (any width)."""
    cells = display_columns(df)
    numeric = [_is_number(dtype) for dtype in df.schema.values()]

    def row(values: list[str]) -> str:
        return "| " + " | ".join(markdown_text(v) for v in values) + " |"

    lines = [f"### {markdown_text(title)}", ""] if title else []
    lines.append(row(df.columns))
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    lines.extend(row(list(values)) for values in zip(*(cells[name] for name in df.columns)))
    return "\n".join(lines) + "\n"


# -- the registry ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Writer:
    """One output format: `write(df, title, width)` returns its text (or bytes, when `binary`)."""

    write: Callable[[pl.DataFrame, str | None, int], str | bytes]
    for_people: bool = False  # titles shown, values formatted for reading; else the exact data for programs
    binary: bool = False  # bytes, written to a file (--out) and never to the terminal


FORMATS: dict[str, Writer] = {
    "table": Writer(table, for_people=True),
    "csv": Writer(csv),
    "json": Writer(json),
    "jsonl": Writer(jsonl),
    "parquet": Writer(parquet, binary=True),
    "markdown": Writer(markdown, for_people=True),
}

# The registry's names as a str enum, for code that likes attribute access: Format.csv == "csv".
Format = Enum("Format", [(name, name) for name in FORMATS], type=str)
Format.__doc__ = "The output formats every command that prints rows accepts (the names in FORMATS)."


def text_formats() -> list[str]:
    """The formats that can go to the terminal (every one but the binary ones), in registry order."""
    return [name for name, writer in FORMATS.items() if not writer.binary]


def as_format(fmt: Format | str) -> Format:
    """A Format from its name, with a suggestion when the name is misspelt."""
    if isinstance(fmt, Format):
        return fmt
    try:
        return Format(str(fmt).lower())
    except ValueError:
        names = list(FORMATS)
        raise ConfigError(f"unknown format {fmt!r}.{did_you_mean(str(fmt), names)} Choose one of: {', '.join(names)}.") from None


def write(
    df: pl.DataFrame,
    fmt: Format | str = Format.table,
    out: str | Path | None = None,
    title: str | None = None,
    *,
    width: int | None = None,
) -> None:
    """Write `df` to stdout, or to the file `out`, in format `fmt`.

    Args:
        df: the rows.
        fmt: a name in FORMATS (or its Format).
        out: a file path; None or "-" means stdout. Parent folders are created.
        title: shown above table and markdown output; data formats (csv, json, ...) ignore it so
            their output stays parseable.
        width: table width in characters; default the terminal's for stdout, 100 for a file.

    Raises:
        ConfigError: a binary format (parquet) without a file to write to, or an unknown format name.
    """
    name = as_format(fmt).value
    if FORMATS[name].binary:
        if is_stdout(out):
            raise ConfigError(f"{name} is a binary format and cannot go to the terminal: give a file with --out FILE.{name}")
        _prepare(out).write_bytes(FORMATS[name].write(df, title, FILE_WIDTH))
        return
    emit(to_text(df, name, title, width=width or default_width(out)), out)


def to_text(df: pl.DataFrame, fmt: Format | str = Format.table, title: str | None = None, *, width: int | None = None) -> str:
    """The text `write` would write, as a string ending in a newline (empty for an empty jsonl).

    Raises:
        ConfigError: for a binary format (parquet), which is not text.
    """
    name = as_format(fmt).value
    if FORMATS[name].binary:
        raise ConfigError(f"{name} is a binary format: write it to a file with --out")
    return FORMATS[name].write(df, title, width or FILE_WIDTH)


def write_sections(
    sections: Mapping[str, pl.DataFrame],
    fmt: Format | str = Format.table,
    out: str | Path | None = None,
    *,
    long: pl.DataFrame,
    titles: Mapping[str, str] | None = None,
    width: int | None = None,
) -> None:
    """Several frames as one output: a titled table per section in a format for people, else `long`
    (every section's rows as one frame, e.g. with a `section` column) in the data format.

    Args:
        sections: section name -> its frame.
        long: the one frame the data formats write (every section's rows, told apart by a column).
        titles: section name -> the title shown above it (default: the name).
    """
    name = as_format(fmt).value
    if not FORMATS[name].for_people:
        write(long, name, out)
        return
    emit(sections_to_text(sections, name, long=long, titles=titles, width=width or default_width(out)), out)


def sections_to_text(
    sections: Mapping[str, pl.DataFrame],
    fmt: Format | str = Format.table,
    *,
    long: pl.DataFrame,
    titles: Mapping[str, str] | None = None,
    width: int | None = None,
) -> str:
    """The text `write_sections` would write (a blank line between the sections' tables)."""
    name = as_format(fmt).value
    if not FORMATS[name].for_people:
        return to_text(long, name)
    titles = titles or {}
    return "\n".join(to_text(frame, name, titles.get(key, key), width=width) for key, frame in sections.items())


# -- plumbing ----------------------------------------------------------------------------------
def _prepare(out: Any) -> Path:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
