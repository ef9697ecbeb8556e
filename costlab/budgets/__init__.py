"""Budgets and their forecast (`[[budgets]]` in costlab.toml, `costlab budget`; docs/playbook.md).

    settings.py   [[budgets]]: name, period (month or week), amount_usd, scope, lookback_weeks
    forecast.py   the run-rate forecast: weekday seasonality, a linear trend, a bootstrap interval
    run.py        budget_status (spend to date, forecast, the day it crosses) and budget_findings
                  (breach: high; forecast breach: medium) in the signals' findings shape, so
                  `costlab alert` sends them

    rows = budget_status(store)          # a polars frame, one row per budget
    found = budget_findings(store)       # findings, worst first
"""

from costlab.budgets.forecast import Forecast, forecast
from costlab.budgets.run import (
    STATUS_COLUMNS, STATUSES, budget_findings, budget_status, data_days, default_through, findings, period_of,
)
from costlab.budgets.settings import Budget, budgets

__all__ = ["Budget", "Forecast", "STATUSES", "STATUS_COLUMNS", "budget_findings", "budget_status", "budgets",
           "data_days", "default_through", "findings", "forecast", "period_of"]
