"""The weekly report (`costlab report`): one function builds the report object, renderers draw it.

    from costlab.report import build_report, window, render
    report = build_report(store, window.resolve(week_label="2026-W46"))
    text = render.markdown(report)          # also: terminal(report, width), json_text(report), html(report)

The object's shape is in costlab.report.model and docs/report.md; the list of sections, and the hook
for sections other modules provide, in costlab.report.build.
"""

from __future__ import annotations

from costlab.report import window
from costlab.report.build import SECTIONS, ReportContext, SectionSpec, build_report
from costlab.report.settings import ReportSettings

__all__ = ["SECTIONS", "ReportContext", "ReportSettings", "SectionSpec", "build_report", "window"]
