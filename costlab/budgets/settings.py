"""`[[budgets]]` in costlab.toml: one table per budget, checked whole before anything runs.

    [[budgets]]
    name = "org-monthly"          # unique; names the finding and the row of `costlab budget`
    period = "month"              # month (calendar, UTC) or week (ISO: Monday to Sunday, UTC)
    amount_usd = "12000"          # dollars: a string, an integer or a decimal (read as written, never as binary float)
    scope = "org"                 # org (default), or one of feature=NAME, customer=ID, tier=NAME, model=ID
    lookback_weeks = 6            # history the forecast rests on (default 6, 1 to 26)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from costlab.config import named_tables
from costlab.errors import ConfigError

PERIODS = ("month", "week")
# scope key in costlab.toml -> what queries/budgets/daily_spend.sql's $scope names
SCOPES = ("feature", "customer", "tier", "model")
# Six weeks: in the backtest (benchmarks/RESULTS.md, "Budget forecast": day 10 against the month's end)
# its error was the lowest (3.5%, naive run rate 5.0%) with the interval holding the truth 88% of the
# time for 90%; two weeks (weekday factors, no trend) erred as little but its interval held 76%, and
# four weeks erred more (3.9%).
DEFAULT_LOOKBACK_WEEKS = 6
KEYS = ("name", "period", "amount_usd", "scope", "lookback_weeks")


@dataclass(frozen=True)
class Budget:
    name: str
    period: str
    amount_usd: Decimal
    scope: str = "org"  # org, feature, customer, tier or model
    value: str | None = None  # the feature, customer, tier or model, when scope is not org
    lookback_weeks: int = 6

    @property
    def scope_label(self) -> str:
        return "org" if self.scope == "org" else f"{self.scope}={self.value}"


def budgets(tables: list[dict[str, Any]]) -> list[Budget]:
    """The budgets of `[[budgets]]`, in file order.

    Raises:
        ConfigError: an unknown key, a missing or bad value, or two budgets with one name.
    """
    found: list[Budget] = []
    for where, name, table in named_tables(tables, "budgets", KEYS, "org-monthly"):
        period = table.get("period", "month")
        if period not in PERIODS:
            raise ConfigError(f"{where}: period must be month or week, got {period!r}")
        amount = _amount(where, table.get("amount_usd"))
        scope, value = _scope(where, table.get("scope", "org"))
        lookback = table.get("lookback_weeks", DEFAULT_LOOKBACK_WEEKS)
        if isinstance(lookback, bool) or not isinstance(lookback, int) or not 1 <= lookback <= 26:
            raise ConfigError(f"{where}: lookback_weeks must be a whole number of weeks from 1 to 26, got {lookback!r}")
        found.append(Budget(name.strip(), period, amount, scope, value, lookback))
    return found


def _amount(where: str, value: Any) -> Decimal:
    if value is None:
        raise ConfigError(f"{where}: amount_usd is required (dollars, e.g. amount_usd = \"12000\")")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}: amount_usd must be a number of dollars, got {value!r}")
    try:
        # A TOML float is read through its shortest repr (12000.5 -> "12000.5"), the value as written.
        amount = Decimal(str(value).strip().replace("_", "").replace(",", ""))
    except InvalidOperation:
        raise ConfigError(f"{where}: amount_usd {value!r} is not a number of dollars") from None
    if not amount.is_finite() or amount <= 0:
        raise ConfigError(f"{where}: amount_usd must be more than zero, got {value!r}")
    return amount


def _scope(where: str, value: Any) -> tuple[str, str | None]:
    if value == "org":
        return "org", None
    if isinstance(value, str) and "=" in value:
        key, _, name = value.partition("=")
        key, name = key.strip(), name.strip()
        if key in SCOPES and name:
            return key, name
    raise ConfigError(f"{where}: scope must be org or one of {', '.join(s + '=NAME' for s in SCOPES)}, got {value!r}")
