"""The report's formats: THE registry, name -> ReportFormat, in the order `--format` lists them.

Each module writes the report object (costlab.report.document) as one kind of document and exports
it as `FORMAT` (costlab.report.formats.base.ReportFormat); what they all show the same way (values as
text, cells, titles) is in cells.py. Adding a format is one new module here plus one line below (and
its entry in docs/report.md and the `--format` help). These are the report's document formats; tables
(`costlab sql`, `summary`, ...) have their own output formats, apart from these.
"""

from __future__ import annotations

from pathlib import Path

from costlab.errors import ConfigError, did_you_mean
from costlab.report.formats import html, json, markdown, terminal
from costlab.report.formats.base import ReportFormat
from costlab.report.tables import FORMATS as TABLE_FORMATS  # csv, jsonl, parquet: the tables, a file each

FORMATS: dict[str, ReportFormat] = {f.name: f for f in (
    terminal.FORMAT,
    markdown.FORMAT,
    json.FORMAT,
    html.FORMAT,
)}


def format_for(fmt: str | None, out: str | None) -> str:
    """The format asked for, else the one --out's extension names (report.html is HTML), else terminal.
    csv, jsonl and parquet (report.tables.FORMATS) name the tables written one file each, not a document."""
    if fmt is None:
        if not out or out == "-":
            return "terminal"
        suffix = Path(out).suffix.lower()
        return next((f.name for f in FORMATS.values() if suffix in f.suffixes), "terminal")
    name = fmt.lower()
    name = next((f.name for f in FORMATS.values() if name in f.aliases), name)
    if name in TABLE_FORMATS:
        return name
    if name not in FORMATS:
        names = [*FORMATS, *TABLE_FORMATS]
        raise ConfigError(f"unknown report format {fmt!r}.{did_you_mean(name, names)} "
                          f"Choose one of: {', '.join(names)} (csv, jsonl and parquet write each table to a folder).")
    return name


def render(report: dict, fmt: str = "terminal", *, width: int = 100, color: bool = False) -> str:
    """The report object as text in format `fmt` (a name in FORMATS; `width` and `color` are the terminal's)."""
    return FORMATS[format_for(fmt, None)].render(report, width=width, color=color)


__all__ = ["FORMATS", "ReportFormat", "format_for", "render"]
