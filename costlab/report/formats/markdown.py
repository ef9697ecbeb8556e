"""The report as Markdown: the terminal's content, one `##` per section, numbers right-aligned.
User strings (features, customers, models) go through the one Markdown escaping (costlab.display),
so a feature called `a|b` cannot break a table."""

from __future__ import annotations

from costlab.display import markdown_text
from costlab.report.formats.base import ReportFormat
from costlab.report.formats.cells import METRIC_COLUMNS, cells, metric_cells, period, text_tables, title

_md = markdown_text  # the one Markdown escaping (costlab.display), shared with every Markdown writer


def _md_table(cols: list[dict], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md(c["label"]) for c in cols) + " |",
             "|" + "|".join("---" if c["kind"] == "text" else "---:" for c in cols) + "|"]
    lines += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return lines


def render(report: dict, *, width: int = 100, color: bool = False) -> str:
    """The report as one Markdown document (width and color are the terminal's: not used)."""
    lines = [f"# {_md(title(report))}", "", f"{period(report)}."]
    for name, section in report["sections"].items():
        lines += ["", f"## {_md(section.get('title', name))}"]
        if section.get("notes"):
            lines += [""] + [f"- {_md(n)}" for n in section["notes"]]
        if section.get("metrics"):
            lines += [""] + _md_table(METRIC_COLUMNS, metric_cells(section))
        for tbl in text_tables(section):
            lines += ["", f"### {_md(tbl['title'])}", ""]
            lines += _md_table(tbl["columns"], cells(tbl)) if tbl["rows"] else ["(no rows)"]
            if tbl.get("notes"):
                lines += [""] + [f"- {_md(n)}" for n in tbl["notes"]]
    return "\n".join(lines) + "\n"


FORMAT = ReportFormat("markdown", render, suffixes=(".md", ".markdown"))
