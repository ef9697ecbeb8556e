"""The report document: its shape (plain data with stable keys), and the helpers every section uses
to build its metrics and tables.

A report is a dict (JSON as it stands):

    {"report": "costlab.weekly", "version": 1,
     "window": {"label": "2026-W46", "since": ..., "until": ..., "days": 7, "previous": {...}},
     "sections": {NAME: SECTION, ...}}                          # in the order of report.sections.SECTIONS

and every SECTION has the same shape, so every format draws any section, including ones added later:

    {"title": "Spend",
     "notes": ["..."],                                           # sentences, optional
     "metrics": [{"key", "label", "kind", "current", "previous", "change", "change_kind"}],  # optional
     "tables": [{"key", "title", "detail", "columns": [{"key", "label", "kind"}], "rows": [{...}]}],  # optional
     ...}                                                        # anything else a section wants in the JSON

Value kinds (how a value is stored, and shown):
    text    string
    count   integer
    usd     string with 9 decimals ("12.345678900"): exact, never a binary float; null when unknown
    ratio   fraction, 0..1 (shown as a percentage)
    change  relative change, a fraction (+0.05 is +5%); null when the previous value is 0 or unknown
    points  difference of two ratios, a fraction (shown in percentage points)
    ms      milliseconds
    number  any other number
A table with "detail": true carries data for charts and JSON readers; terminal and Markdown skip it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

import polars as pl

KINDS = ("text", "count", "usd", "ratio", "change", "points", "ms", "number")
NANO = Decimal("0.000000001")
USD = pl.Decimal(18, 9)


def column(key: str, label: str, kind: str) -> dict[str, str]:
    assert kind in KINDS, kind
    return {"key": key, "label": label, "kind": kind}


def value(v: Any, kind: str) -> Any:
    """A value as the report stores it for its kind (see the module docstring)."""
    if v is None:
        return None
    if kind == "usd":
        return format(Decimal(str(v)).quantize(NANO, rounding=ROUND_HALF_UP), "f")
    if kind == "count":
        return int(v)
    if kind in ("ratio", "change", "points"):
        f = float(v)
        return None if f != f else round(f, 6)
    if kind in ("ms", "number"):
        f = float(v)
        return None if f != f else round(f, 3)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v)


def table(key: str, title: str, columns: list[dict[str, str]], rows: Iterable[dict[str, Any]], *,
          detail: bool = False, notes: list[str] | None = None) -> dict[str, Any]:
    """A table from rows (dicts keyed by column key); values are normalised by their column's kind."""
    out = {"key": key, "title": title, "detail": detail, "columns": columns,
           "rows": [{c["key"]: value(r.get(c["key"]), c["kind"]) for c in columns} for r in rows]}
    if notes:
        out["notes"] = notes
    return out


def frame_table(key: str, title: str, columns: list[dict[str, str]], frame: pl.DataFrame, **kw: Any) -> dict[str, Any]:
    return table(key, title, columns, frame.select([c["key"] for c in columns]).to_dicts(), **kw)


def relative_change(current: Any, previous: Any) -> float | None:
    if current is None or previous is None:
        return None
    current, previous = Decimal(str(current)), Decimal(str(previous))
    if previous == 0:
        return None
    return float((current - previous) / previous)


def metric(key: str, label: str, kind: str, current: Any, previous: Any = None) -> dict[str, Any]:
    """One headline figure with its week-over-week change: relative for amounts, in points for ratios."""
    if kind == "ratio":
        change = None if current is None or previous is None else float(current) - float(previous)
        change_kind = "points"
    else:
        change, change_kind = relative_change(current, previous), "change"
    return {"key": key, "label": label, "kind": kind, "current": value(current, kind),
            "previous": value(previous, kind), "change": value(change, change_kind), "change_kind": change_kind}


def ratio(numerator: Any, denominator: Any) -> float | None:
    if numerator is None or not denominator:
        return None
    return float(Decimal(str(numerator)) / Decimal(str(denominator)))


def per(amount: Any, count: Any) -> Decimal | None:
    """Money per unit, exact to the nano-dollar (half up)."""
    if amount is None or not count:
        return None
    return (Decimal(str(amount)) / Decimal(int(count))).quantize(NANO, rounding=ROUND_HALF_UP)


def money_sum(name: str, requests: str = "requests", unpriced: str = "unpriced_requests") -> pl.Expr:
    """Sum of a money column that stays NULL (unknown) when every request of the group is unpriced."""
    n = pl.col(requests).sum()
    known = (n - pl.col(unpriced).sum() > 0) | (n == 0)
    return pl.when(known).then(pl.col(name).cast(USD).sum()).otherwise(None).cast(USD).alias(name)


def change_expr(current: str, previous: str) -> pl.Expr:
    """(current - previous) / previous as a float; NULL when previous is 0 or unknown."""
    prev = pl.col(previous).cast(pl.Float64)
    return pl.when(prev != 0).then((pl.col(current).cast(pl.Float64) - prev) / prev).otherwise(None)
