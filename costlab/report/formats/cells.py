"""What every report format shows the same way: values as text for a reader (money, percentages,
counts, milliseconds), a table's cells, a section's metrics as a table, the report's title and period.

Names from the logs are shown literally everywhere (costlab.display): each format escapes for itself
(the terminal shows no markup and no control character from data, Markdown escapes HTML and link
syntax, HTML escapes everything); the text here is not escaped yet.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from costlab.tables import money_text

NULL = "—"


def _usd(v: str) -> str:
    d = Decimal(v)
    sign = "-" if d < 0 else ""
    d = abs(d)
    if d == 0:
        return "$0.00"
    if d >= 1:
        return f"{sign}${d:,.2f}"
    # below a hundredth of a cent: three significant digits ($0.0000123), as costlab.tables shows money
    return f"{sign}${d:.4f}" if d >= Decimal("0.0001") else money_text(Decimal(v))


def _pct(f: float, signed: bool = False) -> str:
    places = 1 if abs(f) >= 0.01 or f == 0 else 2
    text = f"{f * 100:{'+' if signed else ''}.{places}f}%"
    return text.replace("-", "−") if signed else text


def fmt(v: Any, kind: str) -> str:
    """A stored value as text for a reader (terminal, Markdown, HTML)."""
    if v is None:
        return NULL
    if kind == "usd":
        return _usd(v)
    if kind == "count":
        return f"{v:,}"
    if kind == "ratio":
        return _pct(v)
    if kind == "change":
        return _pct(v, signed=True)
    if kind == "points":
        return f"{v * 100:+.1f} pp".replace("-", "−")
    if kind == "ms":
        return f"{v:,.0f}"
    if kind == "number":
        return f"{v:,.4g}"
    return " ".join(str(v).split())


def cells(table: dict) -> list[list[str]]:
    """A table's rows as text, in its columns' order."""
    return [[fmt(row.get(c["key"]), c["kind"]) for c in table["columns"]] for row in table["rows"]]


METRIC_COLUMNS = [{"key": "label", "label": "figure", "kind": "text"},
                  {"key": "current", "label": "this period", "kind": "number"},
                  {"key": "previous", "label": "previous", "kind": "number"},
                  {"key": "change", "label": "change", "kind": "number"}]


def metric_cells(section: dict) -> list[list[str]]:
    """A section's metrics as the rows of a table with METRIC_COLUMNS: figure, this period, previous, change."""
    return [[m["label"], fmt(m.get("current"), m["kind"]), fmt(m.get("previous"), m["kind"]),
             fmt(m.get("change"), m.get("change_kind", "change"))] for m in section.get("metrics", [])]


def title(report: dict) -> str:
    w = report["window"]
    return f"costlab weekly report: {w['label']} (against {w['previous']['label']})"


def period(report: dict) -> str:
    """The report's period as a reader sees it: '2026-11-09 to 2026-11-16 (UTC, end exclusive)', or the
    report's time zone when it has one ('(Europe/Berlin, end exclusive)')."""
    w = report["window"]
    return f"{w['since'][:10]} to {w['until'][:10]} ({w.get('timezone', 'UTC')}, end exclusive)"


def text_tables(section: dict) -> list[dict]:
    """The section's tables a reader sees: not the `detail` ones (chart data, in the JSON and the HTML charts)."""
    return [t for t in section.get("tables", []) if not t.get("detail")]
