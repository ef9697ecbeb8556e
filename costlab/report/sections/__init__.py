"""The report's sections, in report order: THE registry.

Each module builds one section and exports it as `SECTION` (costlab.report.sections.base.Section:
name, title, build function, and when it runs). Adding a section is one new module here plus one
line below (and its row in docs/report.md); every format draws it with no code of its own.
"""

from costlab.report.sections import (
    efficiency,
    findings,
    headline,
    model_switch,
    reconciliation,
    reliability,
    spend,
    tier_mix,
    trends,
    whatif,
)
from costlab.report.sections.base import Section

SECTIONS: tuple[Section, ...] = (
    headline.SECTION,
    spend.SECTION,
    tier_mix.SECTION,
    efficiency.SECTION,
    reliability.SECTION,
    findings.SECTION,  # wrong-model findings: the detectors on the same priced window, widened to their look-back
    model_switch.SECTION,  # a model's share moved: costlab compare before/after that day (costlab.compare)
    whatif.SECTION,  # the routing splits against the actual one (costlab.whatif)
    reconciliation.SECTION,  # computed against reported cost (costlab.reconcile)
    trends.SECTION,
)

__all__ = ["SECTIONS", "Section"]
