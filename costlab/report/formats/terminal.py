"""The report in the terminal: plain fixed-width tables (costlab.tables), plain text unless asked for
colour, no wider than the terminal. Numbers are never cut; long names are cut only when a table would
not fit otherwise, in the middle with an ellipsis and never so two names look the same (Markdown, JSON
and HTML keep them whole); a table too wide even then is shown one record per block. No markup and no
control character from the data reaches the terminal (costlab.display)."""

from __future__ import annotations

import io

import polars as pl

from costlab import tables
from costlab.display import console, styled, visible
from costlab.report.formats.base import ReportFormat
from costlab.report.formats.cells import METRIC_COLUMNS, cells, metric_cells, period, text_tables, title

TEXT_WIDTH = 24  # names are not cut shorter than this to make a table fit


def render(report: dict, *, width: int = 100, color: bool = False) -> str:
    """The report as tables no wider than `width` (plain text unless `color`)."""
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
            out.write(table_text(METRIC_COLUMNS, metric_cells(section), width))
        for tbl in text_tables(section):
            printer.print(styled(tbl["title"], "bold"))
            out.write(table_text(tbl["columns"], cells(tbl), width))
            for note in tbl.get("notes", []):
                printer.print(styled(note), overflow="fold")
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def table_text(columns: list[dict], rows: list[list[str]], width: int) -> str:
    """One report table as text: numbers right-aligned and never cut, names cut only to fit (costlab.tables)."""
    frame = pl.DataFrame({f"c{i}": [visible(r[i]) for r in rows] for i in range(len(columns))},
                         schema={f"c{i}": pl.String for i in range(len(columns))})
    numbers = [c["kind"] != "text" for c in columns]
    headers = [visible(" ".join(c["label"].split())) for c in columns]
    return "".join(tables.render(frame, numbers, width, header_names=headers, min_text=TEXT_WIDTH))


FORMAT = ReportFormat("terminal", render, aliases=("table",))
