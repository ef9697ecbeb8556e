"""The report in the terminal: rich tables, plain text unless asked for colour, no wider than the
terminal. Long names are cut with an ellipsis (Markdown, JSON and HTML keep them); numbers never are.
No markup and no control character from the data reaches the terminal (costlab.display)."""

from __future__ import annotations

import io

from rich import box
from rich.table import Table
from rich.text import Text

from costlab.display import console, styled, visible
from costlab.report.formats.base import ReportFormat
from costlab.report.formats.cells import METRIC_COLUMNS, cells, metric_cells, period, text_tables, title

TEXT_WIDTH = 24  # longer names are cut with an ellipsis in the terminal


def render(report: dict, *, width: int = 100, color: bool = False) -> str:
    """The report as rich tables, no wider than `width` (plain text unless `color`)."""
    out = io.StringIO()
    printer = console(file=out, width=width, color_system="standard" if color else None, force_terminal=color)
    printer.print(styled(title(report), "bold"))
    printer.print(period(report))
    for name, section in report["sections"].items():
        printer.print()
        printer.print(styled(section.get("title", name).upper(), "bold cyan"))
        for note in section.get("notes", []):
            printer.print(styled(note), overflow="fold")
        if section.get("metrics"):
            printer.print(_rich_table(METRIC_COLUMNS, metric_cells(section)))
        for tbl in text_tables(section):
            printer.print(styled(tbl["title"], "bold"))
            printer.print(_rich_table(tbl["columns"], cells(tbl)))
            for note in tbl.get("notes", []):
                printer.print(styled(note), overflow="fold")
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def _rich_table(columns: list[dict], rows: list[list[str]]) -> Table:
    """A compact table: numbers never cut, headers wrapped onto two lines rather than the values squeezed."""
    rows = [[visible(v) for v in r] for r in rows]
    t = Table(title=None, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
              caption="(no rows)" if not rows else None)
    for i, c in enumerate(columns):
        widths = [len(r[i]) for r in rows]
        label = visible(c["label"])
        word = max((len(w) for w in label.split()), default=1)
        if c["kind"] == "text":
            w = min(max(widths + [word]), TEXT_WIDTH)
            t.add_column(label, justify="left", no_wrap=True, overflow="ellipsis", max_width=w, min_width=min(w, 8))
        else:
            w = max(widths + [word])
            t.add_column(label, justify="right", min_width=w, max_width=w, overflow="fold")
    for r in rows:
        t.add_row(*(Text(v) for v in r))
    return t


FORMAT = ReportFormat("terminal", render, aliases=("table",))
