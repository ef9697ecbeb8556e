"""Plausible request times: the window a log's timestamps must fall in, and the default windows of
the analyses, which never follow a timestamp outside it.

    [ingest]
    earliest = "2023-01-01"     # a day or an instant (UTC), or relative to now: "-400 days"
    latest = "+1 day"           # the default: one day after the ingest runs

Ingest rejects a row whose `ts` falls outside [earliest, latest) with a reason naming the value and
the window (costlab/ingest/canonical.py binds the two bounds as parameters). Both bounds are always
inside Python's datetime range, so a row of year 10000, year -1 or `infinity` is never ingested.

A store may still hold such rows (ingested before this check, by hand, or under a wider window).
The default windows ignore them: `analysis_bounds` is [earliest, min(latest, now + 1 day)), so one
row stamped 2100 cannot move the signals' window to 2100, and every command that picks its window by
default (signals, summary, whatif, the report's findings) reads only requests inside it and says on
stderr how many it left out (`outside_note`). An explicit --since/--until still reads what it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from costlab.config import Config
from costlab.errors import ConfigError
from costlab.store.sqlquote import literal

DEFAULT_EARLIEST = "2023-01-01"
DEFAULT_LATEST = "+1 day"
# However wide [ingest] latest is, a default window never reaches past a day from now.
HORIZON = timedelta(days=1)
_RELATIVE = re.compile(r"^([+-])\s*(\d+)\s*(hours?|h|days?|d|weeks?|w)$", re.IGNORECASE)
# Python's datetime range: a bound outside it could not be compared with in Python at all.
_LOWEST = datetime(1, 1, 2, tzinfo=timezone.utc)
_HIGHEST = datetime(9999, 12, 30, tzinfo=timezone.utc)
# An open end of a window (`fill`): every time Python can hold.
_OPEN_START = datetime.min.replace(tzinfo=timezone.utc)
_OPEN_END = datetime.max.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Bounds:
    """[earliest, latest) in UTC."""

    earliest: datetime
    latest: datetime

    def describe(self) -> str:
        return f"{_text(self.earliest)} to {_text(self.latest)} UTC"

    def params(self) -> dict[str, Any]:
        """The bind parameters of the ingest check (canonical.PLAUSIBLE_TS)."""
        return {"ts_earliest": self.earliest, "ts_latest": self.latest,
                "ts_window": f"{self.describe()} (to accept it, widen [ingest] earliest/latest in costlab.toml)"}


def _text(t: datetime) -> str:
    t = t.astimezone(timezone.utc)
    return t.date().isoformat() if t.time() == datetime.min.time() else t.replace(tzinfo=None).isoformat(" ", "seconds")


def parse_bound(value: Any, key: str, now: datetime) -> datetime:
    """A bound from costlab.toml: a TOML date or datetime, "YYYY-MM-DD", an ISO instant, or "+1 day",
    "-400 days", "+36 hours", "+2 weeks" from `now`. Naive instants are UTC."""
    where = f"costlab.toml [ingest] {key}"
    if isinstance(value, datetime):
        t = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    elif isinstance(value, date):
        t = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        m = _RELATIVE.match(text)
        if m:
            n, unit = int(m.group(2)), m.group(3)[0].lower()
            step = timedelta(hours=n) if unit == "h" else timedelta(days=n) if unit == "d" else timedelta(weeks=n)
            try:
                t = now + step if m.group(1) == "+" else now - step
            except OverflowError:
                raise ConfigError(f"{where} = {value!r}: too far from now") from None
        else:
            try:
                t = datetime.fromisoformat(text)
            except ValueError:
                raise ConfigError(f'{where} = {value!r}: expected a day like "2023-01-01", an instant like '
                                  f'"2023-01-01T00:00:00Z", or a span from now like "+1 day" or "-400 days"') from None
            t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    else:
        raise ConfigError(f'{where}: expected a day like "2023-01-01" or a span from now like "+1 day", got {value!r}')
    t = t.astimezone(timezone.utc)
    if not _LOWEST <= t <= _HIGHEST:
        raise ConfigError(f"{where} = {value!r}: must lie between years 1 and 9999")
    return t


def bounds(config: Config | None, now: datetime | None = None) -> Bounds:
    """The plausible window of request times from [ingest] earliest/latest (defaults 2023-01-01 and
    one day from `now`, the time of the ingest)."""
    section = (config.ingest if config is not None else {}) or {}
    now = now or datetime.now(timezone.utc)
    earliest = parse_bound(section.get("earliest", DEFAULT_EARLIEST), "earliest", now)
    latest = parse_bound(section.get("latest", DEFAULT_LATEST), "latest", now)
    if earliest >= latest:
        raise ConfigError(f"costlab.toml [ingest]: earliest ({_text(earliest)}) must be before latest ({_text(latest)})")
    return Bounds(earliest, latest)


def analysis_bounds(config: Config | None, now: datetime | None = None) -> Bounds:
    """The requests a default window may read: the plausible window, and never past a day from now
    (so a wide [ingest] latest, or rows written before the ingest check, cannot drag it forward)."""
    now = now or datetime.now(timezone.utc)
    b = bounds(config, now)
    latest = min(b.latest, now + HORIZON)
    if latest <= b.earliest:
        raise ConfigError(f"costlab.toml [ingest] earliest ({_text(b.earliest)}) is after tomorrow: "
                          "no request can fall in the default window")
    return Bounds(b.earliest, latest)


def outside_note(store: Any, b: Bounds, before: bool = True, after: bool = True) -> str | None:
    """A sentence for stderr when the store holds requests before b.earliest (when `before`) or at or
    after b.latest (when `after`), else None."""
    n_before, n_after = store.rows("select count(*) filter (where ts < $e), count(*) filter (where ts >= $l) "
                                   "from requests", {"e": b.earliest, "l": b.latest})[0]
    return outside_sentence(n_before if before else 0, n_after if after else 0, b)


def outside_sentence(before: int, after: int, b: Bounds) -> str | None:
    if not before and not after:
        return None
    n = before + after
    where = (f"before {_text(b.earliest)}" if not after else f"from {_text(b.latest)} UTC on" if not before
             else f"outside {b.describe()}")
    where_sql = " or ".join(([f"ts < {literal(_text(b.earliest))}"] if before else []) + ([f"ts >= {literal(_text(b.latest))}"] if after else []))
    it = "them" if n != 1 else "it"
    return (f"{n:,} request{'s have' if n != 1 else ' has'} a timestamp {where}, outside the plausible window "
            f"([ingest] earliest/latest in costlab.toml): the default window leaves {it} out. Give --since/--until "
            f"to read {it}, or list {it} with: costlab sql \"select * from requests where {where_sql}\"")


def fill(config: Config | None, since: datetime | None, until: datetime | None,
         now: datetime | None = None) -> tuple[datetime, datetime]:
    """[since, until) for a window that defaults to the whole log (summary, whatif): a missing end is
    the plausible window's (analysis_bounds), unless the end that was given lies beyond it (then the
    window is open on that side, as before: `--since 2099-12-01` reads 2099 on)."""
    if since is not None and until is not None:
        return since, until
    since, until = _instant(since), _instant(until)
    b = analysis_bounds(config, now)
    if since is None:
        since = b.earliest if until is None or until > b.earliest else _OPEN_START
    if until is None:
        until = b.latest if since < b.latest else _OPEN_END
    return since, until


def _instant(value: datetime | date | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    try:
        return _instant(datetime.fromisoformat(str(value).strip()))
    except ValueError:
        raise ConfigError(f"expected a day like 2026-11-16, got {value!r}") from None


def default_window(store: Any, since: datetime | None, until: datetime | None,
                   now: datetime | None = None) -> tuple[datetime, datetime, str | None]:
    """(since, until, note): `fill`, and a note counting the requests the filled-in ends leave out."""
    start, end = fill(store.config, since, until, now)
    if (since is not None and until is not None) or start >= end:
        return start, end, None
    return start, end, outside_note(store, Bounds(start, end), before=since is None, after=until is None)
