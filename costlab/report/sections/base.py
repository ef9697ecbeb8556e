"""What a report section is: its name, its title, the function that builds it, and when it runs.

A section's build function is

    def build(ctx: ReportContext) -> dict | None

returning the section's body in the shape of costlab.report.document (notes, metrics, tables, and
any other JSON keys; build_report puts `title` first), or None when its data does not exist for
this window: the section is then absent from the report, never a placeholder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from costlab.report.context import ReportContext

Builder = Callable[[ReportContext], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Section:
    name: str  # the key under report["sections"]
    title: str  # the heading every format shows
    build: Builder
    # From another analysis (findings, what-if, reconciliation) rather than the report's own figures:
    # the golden files and the benchmark's "own sections" run leave these out.
    optional: bool = False
    # Runs while the window is priced once (reads costed_requests as the report's queries do). The
    # other analyses' sections choose their own windows and tables, so they run after it (False),
    # against the store as it is.
    priced: bool = True
    # Runs the signal detectors: the priced window widens to their look-back, and ctx.signals_window
    # says so (the findings section).
    signals_lookback: bool = False
