"""The what-if simulator: what the logged traffic would have cost (and how good it would have been)
under another routing split or policy, with intervals. See docs/whatif.md.

    reduction = reduce(store, since=..., until=...)         # the one pass over the logs
    result = evaluate(reduction, Scenario(parse_split("haiku=70,sonnet=25,opus=5")))
    bootstrap(result)                                         # day-block intervals
    grid = frontier.proportional(reduction)                   # 5,151 splits, Pareto set
    daily = reduce_daily_totals(store, since=..., until=...)  # per-day totals only: proportional splits, current
    bootstrap(evaluate_daily_totals(daily, Scenario(parse_split("haiku=70,sonnet=25,opus=5"))))

The modules, each importing only those above it:

    arrays.py        Reduction (per-request arrays), ReduceOptions, per-day totals, tier quality
    pass_sql.py      the passes' SQL (queries/whatif/*.sql) rendered for a store
    reduce.py        the one pass: the store to a Reduction
    policies.py      per-request choices: complexity scores, quantiles, oracle, cascade
    scenario.py      splits, scenarios, evaluate, bootstrap
    daily_totals.py  the aggregate-first pass for proportional splits (the report's headline)
    frontier.py      every split on a grid, the Pareto set, RouteLLM/RouterBench metrics
    backtest.py      predict a test period from a train period
    routellm.py      RouteLLM outcomes as judgements, and a Reduction from them
    evals.py         an imported eval set (replay import) as a Reduction, its cost priced from its tokens
"""

from costlab.money import nusd_to_usd
from costlab.whatif.arrays import ReduceOptions, Reduction
from costlab.whatif.daily_totals import DailyTotals, evaluate_daily_totals, reduce_daily_totals
from costlab.whatif.policies import POLICIES, fit_weights
from costlab.whatif.reduce import reduce, resolve_tiers
from costlab.whatif.scenario import Result, Scenario, Split, bootstrap, evaluate, parse_split

__all__ = [
    "POLICIES", "DailyTotals", "ReduceOptions", "Reduction", "Result", "Scenario", "Split", "bootstrap", "evaluate",
    "evaluate_daily_totals", "fit_weights", "nusd_to_usd", "parse_split", "reduce", "reduce_daily_totals",
    "resolve_tiers",
]
