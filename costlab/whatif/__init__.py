"""The what-if simulator: what the logged traffic would have cost (and how good it would have been)
under another routing split or policy, with intervals. See docs/whatif.md.

    red = reduce(store, since=..., until=...)          # the one pass over the logs
    res = evaluate(red, Scenario(parse_split("haiku=70,sonnet=25,opus=5")))
    bootstrap(res)                                      # day-block intervals
    fr = frontier.proportional(red)                     # 5,151 splits, Pareto set
    seg = reduce_segments(store, since=..., until=...)  # per-day totals only: proportional splits, current
    bootstrap(evaluate_segments(seg, Scenario(parse_split("haiku=70,sonnet=25,opus=5"))))
"""

from costlab.whatif.reduce import ReduceOptions, Reduction, reduce, resolve_tiers
from costlab.whatif.scenario import (
    POLICIES, Result, Scenario, Split, bootstrap, evaluate, fit_weights, nusd_to_usd, parse_split,
)
from costlab.whatif.segments import Segments, evaluate_segments, reduce_segments

__all__ = [
    "POLICIES", "ReduceOptions", "Reduction", "Result", "Scenario", "Segments", "Split", "bootstrap", "evaluate",
    "evaluate_segments", "fit_weights", "nusd_to_usd", "parse_split", "reduce", "reduce_segments", "resolve_tiers",
]
