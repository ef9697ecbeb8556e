"""The report's period: an ISO week, or a date range, and the period of the same length before it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from costlab.errors import ConfigError

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True)
class Window:
    """[since, until) in UTC, and the previous period [prev_since, since) of the same length."""

    since: datetime
    until: datetime
    label: str
    prev_since: datetime
    prev_label: str

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "days": (self.until - self.since).days,
            "previous": {"label": self.prev_label, "since": self.prev_since.isoformat(), "until": self.since.isoformat()},
        }


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def _week_label(d: date) -> str:
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}"


def _range_label(since: date, until: date) -> str:
    return f"{since.isoformat()} to {(until - timedelta(days=1)).isoformat()}"


def week(label: str) -> Window:
    """The ISO week `label` (2026-W47) against the week before it."""
    m = _WEEK.match(label.strip())
    if not m:
        raise ConfigError(f"--week {label!r}: expected an ISO week like 2026-W47")
    try:
        monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise ConfigError(f"--week {label!r}: {m.group(1)} has no week {int(m.group(2))}") from None
    try:
        prev = monday - timedelta(days=7)
        return Window(_midnight(monday), _midnight(monday + timedelta(days=7)), _week_label(monday),
                      _midnight(prev), _week_label(prev))
    except OverflowError:
        raise ConfigError(f"--week {label!r}: it or the week before it lies outside years 1 to 9999") from None


def date_range(since: date, until: date) -> Window:
    """[since, until) (until exclusive, as everywhere in costlab) against the same number of days before."""
    if until <= since:
        raise ConfigError(f"--until {until.isoformat()} must be after --since {since.isoformat()}")
    length = until - since
    try:
        prev = since - length
    except OverflowError:
        raise ConfigError(f"--since {since.isoformat()}: the period before it (compared with) starts before year 1") from None
    if since.isoweekday() == 1 and length == timedelta(days=7):
        return week(_week_label(since))
    return Window(_midnight(since), _midnight(until), _range_label(since, until), _midnight(prev), _range_label(prev, since))


def resolve(week_label: str | None = None, since: date | None = None, until: date | None = None,
            today: date | None = None) -> Window:
    """The window the flags ask for; by default the last full ISO week (before `today`, UTC) against the one before.

    --since alone runs to today (exclusive); --until alone starts 7 days before it.
    """
    if week_label and (since or until):
        raise ConfigError("give --week or --since/--until, not both")
    if week_label:
        return week(week_label)
    today = today or datetime.now(timezone.utc).date()
    if since or until:
        until = until or today
        since = since or until - timedelta(days=7)
        return date_range(since, until)
    this_monday = today - timedelta(days=today.isoweekday() - 1)
    return week(_week_label(this_monday - timedelta(days=7)))
