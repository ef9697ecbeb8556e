"""A verdict on a model switch: two cohorts of the logged traffic compared metric by metric, each
with its test, corrected for multiple comparisons, against the kill-switch guardrails of
[compare.guardrails] (docs/playbook.md, "Compare and roll out").

    cohorts.py    the two cohorts: periods (before/after), the user's SQL expressions, a metadata flag
    stats.py      the bootstrap, weighted quantiles, two-proportion z tests, Holm and BH
    settings.py   [compare] and [compare.guardrails] in costlab.toml
    run.py        compare(): the table, the verdict, the breaches; findings() and compare_findings()
    share.py      when a model's share of requests moved during a week (the weekly report's section)

    from costlab import compare
    result = compare.compare(store, compare.switch_day(store, "2026-11-09"))
    print(result.verdict)
    compare.compare_findings(store, config)   # breaches as findings, for `costlab alert`
"""

from costlab.compare.cohorts import Cohorts, expressions, flag, from_settings, periods, scoped, switch_day, window
from costlab.compare.run import Comparison, breaches, compare, compare_findings, findings, for_people, verdict
from costlab.compare.settings import CompareSettings, parse
from costlab.compare.share import share_shift

__all__ = [
    "Cohorts", "CompareSettings", "Comparison", "breaches", "compare", "compare_findings", "expressions", "findings",
    "flag", "for_people", "from_settings", "parse", "periods", "scoped", "share_shift", "switch_day", "verdict", "window",
]
