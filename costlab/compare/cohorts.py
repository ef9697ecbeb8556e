"""The two cohorts `costlab compare` sets side by side, and their rows out of the store.

Three ways to cut the logged traffic in two (cohort a is the baseline, b the change):

    periods      a = [since_a, until_a), b = [since_b, until_b): before and after a switch
                 (`--before DAY..DAY --after DAY..DAY`, or `--switch-day DAY` with equal windows)
    expressions  a and b are the user's own SQL conditions over costed_requests' columns
                 (`--a "model = 'X'" --b "model = 'Y'"`) over one window
    flag         a rollout: b is the rows whose metadata KEY is true (true, "true", 1, "yes" or "on"),
                 a every other row of the window (false, another value, absent). The key is read at
                 the top of `attributes` (the envelope's metadata), else where a canonical file keeps
                 it (attributes.attributes.KEY: its attributes column; attributes.extra.KEY: a
                 column of its own)

`where` (the user's SQL) and `feature` (a bound value) narrow both. The user's expressions are
checked to be one expression each (costlab.store.sqlquote.expression: not a statement, no ';') and
go into the query text; the flag's key, the feature and every time are bound parameters, so no
value from the logs is ever part of the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import polars as pl

from costlab import signals
from costlab.errors import ConfigError
from costlab.store import Store
from costlab.store.sqlquote import expression
from costlab.whatif.pass_sql import render, tables

QUERY = "compare/requests"
# The key at the top of attributes (an envelope's metadata), else where canonical files keep it: their
# `attributes` column, or a column of their own (`extra`).
_FLAG = ("coalesce(json_extract_string(cr.attributes, $flag_path), "
         "json_extract_string(cr.attributes, '/attributes' || $flag_path), "
         "json_extract_string(cr.attributes, '/extra' || $flag_path))")
_TRUE = f"coalesce(lower(trim({_FLAG})) in ('true', '1', 'yes', 'on'), false)"
_PERIOD = "(cr.ts >= $since_{k} and cr.ts < $until_{k})"


@dataclass(frozen=True)
class Cohorts:
    kind: str  # periods, expressions or flag
    since: datetime  # the span both cohorts lie in
    until: datetime
    periods: tuple[datetime, datetime, datetime, datetime] | None = None  # since_a, until_a, since_b, until_b
    a: str | None = None  # expressions, as given
    b: str | None = None
    flag: str | None = None  # the metadata key
    where: str | None = None
    feature: str | None = None

    @property
    def labels(self) -> tuple[str, str]:
        """What a and b are, in words (the user's text as given: shown through costlab.display)."""
        if self.kind == "periods":
            sa, ua, sb, ub = self.periods
            return _span(sa, ua), _span(sb, ub)
        if self.kind == "flag":
            return f"{self.flag} not true", f"{self.flag} true"
        return str(self.a), str(self.b)

    @property
    def scope(self) -> str:
        """The window and filters, in words."""
        parts = [] if self.kind == "periods" else [_span(self.since, self.until)]
        if self.feature:
            parts.append(f"feature {self.feature}")
        if self.where:
            parts.append(f"where {self.where}")
        return ", ".join(parts)


def _span(since: datetime, until: datetime) -> str:
    last = (until - timedelta(days=1)).date() if until.time() == datetime.min.time() else until
    return f"{since.date()} to {last}" if last != since.date() else f"{since.date()}"


def _day(value: str | date | datetime, what: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), tzinfo=timezone.utc)
    try:
        return datetime.combine(date.fromisoformat(str(value).strip()), datetime.min.time(), tzinfo=timezone.utc)
    except ValueError:
        raise ConfigError(f"{what}: expected a day like 2026-11-08, got {value!r}") from None


def parse_period(text: str, what: str) -> tuple[datetime, datetime]:
    """'2026-11-01..2026-11-08' (or with ':'): the first day inclusive, the second exclusive."""
    for sep in ("..", ":"):
        if sep in str(text):
            first, second = str(text).split(sep, 1)
            since, until = _day(first, what), _day(second, what)
            if until <= since:
                raise ConfigError(f"{what} {text!r}: the end (exclusive) must come after the start")
            return since, until
    raise ConfigError(f"{what}: expected FIRST..END like 2026-11-01..2026-11-08 (the end day not included), got {text!r}")


def periods(before: str, after: str) -> Cohorts:
    sa, ua = parse_period(before, "--before")
    sb, ub = parse_period(after, "--after")
    if sa < ub and sb < ua:
        raise ConfigError(f"--before {before} and --after {after} overlap: a request would be in both")
    return Cohorts("periods", min(sa, sb), max(ua, ub), periods=(sa, ua, sb, ub))


def last_day(store: Store) -> datetime:
    """The end of the last day with traffic (the signals' window rule: plausible timestamps only)."""
    span = signals.window(store, "1d")
    if span is None:
        raise ConfigError("the store has no requests to compare")
    return span[1]


