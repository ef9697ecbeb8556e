"""The weekly report (`costlab report`): one function builds the report object, the formats write it.

    from costlab.report import build_report, render, window
    report = build_report(store, window.resolve(week_label="2026-W46"))
    text = render(report, "markdown")       # FORMATS: terminal (width, color), markdown, json, html

The object's shape is in costlab.report.document and docs/report.md. Two registries, each a tuple of
direct imports next to what it lists: the sections in costlab.report.sections (SECTIONS, report order)
and the formats in costlab.report.formats (FORMATS).
"""

from __future__ import annotations

from costlab.report import window
from costlab.report.build import build_report
from costlab.report.context import ReportContext
from costlab.report.formats import FORMATS, ReportFormat, format_for, render
from costlab.report.sections import SECTIONS, Section
from costlab.report.settings import ReportSettings

__all__ = ["FORMATS", "SECTIONS", "ReportContext", "ReportFormat", "ReportSettings", "Section", "build_report",
           "format_for", "render", "window"]
