"""Frames out: the ONE vocabulary of output formats for every table costlab prints or writes.

`FORMATS` is the registry: a format's name (what `--format` takes) -> its `Writer` (the function that
turns a polars frame into text or bytes, and what kind of output it makes). Every command that prints
rows (sql, summary, signals, whatif, prices, replay, reconcile) goes through it; adding a format is one
function below and one line in `FORMATS` (docs/architecture.md, "Adding an output format").

This module writes data and nothing else: it never touches stderr (warnings and progress belong to
the CLI), so `costlab ... --format csv > out.csv` is always a clean file.

How values come out, per format:

    format     for        DECIMAL (money)                      NULL       timestamps
    table      reading    $1,234.56, $0.0821 (else 2-6 places)   —          2026-11-16 09:00:00
    markdown   reading    as in table                            —          as in table
    csv        programs   every digit of the scale ("0.001250")  empty      2026-11-16T09:00:00+00:00 (ISO 8601)
    json       programs   a string with every digit ("0.001250") null       as in csv
    jsonl      programs   as in json, one object per line        null       as in json
    parquet    programs   DECIMAL(p,s), exact                    null       TIMESTAMP with time zone

json and jsonl write money as strings on purpose: most JSON readers turn numbers into binary floats,
and 0.1 + 0.2 is not a price. `decimal.Decimal(row["cost_usd"])` (or `pl.col(...).cast(pl.Decimal)`)
gets the exact value back. Integers and floats stay JSON numbers.

table and markdown are for people, and costlab.tables makes them: money columns (DECIMAL named usd,
cost, spend, price, ...) read as dollars, never a nonzero as $0.00; numbers are never cut; text is cut
only to fit the width, in the middle with an ellipsis and never so two values look alike; a result
too wide for the width (the terminal's, COLUMNS, 100 for a file) comes as blocks of columns that each
repeat the row labels, or one record per block (`-[ record 1 ]`, then `column | value`). On a
terminal a table shows its first DEFAULT_ROWS (50) rows and says how many there are (`limit`, the
CLI's --limit; 0 for all); to a pipe or a file it writes every row, rendered and written a chunk at a
time (100,000 rows in about a second). Every value and header is shown literally (costlab.display),
so markup, terminal escape sequences and HTML in the data stay text. csv, json, jsonl and parquet
keep the data exactly as it is.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import polars as pl

from costlab import tables
from costlab.display import markdown_text, plural, visible
from costlab.errors import ConfigError, did_you_mean

NULL = tables.NULL
FILE_WIDTH = 100  # width of a table written to a file, where there is no terminal to measure
DEFAULT_ROWS = 50  # rows a table shows on a terminal unless --limit says otherwise


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


# -- reading formats (costlab.tables: values for reading, the layout, never a number cut) -------------
def display_columns(df: pl.DataFrame, money: Iterable[str] = ()) -> dict[str, list[str]]:
    """Every column formatted for reading: one string per value, control characters visible()."""
    cells = tables.display_frame(df, money)
    return {name: cells.get_column(name).to_list() for name in df.columns}


def table_chunks(
    df: pl.DataFrame, title: str | None = None, width: int = FILE_WIDTH, *, caption: str | None = None,
    money: Iterable[str] = (),
) -> Iterator[str]:
    """The table format as chunks of text, rows rendered a chunk at a time (costlab.tables.render)."""
    numbers = [tables.is_number(dtype) for dtype in df.schema.values()]
    yield from tables.render(tables.display_frame(df, money), numbers, width, title=visible(title) if title else None,
                             caption=caption, header_names=tables.headers(df))


def table(df: pl.DataFrame, title: str | None = None, width: int = FILE_WIDTH) -> str:
    """A plain fixed-width table no wider than `width`: numbers never cut, text cut in the middle only
    when needed and never so two values look alike; too wide, blocks that repeat the row labels or one
    record per block (costlab.tables)."""
    return "".join(table_chunks(df, title, width))


def markdown(df: pl.DataFrame, title: str | None = None, width: int = 0) -> str:
    """A GitHub-flavoured Markdown table, numbers right-aligned, values formatted as in table (any width)."""
    cells = tables.markdown_cells(tables.display_frame(df))
    numeric = [tables.is_number(dtype) for dtype in df.schema.values()]
    lines = [f"### {markdown_text(title)}", ""] if title else []
    lines.append("| " + " | ".join(markdown_text(name) for name in df.columns) + " |")
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    if df.height:
        row = pl.concat_str([pl.lit("| ")] + [pl.concat_str(pl.col(df.columns), separator=" | ")] + [pl.lit(" |")])
        lines.extend(cells.select(row).to_series().to_list())
    return "\n".join(lines) + "\n"


def shown_rows(df: pl.DataFrame, limit: int | None) -> tuple[pl.DataFrame, str | None]:
    """The first `limit` rows (all for None or 0) and, when that leaves rows out, the note that says so."""
    if not limit or df.height <= limit:
        return df, None
    return df.head(limit), (f"showing {limit:,} of {plural(df.height, 'row')}; "
                            "--limit N for more, --limit 0 or --format csv for all")


def default_limit(fmt: Format | str, out: str | Path | None, interactive: bool | None = None) -> int:
    """DEFAULT_ROWS for a table on a terminal (`interactive`, default: whether stdout is one), else 0 (all)."""
    if as_format(fmt) is not Format.table or not is_stdout(out):
        return 0
    if interactive is None:
        interactive = sys.stdout.isatty()
    return DEFAULT_ROWS if interactive else 0


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
    limit: int | None = None,
    interactive: bool | None = None,
) -> None:
    """Write `df` to stdout, or to the file `out`, in format `fmt`.

    Args:
        df: the rows.
        fmt: a name in FORMATS (or its Format).
        out: a file path; None or "-" means stdout. Parent folders are created.
        title: shown above table and markdown output; data formats (csv, json, ...) ignore it so
            their output stays parseable.
        width: table width in characters; default the terminal's for stdout, 100 for a file.
        limit: at most this many rows (0: all); default DEFAULT_ROWS for a table on a terminal (a
            line under it says how many there are and how to see them all), all otherwise.
        interactive: whether stdout is a terminal (default: ask it); for tests.

    Raises:
        ConfigError: a binary format (parquet) without a file to write to, or an unknown format name.
    """
    name = as_format(fmt).value
    if FORMATS[name].binary:
        if is_stdout(out):
            raise ConfigError(f"{name} is a binary format and cannot go to the terminal: give a file with --out FILE.{name}")
        _prepare(out).write_bytes(FORMATS[name].write(df.head(limit) if limit else df, title, FILE_WIDTH))
        return
    limit = default_limit(name, out, interactive) if limit is None else limit
    if name == Format.table.value:  # streamed: rows are rendered and written a chunk at a time
        shown, note = shown_rows(df, limit)
        _stream(table_chunks(shown, title, width or default_width(out), caption=note), out)
        return
    emit(to_text(df, name, title, width=width or default_width(out), limit=limit), out)


def to_text(
    df: pl.DataFrame, fmt: Format | str = Format.table, title: str | None = None, *, width: int | None = None,
    limit: int = 0,
) -> str:
    """The text `write` would write, as a string ending in a newline (empty for an empty jsonl).

    `limit` keeps the first rows (0: all); table and markdown then say under the rows how many there are.

    Raises:
        ConfigError: for a binary format (parquet), which is not text.
    """
    name = as_format(fmt).value
    if FORMATS[name].binary:
        raise ConfigError(f"{name} is a binary format: write it to a file with --out")
    shown, note = shown_rows(df, limit)
    if name == Format.table.value:
        return "".join(table_chunks(shown, title, width or FILE_WIDTH, caption=note))
    text = FORMATS[name].write(shown, title, width or FILE_WIDTH)
    return text + f"\n{markdown_text(note)}\n" if note and name == Format.markdown.value else text


def write_sections(
    sections: Mapping[str, pl.DataFrame],
    fmt: Format | str = Format.table,
    out: str | Path | None = None,
    *,
    long: pl.DataFrame,
    titles: Mapping[str, str] | None = None,
    width: int | None = None,
    limit: int | None = None,
    interactive: bool | None = None,
) -> None:
    """Several frames as one output: a titled table per section in a format for people, else `long`
    (every section's rows as one frame, e.g. with a `section` column) in the data format.

    Args:
        sections: section name -> its frame.
        long: the one frame the data formats write (every section's rows, told apart by a column).
        titles: section name -> the title shown above it (default: the name).
        limit, interactive: as in `write`, per section.
    """
    name = as_format(fmt).value
    if not FORMATS[name].for_people:
        write(long, name, out, limit=limit or 0)
        return
    limit = default_limit(name, out, interactive) if limit is None else limit
    emit(sections_to_text(sections, name, long=long, titles=titles, width=width or default_width(out), limit=limit), out)


def sections_to_text(
    sections: Mapping[str, pl.DataFrame],
    fmt: Format | str = Format.table,
    *,
    long: pl.DataFrame,
    titles: Mapping[str, str] | None = None,
    width: int | None = None,
    limit: int = 0,
) -> str:
    """The text `write_sections` would write (a blank line between the sections' tables)."""
    name = as_format(fmt).value
    if not FORMATS[name].for_people:
        return to_text(long, name, limit=limit)
    titles = titles or {}
    return "\n".join(to_text(frame, name, titles.get(key, key), width=width, limit=limit) for key, frame in sections.items())


# -- plumbing ----------------------------------------------------------------------------------
def _stream(chunks: Iterable[str], out: str | Path | None) -> None:
    """Write text chunks to stdout (out None or "-") or to the file `out` as they come."""
    if is_stdout(out):
        try:
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
        except BrokenPipeError:  # `costlab sql ... | head`: the reader has all it wants
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    with _prepare(out).open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(chunk)


def _prepare(out: Any) -> Path:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
