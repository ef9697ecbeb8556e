"""The report as JSON: the report object itself (costlab.report.document), every figure, keys in a
stable order, money as exact strings (docs/report.md)."""

from __future__ import annotations

import json

from costlab.report.formats.base import ReportFormat


def render(report: dict, *, width: int = 100, color: bool = False) -> str:
    """The report object as indented JSON (width and color are the terminal's: not used)."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


FORMAT = ReportFormat("json", render, suffixes=(".json",))