def switch_day(store: Store, day: str | date | datetime, days: int | None = None) -> Cohorts:
    """`days` before the switch day against the switch day and `days` - 1 after it; by default as many
    days as the traffic has from the switch day on (so both windows cover the same weekdays when
    that is a whole number of weeks)."""
    switch = _day(day, "--switch-day")
    if days is None:
        days = (last_day(store) - switch).days
        if days < 1:
            raise ConfigError(f"--switch-day {switch.date()}: the store has no traffic on or after it")
    width = timedelta(days=days)
    return Cohorts("periods", switch - width, switch + width, periods=(switch - width, switch, switch, switch + width))


def window(store: Store, since: str | date | None, until: str | date | None, days: int = 7) -> tuple[datetime, datetime]:
    """[since, until), by default the last `days` days of traffic."""
    end = _day(until, "--until") if until is not None else last_day(store)
    start = _day(since, "--since") if since is not None else end - timedelta(days=days)
    if end <= start:
        raise ConfigError("--until must come after --since")
    return start, end


def expressions(a: str, b: str, since: datetime, until: datetime) -> Cohorts:
    expression(a, "--a")
    expression(b, "--b")
    return Cohorts("expressions", since, until, a=a, b=b)


def flag(key: str, since: datetime, until: datetime) -> Cohorts:
    if not key or not key.strip():
        raise ConfigError("--flag: expected a metadata key, e.g. --flag new_model")
    return Cohorts("flag", since, until, flag=key)


def scoped(cohorts: Cohorts, where: str | None = None, feature: str | None = None) -> Cohorts:
    if where is not None:
        expression(where, "--where")
    return replace(cohorts, where=where, feature=feature)


def from_settings(store: Store, section: dict[str, Any]) -> Cohorts | None:
    """The default comparison of [compare] (flag, a/b, switch_day, before/after), or None when it has none."""
    days = section.get("days", 7)
    if section.get("before") or section.get("after"):
        if not (section.get("before") and section.get("after")):
            raise ConfigError("costlab.toml [compare]: before and after go together")
        found = periods(section["before"], section["after"])
    elif section.get("switch_day"):
        found = switch_day(store, section["switch_day"], section.get("days"))
    elif section.get("a") or section.get("b"):
        if not (section.get("a") and section.get("b")):
            raise ConfigError("costlab.toml [compare]: a and b go together")
        found = expressions(section["a"], section["b"], *window(store, None, None, days))
    elif section.get("flag"):
        found = flag(section["flag"], *window(store, None, None, days))
    else:
        return None
    return scoped(found, section.get("where"), section.get("feature"))


def flag_pointer(key: str) -> str:
    """The JSON Pointer (RFC 6901) of a top-level key: any text names exactly that key ('~' and '/'
    escaped as ~0 and ~1), bound as a parameter, never part of the SQL."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _render(store: Store, cohorts: Cohorts, totals: bool) -> tuple[str, dict[str, Any]]:
    if cohorts.kind == "periods":
        in_a, in_b = _PERIOD.format(k="a"), _PERIOD.format(k="b")
    elif cohorts.kind == "flag":
        in_a, in_b = f"not {_TRUE}", _TRUE
    else:
        in_a, in_b = expression(cohorts.a, "--a"), expression(cohorts.b, "--b")
    where = expression(cohorts.where, "--where") if cohorts.where else None
    text = render(QUERY, in_a=in_a, in_b=in_b, where=where, totals=totals,
                  judgements=not totals and "judgements" in tables(store))
    params: dict[str, Any] = {"since": cohorts.since, "until": cohorts.until, "feature": cohorts.feature,
                              "satisfactory_score": 0.5}
    if cohorts.periods:
        params.update(zip(("since_a", "until_a", "since_b", "until_b"), cohorts.periods))
    if cohorts.flag is not None:
        params["flag_path"] = flag_pointer(cohorts.flag)
    return text, params


def _run(store: Store, cohorts: Cohorts, totals: bool, satisfactory_score: float = 0.5) -> pl.DataFrame:
    text, params = _render(store, cohorts, totals)
    params["satisfactory_score"] = satisfactory_score
    used = {k: v for k, v in params.items() if f"${k}" in text}
    return store.frame(text, used)  # one statement (checked): the user's expressions were checked to be one each


def load(store: Store, cohorts: Cohorts, satisfactory_score: float = 0.5) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(each cohort's exact totals, one row per request) of the two cohorts.

    Raises:
        ConfigError: a row both cohorts claim, or a cohort with no rows.
    """
    totals = _run(store, cohorts, totals=True)
    both = totals.filter(pl.col("cohort") == "both")
    if both.height:
        raise ConfigError(f"{both['rows'][0]:,} requests match both --a and --b: the cohorts must not overlap "
                          "(narrow one, e.g. add `and not (...)`)")
    present = set(totals["cohort"].to_list())
    missing = [c for c in ("a", "b") if c not in present]
    if missing:
        a, b = cohorts.labels
        names = {"a": f"a ({a})", "b": f"b ({b})"}
        where = f" in {cohorts.scope}" if cohorts.scope else ""
        raise ConfigError(f"cohort {' and '.join(names[m] for m in missing)} has no requests{where}: nothing to compare")
    rows = _run(store, cohorts, totals=False, satisfactory_score=satisfactory_score)
    # The bootstrap draws rows by position: one canonical order (every column; equal rows are alike),
    # whatever order the engine returned them in (the store, a lake on DuckDB or on Spark)
    return totals, rows.sort(rows.columns, nulls_last=True)
