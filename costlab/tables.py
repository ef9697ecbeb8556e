"""Tables for people: every value formatted for reading, and laid out to fit a width, fast for any size.

costlab.frames' `table` and `markdown` formats, and the report's terminal tables, go through here.

Values (`display_frame`), computed with polars expressions over whole columns (no loop per row):

    integers         1,234,567
    money            $1,234.56 at 1 and above; below, three significant digits ($0.0821, $0.000125),
                     never a nonzero shown as $0.00; -$3.50. A DECIMAL column is money when its name
                     says so (usd or dollars; cost, spend, price unless it is a multiplier, rate,
                     share, ...) or the caller names it (`money=`).
    other DECIMAL    the fewest decimals (2 to 6) that show the column exactly: 1.00, 0.000375
    floats           0.3333, 11,965.1, 1.000e-05
    timestamps       2026-11-16 09:00:00 (microseconds when any value has them; the offset when not UTC)
    NULL             —
    text             on one line (runs of white space as one space), control characters shown in their
                     escaped form (costlab.display.visible): data never drives the terminal

Layout (`lines`, `render`): a plain fixed-width table, numbers right-aligned, no wider than `width`:

* numbers are NEVER cut: a money or count column is always as wide as its widest value;
* text is cut only when the table would not fit otherwise, never below `min_text` characters, in the
  middle with an ellipsis keeping the distinctive tail ("arn:aws:bed…sonnet-20250219-v1:0"), and
  widened until no two different values look the same after the cut;
* a table that still does not fit is shown in blocks of columns that each repeat the row labels
  (the leading text columns) when there are labels and at most MAX_BLOCKS blocks, else one record
  per block, psql's expanded display (`-[ record 1 ]`, then `column | value` lines). Never a block
  without its labels.

Rows are written in chunks (`render` yields text), so 100,000 rows render in about a second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Iterator, Sequence

import polars as pl

from costlab.display import visible

NULL = "—"
ELLIPSIS = "…"
SEP = "   "  # between two columns
MIN_TEXT_WIDTH = 40  # text is not cut shorter than this to make a table fit (fewer blocks beat short labels)
MAX_BLOCKS = 3  # more column blocks than this and the rows are shown one record per block
CHUNK_ROWS = 20_000  # rows rendered per chunk of output
MAX_DECIMALS = 6

# Words in a DECIMAL column's name that make it money: always (cost_same_tokens_usd), or unless another
# word says it is not (price and price_per_mtok are, price_multiplier and cost_ratio are not)
DOLLAR_WORDS = frozenset({"usd", "dollars"})
MONEY_WORDS = frozenset({"cost", "costs", "spend", "spent", "price", "prices", "savings"})
NOT_MONEY_WORDS = frozenset({"multiplier", "ratio", "rate", "share", "pct", "percent", "factor", "tokens", "weight"})

# costlab.display._UNSAFE in Rust regex syntax: rows that match go through display.visible()
_UNSAFE_RX = r"[\x00-\x08\x0B-\x1F\x7F-\x{9F}\x{61C}\x{200E}\x{200F}\x{202A}-\x{202E}\x{2066}-\x{2069}\x{2028}\x{2029}]"
# what Python's str.split() splits on: Unicode white space and the four information separators
_SPACE_RX = r"[\s\x1C-\x1F]+"
_MARKDOWN_RX = r"([\\|*_`\[\]<>])"  # costlab.display._MD_SPECIAL


# -- values --------------------------------------------------------------------------------------
def is_number(dtype: pl.DataType) -> bool:
    """Right-aligned and never cut: integers, floats and decimals."""
    return dtype.is_numeric() or isinstance(dtype, pl.Decimal)


def is_money(name: str, dtype: pl.DataType, money: Iterable[str] = ()) -> bool:
    """A DECIMAL column shown as dollars: named in `money`, or its name says so (cost_usd, price, spend)."""
    if not isinstance(dtype, pl.Decimal):
        return False
    if name in set(money):
        return True
    words = set(re.split(r"[^a-z]+", name.lower()))
    return bool(words & DOLLAR_WORDS) or (bool(words & MONEY_WORDS) and not words & NOT_MONEY_WORDS)


def display_frame(df: pl.DataFrame, money: Iterable[str] = ()) -> pl.DataFrame:
    """Every column of `df` as text for reading (String, no nulls: NULL is "—"), same names and order."""
    money = set(money)
    return pl.DataFrame([_display(df.get_column(name), is_money(name, dtype, money))
                         for name, dtype in df.schema.items()], schema=dict.fromkeys(df.columns, pl.String))


def headers(df: pl.DataFrame) -> list[str]:
    """Column names as shown: on one line, controls visible."""
    return [visible(" ".join(name.split())) for name in df.columns]


def _display(series: pl.Series, money: bool = False) -> pl.Series:
    dtype = series.dtype
    name = series.name
    if series.len() == 0:
        return pl.Series(name, [], dtype=pl.String)
    if isinstance(dtype, pl.Decimal):
        out = _money(series) if money else _decimal(series)
    elif dtype.is_integer():
        digits = series.cast(pl.String)
        out = _signed(digits.str.starts_with("-"), _grouped(digits.str.strip_prefix("-")))
    elif dtype.is_float():
        out = _float(series.cast(pl.Float64))
    elif isinstance(dtype, pl.Datetime):
        pattern = "%Y-%m-%d %H:%M:%S" if dtype.time_zone in (None, "UTC") else "%Y-%m-%d %H:%M:%S%z"
        if (series.dt.microsecond() != 0).any():
            pattern = pattern.replace("%S", "%S%.6f")
        out = series.dt.strftime(pattern)
    elif dtype == pl.Date:
        out = series.dt.strftime("%Y-%m-%d")
    elif dtype == pl.Boolean:
        out = pl.select(pl.when(pl.lit(series)).then(pl.lit("true")).otherwise(pl.lit("false"))).to_series()
        out = pl.select(pl.when(pl.lit(series).is_null()).then(None).otherwise(pl.lit(out))).to_series()
    else:
        out = _text(series)
    return out.fill_null(NULL).alias(name)


def _text(series: pl.Series) -> pl.Series:
    """Text on one line, its controls visible() (the rare rows that have any go through Python)."""
    if series.dtype != pl.String:
        try:
            series = series.cast(pl.String)
        except Exception:  # lists, structs, objects: as Python shows them
            series = pl.Series(series.name, [None if v is None else str(v) for v in series.to_list()], dtype=pl.String)
    series = series.str.replace_all(_SPACE_RX, " ").str.strip_chars(" ")
    unsafe = series.str.contains(_UNSAFE_RX).fill_null(False)
    if unsafe.any():
        index = unsafe.arg_true()
        series = series.scatter(index, [visible(v) for v in series.gather(index).to_list()])
    return series


def _grouped_expr(d: pl.Expr, longest: int) -> pl.Expr:
    """An expression of a string of digits `d` (at most `longest` long) with thousands separators."""
    n = d.str.len_chars().cast(pl.Int64)
    groups = (n - 1) // 3
    parts = [d.str.slice(0, n - 3 * groups)]
    for j in range((longest - 1) // 3, 0, -1):
        parts.append(pl.when(groups >= j).then(pl.lit(",") + d.str.slice(n - 3 * j, 3)))
    return pl.when(d.is_not_null()).then(pl.concat_str(parts, ignore_nulls=True))


def _grouped(digits: pl.Series) -> pl.Series:
    """A string of digits with thousands separators: 1234567 -> 1,234,567 (string slices, no lists)."""
    longest = int(digits.str.len_chars().max() or 0)
    if longest <= 3:
        return digits
    return pl.DataFrame({"d": digits}).select(_grouped_expr(pl.col("d"), longest)).to_series()


def _signed(negative: pl.Series, text: pl.Series, prefix: str = "") -> pl.Series:
    return pl.select(pl.when(pl.lit(negative)).then(pl.lit("-" + prefix)).otherwise(pl.lit(prefix))
                     + pl.lit(text)).to_series()


def _unscaled(series: pl.Series) -> pl.Series:
    """A Decimal column's exact unscaled integers (12.50 at scale 2 -> 1250), as Int128."""
    return series.cast(pl.String).str.replace(".", "", literal=True).cast(pl.Int128)


