"""The report's period: an ISO week, or a date range, and the period of the same length before it.

With no flags and a store, the period follows the data, not the clock: the last ISO week that has
ended and that the data covers to its end (its last request falls on the week's Saturday or Sunday,
or later), among the requests inside the plausible window (costlab/plausible.py). A log that ended
two weeks ago gets its own last week, not an empty one; `Window.note` says what was chosen and why.

Days and weeks start at midnight in the window's time zone (`tz`: --tz or [report] timezone, default
UTC): in Europe/Berlin the week 2026-W47 runs from Monday 2026-11-16 00:00 +01:00, i.e. Sunday 23:00 UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from costlab import plausible
from costlab.errors import ConfigError

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True)
class Window:
    """[since, until), midnights in the time zone `tz`, and the previous period [prev_since, since) of the
    same number of days."""

    since: datetime
    until: datetime
    label: str
    prev_since: datetime
    prev_label: str
    note: str | None = None  # how a default period was chosen (for stderr), when it was
    tz: str = "UTC"  # the time zone whose midnights bound the days (an IANA name)

    def as_dict(self) -> dict:
        out = {
            "label": self.label,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "days": (self.until.date() - self.since.date()).days,
            "previous": {"label": self.prev_label, "since": self.prev_since.isoformat(), "until": self.since.isoformat()},
        }
        if self.tz != "UTC":  # said only when not the default, so a UTC report reads as it always has
            out["timezone"] = self.tz
        return out


def zone(tz: str = "UTC") -> tzinfo:
    """The tzinfo of an IANA name (checked by costlab.config.check_timezone); datetime's UTC for UTC."""
    return timezone.utc if tz == "UTC" else ZoneInfo(tz)


def _midnight(d: date, tz: str = "UTC") -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=zone(tz))


def _week_label(d: date) -> str:
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}"


def _range_label(since: date, until: date) -> str:
    return f"{since.isoformat()} to {(until - timedelta(days=1)).isoformat()}"


def week(label: str, tz: str = "UTC") -> Window:
    """The ISO week `label` (2026-W47), Monday 00:00 to Monday 00:00 in `tz`, against the week before it."""
    m = _WEEK.match(label.strip())
    if not m:
        raise ConfigError(f"--week {label!r}: expected an ISO week like 2026-W47")
    try:
        monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise ConfigError(f"--week {label!r}: {m.group(1)} has no week {int(m.group(2))}") from None
    try:
        prev = monday - timedelta(days=7)
        return Window(_midnight(monday, tz), _midnight(monday + timedelta(days=7), tz), _week_label(monday),
                      _midnight(prev, tz), _week_label(prev), tz=tz)
    except OverflowError:
        raise ConfigError(f"--week {label!r}: it or the week before it lies outside years 1 to 9999") from None


def date_range(since: date, until: date, tz: str = "UTC") -> Window:
    """[since, until) (until exclusive, as everywhere in costlab) against the same number of days before."""
    if until <= since:
        raise ConfigError(f"--until {until.isoformat()} must be after --since {since.isoformat()}")
    length = until - since
    try:
        prev = since - length
    except OverflowError:
        raise ConfigError(f"--since {since.isoformat()}: the period before it (compared with) starts before year 1") from None
    if since.isoweekday() == 1 and length == timedelta(days=7):
        return week(_week_label(since), tz)
    return Window(_midnight(since, tz), _midnight(until, tz), _range_label(since, until), _midnight(prev, tz),
                  _range_label(prev, since), tz=tz)


def resolve(week_label: str | None = None, since: date | None = None, until: date | None = None,
            today: date | None = None, store: Any = None, tz: str = "UTC") -> Window:
    """The window the flags ask for; by default the last full ISO week (before `today`, in `tz`) against the one before.

    With `store` and no flags, the last full ISO week *with data* (`last_week_with_data`) instead, so
    an old log is reported on its own last week; the clock's last week when the store has no request
    in the plausible window. --since alone runs to today (exclusive); --until alone starts 7 days before it.
    """
    if week_label and (since or until):
        raise ConfigError("give --week or --since/--until, not both")
    if week_label:
        return week(week_label, tz)
    today = today or datetime.now(zone(tz)).date()
    if since or until:
        until = until or today
        since = since or until - timedelta(days=7)
        return date_range(since, until, tz)
    this_monday = today - timedelta(days=today.isoweekday() - 1)
    clock = week(_week_label(this_monday - timedelta(days=7)), tz)
    if store is None:
        return clock
    return last_week_with_data(store, today, tz) or clock


def data_span(store: Any, before: datetime | None = None, tz: str = "UTC") -> tuple[date, date] | None:
    """(first day, last day) in `tz` of the requests inside the plausible window (and before `before`), or None."""
    b = plausible.analysis_bounds(getattr(store, "config", None))
    hi = b.latest if before is None else min(b.latest, before)
    first, last = store.rows("select min(ts) filter (where ts >= $lo and ts < $hi), "
                             "max(ts) filter (where ts >= $lo and ts < $hi) from requests",
                             {"lo": b.earliest, "hi": hi})[0]
    if first is None:
        return None
    return first.astimezone(zone(tz)).date(), last.astimezone(zone(tz)).date()


def last_week_with_data(store: Any, today: date | None = None, tz: str = "UTC") -> Window | None:
    """The last ISO week that has ended (before `today`'s week, in `tz`) and that the data covers to its
    end, against the week before; None when no request falls in the plausible window before this week.

    Covered to its end: the last request is on the week's Saturday or Sunday (a log that stops on a
    Wednesday would compare three days with seven). When it is not, the week before, if the data
    reaches back to it; otherwise the one partial week, said in the note.
    """
    today = today or datetime.now(zone(tz)).date()
    this_monday = today - timedelta(days=today.isoweekday() - 1)
    span = data_span(store, before=_midnight(this_monday, tz), tz=tz)
    if span is None:
        return None
    first, last = span
    monday = last - timedelta(days=last.isoweekday() - 1)
    ranged = f"the requests run {first.isoformat()} to {last.isoformat()}"
    if last.isoweekday() >= 6:
        chosen, why = monday, f"the last full week with data ({ranged})"
    elif first < monday:
        chosen = monday - timedelta(days=7)
        why = (f"the last full week with data ({ranged}; {_week_label(monday)} stops on "
               f"{last.strftime('%A')}: --week {_week_label(monday)} reports it)")
    else:
        chosen, why = monday, f"a partial week: {ranged}, no full week"
    w = week(_week_label(chosen), tz)
    clock = _week_label(this_monday - timedelta(days=7))
    if w.label != clock:
        why += f"; the last week by the clock, {clock}, has none"
    return Window(w.since, w.until, w.label, w.prev_since, w.prev_label, note=f"reporting {w.label}, {why}", tz=tz)


def empty_sentence(store: Any, w: Window) -> str:
    """"No requests in W." and, when the store has requests elsewhere, the days they run and a week to ask for."""
    span = data_span(store, tz=w.tz)
    if span is None:
        return f"No requests in {w.label}: the store has no requests (inside the plausible window)."
    first, last = span
    monday = last - timedelta(days=last.isoweekday() - 1)
    return (f"No requests in {w.label}: the store's requests run {first.isoformat()} to {last.isoformat()} "
            f"(try --week {_week_label(monday)}, or --since {first.isoformat()}).")


def empty_note(store: Any, w: Window) -> str | None:
    """`empty_sentence` when the period has no request, else None (the CLI says it on stderr)."""
    if store.scalar("select count(*) from requests where ts >= $s and ts < $u", {"s": w.since, "u": w.until}):
        return None
    return empty_sentence(store, w)
