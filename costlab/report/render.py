"""Renderers: the report object (costlab.report.model) as terminal text, Markdown, JSON or HTML.

Every renderer draws any section from its generic shape (notes, metrics, tables), so a section added
through the build hook needs no renderer code. Terminal and Markdown show the same content;
tables marked `detail` (chart data) appear only in the JSON and behind the HTML charts.
Names from the logs are shown literally everywhere (costlab.display): the terminal sees no markup
and no control character from data, Markdown escapes HTML and link syntax, HTML escapes everything.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

from costlab.display import console, markdown_text, styled, visible

NULL = "—"


# -- values for reading ----------------------------------------------------------------------------
def _usd(v: str) -> str:
    d = Decimal(v)
    sign = "-" if d < 0 else ""
    d = abs(d)
    if d == 0:
        return "$0.00"
    if d >= 1:
        return f"{sign}${d:,.2f}"
    return f"{sign}${d:.4f}" if d >= Decimal("0.0001") else f"{sign}${d:.2e}"


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


def _numeric(kind: str) -> bool:
    return kind != "text"


def metric_rows(section: dict) -> tuple[list[dict], list[dict]]:
    """A section's metrics as a table: figure, this period, previous, change."""
    cols = [{"key": "label", "label": "figure", "kind": "text"}, {"key": "current", "label": "this period", "kind": "number"},
            {"key": "previous", "label": "previous", "kind": "number"}, {"key": "change", "label": "change", "kind": "number"}]
    rows = []
    for m in section.get("metrics", []):
        rows.append({"label": m["label"], "current": fmt(m.get("current"), m["kind"]),
                     "previous": fmt(m.get("previous"), m["kind"]),
                     "change": fmt(m.get("change"), m.get("change_kind", "change"))})
    return cols, rows


def _cells(table: dict) -> list[list[str]]:
    return [[fmt(row.get(c["key"]), c["kind"]) for c in table["columns"]] for row in table["rows"]]


def _title(report: dict) -> str:
    w = report["window"]
    return f"costlab weekly report: {w['label']} (against {w['previous']['label']})"


# -- terminal --------------------------------------------------------------------------------------
def terminal(report: dict, width: int = 100, color: bool = False) -> str:
    """The report as rich tables, no wider than `width` (plain text unless `color`)."""
    out = io.StringIO()
    printer = console(file=out, width=width, color_system="standard" if color else None, force_terminal=color)
    w = report["window"]
    printer.print(styled(_title(report), "bold"))
    printer.print(f"{w['since'][:10]} to {w['until'][:10]} (UTC, end exclusive)")
    for name, section in report["sections"].items():
        printer.print()
        printer.print(styled(section.get("title", name).upper(), "bold cyan"))
        for note in section.get("notes", []):
            printer.print(styled(note), overflow="fold")
        if section.get("metrics"):
            cols, rows = metric_rows(section)
            printer.print(_rich_table(None, cols, [[r[c["key"]] for c in cols] for r in rows]))
        for tbl in section.get("tables", []):
            if tbl.get("detail"):
                continue
            printer.print(styled(tbl["title"], "bold"))
            printer.print(_rich_table(None, tbl["columns"], _cells(tbl)))
            for note in tbl.get("notes", []):
                printer.print(styled(note), overflow="fold")
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


TEXT_WIDTH = 24  # longer names are cut with an ellipsis in the terminal (Markdown, JSON and HTML keep them)


def _rich_table(title: str | None, columns: list[dict], rows: list[list[str]]):
    """A compact table: numbers never cut, headers wrapped onto two lines rather than the values squeezed."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = [[visible(v) for v in r] for r in rows]
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
              caption="(no rows)" if not rows else None)
    for i, c in enumerate(columns):
        cells = [len(r[i]) for r in rows]
        label = visible(c["label"])
        word = max((len(w) for w in label.split()), default=1)
        if c["kind"] == "text":
            width = min(max(cells + [word]), TEXT_WIDTH)
            t.add_column(label, justify="left", no_wrap=True, overflow="ellipsis", max_width=width, min_width=min(width, 8))
        else:
            width = max(cells + [word])
            t.add_column(label, justify="right", min_width=width, max_width=width, overflow="fold")
    for r in rows:
        t.add_row(*(Text(v) for v in r))
    return t


# -- markdown --------------------------------------------------------------------------------------
_md = markdown_text  # the one Markdown escaping (costlab.display), shared with every Markdown writer


def _md_table(cols: list[dict], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md(c["label"]) for c in cols) + " |",
             "|" + "|".join("---" if c["kind"] == "text" else "---:" for c in cols) + "|"]
    lines += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return lines


def markdown(report: dict) -> str:
    w = report["window"]
    lines = [f"# {_md(_title(report))}", "", f"{w['since'][:10]} to {w['until'][:10]} (UTC, end exclusive)."]
    for name, section in report["sections"].items():
        lines += ["", f"## {_md(section.get('title', name))}"]
        if section.get("notes"):
            lines += [""] + [f"- {_md(n)}" for n in section["notes"]]
        if section.get("metrics"):
            cols, rows = metric_rows(section)
            lines += [""] + _md_table(cols, [[r[c["key"]] for c in cols] for r in rows])
        for tbl in section.get("tables", []):
            if tbl.get("detail"):
                continue
            lines += ["", f"### {_md(tbl['title'])}", ""]
            lines += _md_table(tbl["columns"], _cells(tbl)) if tbl["rows"] else ["(no rows)"]
            if tbl.get("notes"):
                lines += [""] + [f"- {_md(n)}" for n in tbl["notes"]]
    return "\n".join(lines) + "\n"


# -- json ------------------------------------------------------------------------------------------
def json_text(report: dict) -> str:
    """Every figure, keys in a stable order, money as exact strings (docs/report.md)."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def html(report: dict) -> str:
    from costlab.report.html import page

    return page(report)


FORMATS = ("terminal", "markdown", "json", "html")
_SUFFIXES = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", ".json": "json"}


def format_for(fmt: str | None, out: str | None) -> str:
    """The format asked for, else the one --out's extension names (report.html is HTML), else terminal."""
    from pathlib import Path

    from costlab.errors import ConfigError, did_you_mean

    if fmt is None:
        return _SUFFIXES.get(Path(out).suffix.lower(), "terminal") if out and out != "-" else "terminal"
    name = fmt.lower()
    if name == "table":
        name = "terminal"
    if name not in FORMATS:
        raise ConfigError(f"unknown report format {fmt!r}.{did_you_mean(name, FORMATS)} Choose one of: {', '.join(FORMATS)}.")
    return name


def to_text(report: dict, fmt: str, *, width: int = 100, color: bool = False) -> str:
    if fmt == "terminal":
        return terminal(report, width=width, color=color)
    if fmt == "markdown":
        return markdown(report)
    if fmt == "json":
        return json_text(report)
    return html(report)