def _decimal_text(unscaled: pl.Series, scale: int, places: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(integer part with separators, `places` decimals) of |value|, rounded half up per row."""
    frame = pl.DataFrame({"u": unscaled.abs(), "p": places.cast(pl.Int64)})
    kept = sorted(set(frame["p"].drop_nulls().to_list()))
    if not kept:
        empty = pl.Series([None] * len(frame), dtype=pl.String)
        return empty, empty
    p = pl.col("p")
    # per row: q = 10^(scale - places) to round at, and 10^places to split the rounded value
    q = p.replace_strict(kept, [10 ** (scale - k) for k in kept], return_dtype=pl.Int128)
    unit = p.replace_strict(kept, [10 ** k for k in kept], return_dtype=pl.Int128)
    rounded = (pl.col("u") + q // 2) // q
    out = frame.select(w=rounded // unit, f=(rounded % unit).cast(pl.String).str.zfill(p.cast(pl.UInt32)), p=p)
    frac = out.select(pl.when(pl.col("p") > 0).then(pl.col("f")).otherwise(pl.lit(""))).to_series()
    return _grouped(out["w"].cast(pl.String)), frac


def _decimal(series: pl.Series) -> pl.Series:
    """The fewest decimals (2 to 6, at most the scale) that show every value of the column exactly."""
    scale = series.dtype.scale or 0
    unscaled = _unscaled(series)
    digits = unscaled.abs().cast(pl.String)
    zeros = digits.str.len_chars() - digits.str.strip_chars_end("0").str.len_chars()
    needed = pl.select(pl.when(pl.lit(unscaled) != 0).then(scale - pl.lit(zeros).cast(pl.Int64))).to_series().max() or 0
    places = min(scale, max(2, min(int(needed), MAX_DECIMALS)))
    whole, frac = _decimal_text(unscaled, scale, pl.Series([places] * len(series)))
    text = pl.select(pl.concat_str([pl.lit(whole), pl.lit("." if places else ""), pl.lit(frac)])).to_series()
    return _signed(unscaled < 0, text).set(series.is_null(), None)


def _money(series: pl.Series) -> pl.Series:
    """$1,234.56; below a dollar three significant digits ($0.0821, $0.000125), trailing zeros past
    the cents dropped ($0.50, not $0.500), never a nonzero rounded to $0.00 (up to the column's scale)."""
    scale = series.dtype.scale or 0
    unscaled = _unscaled(series)
    length = unscaled.abs().cast(pl.String).str.len_chars().cast(pl.Int64)
    below_one = pl.select(pl.lit(unscaled).abs() < pl.lit(10 ** scale, dtype=pl.Int128)).to_series()
    places = pl.select(
        pl.when(pl.lit(below_one) & (pl.lit(unscaled) != 0)).then(pl.lit(scale) - pl.lit(length) + 3).otherwise(2)
        .clip(upper_bound=scale).clip(lower_bound=min(2, scale))).to_series()
    whole, frac = _decimal_text(unscaled, scale, places)
    # drop zeros past the cents: 0.500 -> 0.50
    frac = pl.select(pl.lit(frac).str.slice(0, 2) + pl.lit(frac).str.slice(2).str.strip_chars_end("0")).to_series()
    text = pl.select(pl.concat_str([pl.lit(whole),
                                    pl.when(pl.lit(frac).str.len_chars() > 0).then(pl.lit(".") + pl.lit(frac)).otherwise(pl.lit(""))])).to_series()
    return _signed(unscaled < 0, text, "$").set(series.is_null(), None)


def money_text(value: Decimal | str) -> str:
    """One Decimal as the money column shows it ($1,234.56, $0.0821)."""
    d = Decimal(value)
    scale = max(2, -int(d.as_tuple().exponent))
    return _money(pl.Series([d], dtype=pl.Decimal(38, scale)))[0]


def _float(series: pl.Series) -> pl.Series:
    """0.3333 (4 decimals, zeros dropped) below 1,000, 11,965.1 above, 1.000e-05 below 0.001;
    NaN, inf; values past 1e15 as Python shows them."""
    f = pl.col("v")
    frame = pl.DataFrame({"v": series})
    small = frame.select((((f.abs() < 1e-3) & (f != 0)) | (f.abs() >= 1e15)) & f.is_finite()).to_series().fill_null(False)
    a = pl.when(f.is_finite() & (f.abs() < 1e15)).then(f.abs()).otherwise(0.0)  # the rest never reach an integer cast
    sign = pl.when(f < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    r4 = (a * 10_000).round(0).cast(pl.Int64)
    frac4 = (r4 % 10_000).cast(pl.String).str.zfill(4).str.strip_chars_end("0")
    below = pl.concat_str([sign, (r4 // 10_000).cast(pl.String),
                           pl.when(frac4.str.len_chars() > 0).then(pl.lit(".") + frac4).otherwise(pl.lit(""))])
    r1 = (a * 10).round(0).cast(pl.Int64)
    above = pl.concat_str([sign, _grouped_expr((r1 // 10).cast(pl.String), 16), pl.lit("."), (r1 % 10).cast(pl.String)])
    body = frame.select(
        pl.when(f.is_nan()).then(pl.lit("NaN"))
        .when(f.is_infinite()).then(pl.when(f > 0).then(pl.lit("inf")).otherwise(pl.lit("-inf")))
        .when(f == 0).then(pl.lit("0"))
        .when(pl.lit(small)).then(pl.lit(""))
        .when(a < 1000).then(below)
        .otherwise(above)).to_series()
    if small.any():
        index = small.arg_true()
        body = body.scatter(index, [f"{v:.3e}" if abs(v) < 1e-3 else f"{v:,.1f}" for v in series.gather(index).to_list()])
    return body.set(series.is_null(), None)


def markdown_cells(cells: pl.DataFrame) -> pl.DataFrame:
    """Display text escaped for a Markdown table cell as costlab.display.markdown_text escapes it."""
    return cells.select(pl.all().str.replace_all(_MARKDOWN_RX, r"\$1"))


# -- cutting text --------------------------------------------------------------------------------
def cut(series: pl.Series, width: int) -> pl.Series:
    """Values longer than `width` cut in the middle with an ellipsis (a third kept before it, the
    distinctive tail after), widened until no two different values look the same."""
    lengths = series.str.len_chars()
    longest = int(lengths.max() or 0)
    w = max(width, 3)
    while w < longest:
        head = max(1, (w - 1) // 3)
        tail = w - 1 - head
        shown = pl.select(pl.when(pl.lit(lengths) > w)
                          .then(pl.concat_str([pl.lit(series).str.slice(0, head), pl.lit(ELLIPSIS), pl.lit(series).str.tail(tail)]))
                          .otherwise(pl.lit(series))).to_series()
        pairs = pl.DataFrame({"value": series, "shown": shown}).unique()
        if not pairs["shown"].is_duplicated().any():
            return shown.alias(series.name)
        w = min(longest, w + max(4, w // 4))
    return series


# -- layout --------------------------------------------------------------------------------------
@dataclass
class _Column:
    header: str
    cells: pl.Series  # display text
    number: bool

    @property
    def width(self) -> int:
        return max(len(self.header), int(self.cells.str.len_chars().max() or 0))


def render(
    cells: pl.DataFrame,
    numbers: Sequence[bool],
    width: int,
    *,
    title: str | None = None,
    caption: str | None = None,
    header_names: Sequence[str] | None = None,
    min_text: int = MIN_TEXT_WIDTH,
) -> Iterator[str]:
    """The table as chunks of text (each ending in a newline): see the module docstring for the layout.

    Args:
        cells: display text, one String column per column (display_frame).
        numbers: per column, whether it is a number (right-aligned, never cut).
        width: the width to fit.
        title: a line above; caption: a line below (e.g. "showing 50 of 48,213 rows").
        header_names: the headers shown (default: the frame's column names).
        min_text: text is not cut shorter than this to fit the width.
    """
    names = list(header_names or cells.columns)
    cols = [_Column(h, cells.get_column(c), n) for h, c, n in zip(names, cells.columns, numbers)]
    if not cols:
        yield from ([title + "\n"] if title else [])
        yield "(no columns)\n"
        return
    natural = cols
    if cells.height and _total(cols) > width:
        fitted = _fit_text(cols, width, min_text)
        # cut only when that makes the table fit; else blocks, where text only loses what no block holds
        cols = fitted if _total(fitted) <= width else _cap_text(cols, max(min_text, width // 2))
    if cells.height == 0 or _total(cols) <= width:
        yield from _tables([cols], cells.height, title, caption)
        return
    blocks = _blocks(cols, width)
    if blocks and len(blocks) <= MAX_BLOCKS:
        yield from _tables(blocks, cells.height, title, caption)
    else:
        yield from _records(natural, width, title, caption)


def _total(cols: Sequence[_Column]) -> int:
    return sum(c.width for c in cols) + len(SEP) * (len(cols) - 1)


def _fit_text(cols: list[_Column], width: int, min_text: int) -> list[_Column]:
    """Text columns cut to the widest common length that fits `width`, never below `min_text`."""
    text = [c for c in cols if not c.number]
    if not text:
        return cols
    fixed = _total(cols) - sum(c.width for c in text)
    room = width - fixed
    widths = sorted({c.width for c in text}, reverse=True)
    cap = min_text
    # the largest cap whose cut columns fit: sum(min(w, cap)) <= room
    lo, hi = min_text, max(widths)
    while lo <= hi:
        mid = (lo + hi) // 2
        if sum(min(c.width, max(mid, len(c.header))) for c in text) <= room:
            cap, lo = mid, mid + 1
        else:
            hi = mid - 1
    return _cap_text(cols, cap)


def _cap_text(cols: list[_Column], cap: int) -> list[_Column]:
    return [c if c.number or c.width <= cap else _Column(c.header, cut(c.cells, cap), False) for c in cols]


def _blocks(cols: list[_Column], width: int) -> list[list[_Column]]:
    """Column blocks that each fit `width` and repeat the row labels (the leading text columns, at
    most two, together at most half the width); [] when there are no labels."""
    labels: list[_Column] = []
    for c in cols[:2]:
        if c.number or _total(labels + [c]) > width // 2:
            break
        labels.append(c)
    if not labels:
        return []
    blocks: list[list[_Column]] = []
    current = list(labels)
    for c in cols[len(labels):]:
        if len(current) > len(labels) and _total(current + [c]) > width:
            blocks.append(current)
            current = list(labels)
        current.append(c)
    blocks.append(current)
    return blocks


def _tables(blocks: list[list[_Column]], height: int, title: str | None, caption: str | None) -> Iterator[str]:
    for i, block in enumerate(blocks):
        total = _total(block)
        head = []
        if i:
            head.append("")
        if title and i == 0:
            head.append(title.center(total).rstrip() if len(title) < total else title)
        head.append(SEP.join(c.header.rjust(c.width) if c.number else c.header.ljust(c.width) for c in block).rstrip())
        head.append("─" * total)
        yield "\n".join(head) + "\n"
        frame = pl.DataFrame([c.cells.alias(f"c{j}") for j, c in enumerate(block)])
        line = pl.concat_str([pl.col(f"c{j}").str.pad_start(c.width) if c.number else pl.col(f"c{j}").str.pad_end(c.width)
                              for j, c in enumerate(block)], separator=SEP).str.strip_chars_end(" ")
        for start in range(0, height, CHUNK_ROWS):
            yield frame.slice(start, CHUNK_ROWS).select(line.str.join("\n")).item() + "\n"
    if height == 0:
        yield "(no rows)\n"
    if caption:
        yield caption + "\n"


def _records(cols: list[_Column], width: int, title: str | None, caption: str | None) -> Iterator[str]:
    """One record per block: `-[ record N ]` then a `column | value` line per column."""
    name_width = max(len(c.header) for c in cols)
    room = max(width - name_width - 3, 20)
    shown = [c.cells if c.number else cut(c.cells, room) for c in cols]
    rule = min(width, name_width + 3 + max(int(s.str.len_chars().max() or 0) for s in shown))
    if title:
        yield title + "\n"
    frame = pl.DataFrame([s.alias(f"c{j}") for j, s in enumerate(shown)])
    height = frame.height
    for start in range(0, height, CHUNK_ROWS):
        part = frame.slice(start, CHUNK_ROWS)
        number = pl.int_range(start + 1, start + 1 + part.height, eager=False).cast(pl.String)
        record = pl.concat_str(
            [pl.concat_str([pl.lit("-[ record "), number, pl.lit(" ]")]).str.pad_end(rule, "-")]
            + [(pl.lit(c.header.ljust(name_width) + " | ") + pl.col(f"c{j}")).str.strip_chars_end(" ")
               for j, c in enumerate(cols)],
            separator="\n")
        yield part.select(record.str.join("\n")).item() + "\n"
    if caption:
        yield caption + "\n"
