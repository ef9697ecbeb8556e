"""The detectors' window: where it starts and ends, and the priced table they read in it.

The window ends at the end of the day of the last request (so an old log still gets a full window)
and starts `since` before it; days run from midnight in the time zone `tz` (--tz or [report] timezone,
default UTC), or on the first day with traffic if that is later; only requests with
a plausible timestamp count (costlab/plausible.py), so one stamped 2100 cannot move the window. The
detectors read the prices the store keeps with each request; when the window has rows without a
current stored price (rows inserted by hand, a re-price that was interrupted), its rows are priced
once into a temporary table that shadows the costed_requests view for this connection while the
detectors run (`materialize`), so N detectors do not price the log N times.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from costlab import plausible, pricing
from costlab.errors import ConfigError

DEFAULT_SINCE = "8w"

# The columns of costed_requests the detectors read; the window is priced into these once.
_COLUMNS = (
    "ts, platform, model, service_tier, speed, inference_geo, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, web_search_requests, "
    "latency_ms, ttft_ms, status, error_type, http_status, stop_reason, feature, user_id, customer_id, "
    "session_id, trace_id, attempt, feedback_score, "
    "tier, prompt_tokens, priced, unpriced_reason, cost_usd, sample_weight, request_key, parent_key"
)
# The link keys (request_key, parent_key: costlab_request_key, stored with each price) are what the
# detectors join re-sends on (under_modeling, escalation_spike, overload_bursts); the id strings
# themselves are not carried. User, session and trace
# ids are only counted or compared, so a 64-bit hash stands in for each (8 bytes instead of a string;
# a collision among millions of sessions: ~1e-7, and it would have to fall on the same feature within
# minutes to matter). The raw model spelling (attributes.model_raw) is not carried: unpinned_aliases
# reads it from `requests`, only for the rows of models that have dated snapshots.
_NARROWED = {
    "user_id": "case when user_id is not null then hash(user_id) end as user_id",
    "session_id": "case when session_id is not null then hash(session_id) end as session_id",
    "trace_id": "case when trace_id is not null then hash(trace_id) end as trace_id",
}
_CREATE = "create temp table costed_requests as "
_WINDOW_SELECT = (
    "select "
    + ", ".join(_NARROWED.get(c.strip(), c.strip()) for c in _COLUMNS.split(",")) + " "
    "from costed_requests where ts >= $since and ts < $until"
)


class EmptyWindow(ConfigError):
    """The window asked for holds no request, though the store has some elsewhere (the message says
    which days they run). run_signals returns no findings for it (the report of a week before the
    data); `costlab signals` says it as an error (exit 2)."""


def zone(tz: str = "UTC") -> tzinfo:
    """The tzinfo of an IANA name (checked by costlab.config.check_timezone); datetime's UTC for UTC."""
    return timezone.utc if tz == "UTC" else ZoneInfo(tz)


def parse_since(value: str | date | datetime | timedelta | None, tz: str = "UTC") -> timedelta | datetime:
    """'8w', '14d', '36h' as a duration back from the window's end; 'YYYY-MM-DD' as a start day (midnight
    in the time zone `tz`, default UTC; a datetime without a zone is read in `tz` too)."""
    if value is None:
        value = DEFAULT_SINCE
    if isinstance(value, timedelta):
        return value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone(tz))
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), tzinfo=zone(tz))
    text = str(value).strip().lower()
    m = re.fullmatch(r"(\d+)\s*([wdh])", text)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        if n <= 0:
            raise ConfigError(f"--since {value!r}: the window must be longer than zero")
        return timedelta(weeks=n) if unit == "w" else timedelta(days=n) if unit == "d" else timedelta(hours=n)
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=zone(tz))
    except ValueError:
        raise ConfigError(f"--since {value!r}: expected a duration like 8w, 14d or 36h, or a day like 2026-11-01") from None


def window(store: Any, since: str | date | datetime | timedelta | None = None,
           until: date | datetime | None = None, tz: str = "UTC") -> tuple[datetime, datetime] | None:
    """(start, end) of the analysis window, or None when the store has no requests.

    Both are midnights in the time zone `tz` (unless `since` is a duration in hours, or a datetime),
    and given as datetimes in that zone, so a day printed from them is the local day.

    Only requests inside the plausible window (costlab.plausible.analysis_bounds: [ingest]
    earliest/latest, never past a day from now) place the default window, so one row stamped 2100
    (or 'infinity', or year -1) cannot move it there; `until` given, the window ends there.

    Raises:
        ConfigError: an empty window, or no request inside the plausible window to place it by.
    """
    if until is not None:
        end = parse_since(until, tz) if not isinstance(until, timedelta) else None
        if end is None:
            raise ConfigError("until must be a day, not a duration")
    bounds = plausible.analysis_bounds(getattr(store, "config", None))
    hi = end if until is not None else bounds.latest
    # min/max over rows inside [earliest, hi) only: an out-of-range timestamp never reaches Python.
    # The days are cut at midnight in tz: timezone(tz, ts) is the wall-clock time there.
    first, last, total = store.rows(
        "select timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts) filter (where ts >= $lo and ts < $hi)))), "
        "timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts) filter (where ts >= $lo and ts < $hi))) + interval 1 day), "
        "count(*) from requests",
        {"lo": bounds.earliest, "hi": hi, "tz": tz})[0]
    if tz != "UTC":  # datetimes in the zone: `end - 8 weeks` is then a local midnight, and days print local
        first, last = (x.astimezone(zone(tz)) if x is not None else None for x in (first, last))
    if not total:
        return None
    if first is None and until is not None:
        data = _data_days(store, bounds, tz)
        if data is not None:
            raise EmptyWindow(f"no request falls before --until {end:%Y-%m-%d}: the store's requests run {data}")
    if first is None:
        raise ConfigError(f"none of the {total:,} requests in the store falls between {bounds.describe()}"
                          + (f" and before --until {end:%Y-%m-%d}" if until is not None else "")
                          + ": their timestamps are implausible. Give --until (and --since) to read them anyway, "
                          "or widen [ingest] earliest/latest in costlab.toml")
    if until is None:
        end = last
    start = parse_since(since, tz)
    if isinstance(start, timedelta):
        start = end - start
    start = max(start, first)  # a window longer than the log starts with the log, as the detectors' SQL does
    if start >= end:
        data = _data_days(store, bounds, tz)
        raise EmptyWindow(f"the window is empty: it starts {start:%Y-%m-%d} and ends {end:%Y-%m-%d}"
                          + (f"; the store's requests run {data}" if data else ""))
    return start, end


def _data_days(store: Any, bounds: Any, tz: str = "UTC") -> str | None:
    """'2026-11-02 to 2026-11-15': the days (in `tz`) of the requests inside the plausible window, or None."""
    first, last = store.rows("select min(ts) filter (where ts >= $lo and ts < $hi), "
                             "max(ts) filter (where ts >= $lo and ts < $hi) from requests",
                             {"lo": bounds.earliest, "hi": bounds.latest})[0]
    if first is None:
        return None
    return f"{first.astimezone(zone(tz)):%Y-%m-%d} to {last.astimezone(zone(tz)):%Y-%m-%d}"


def outside_note(store: Any) -> str | None:
    """On stderr beside the findings: how many requests lie outside the plausible window (and so
    never place the default window), or None."""
    return plausible.outside_note(store, plausible.analysis_bounds(getattr(store, "config", None)))


# A store last opened read-write by a costlab from before the link keys (m013), opened read-only, has
# a costed_requests without them: the window computes them from the ids, as costlab_request_key does.
_KEYS_FROM_IDS = ("case when request_id is not null then hash(request_id) end as request_key, "
                  "case when parent_request_id is not null then hash(parent_request_id) end as parent_key")


def has_link_keys(store: Any) -> bool:
    """Whether costed_requests (as this connection sees it) has the link keys (request_key, parent_key)."""
    return bool(store.scalar("select count(*) from duckdb_columns() where table_name = 'costed_requests' "
                             "and column_name = 'request_key'"))


def window_select(extra_columns: Iterable[str] = (), keyed: bool = True) -> str:
    """The SELECT (parameters $since, $until) of the detectors' window, plus `extra_columns`.

    For a caller that stores the window its own way (the report writes it to Parquet) and runs the
    detectors on it with run_signals(prepared=True). `keyed`: costed_requests has the link keys
    (has_link_keys); without them the SELECT computes them from the ids.
    """
    extra = "".join(f", {c}" for c in extra_columns)
    text = _WINDOW_SELECT if keyed else _WINDOW_SELECT.replace("request_key, parent_key", _KEYS_FROM_IDS)
    return text.replace(" from costed_requests where", extra + " from costed_requests where")


def materialize(store: Any, start: datetime, end: datetime, extra_columns: Iterable[str] = ()) -> None:
    """Price [start, end) once into temp.costed_requests, which shadows the view for this connection.

    The detectors' columns always; `extra_columns` (expressions over the costed_requests view) for a
    caller that reads the same table for its own queries. Drop it with `drop_window`.

    An engine over a lake (costlab.engine: Spark) makes the window its own way (materialize_window:
    a cached temporary view); the lake's rows carry the prices they were exported with.
    """
    if hasattr(store, "materialize_window"):
        store.materialize_window(start, end, extra_columns)
        return
    # Row order does not matter to any reader; not keeping it lets DuckDB write in parallel.
    order_kept = store.scalar("select current_setting('preserve_insertion_order')")
    store.execute("set preserve_insertion_order = false")
    try:
        store.execute(_CREATE + window_select(extra_columns, has_link_keys(store)), {"since": start, "until": end})
    finally:
        store.execute(f"set preserve_insertion_order = {'true' if order_kept else 'false'}")


def drop_window(store: Any) -> None:
    if hasattr(store, "drop_window"):  # an engine over a lake (costlab.engine)
        store.drop_window()
        return
    pricing.drop_shadow(store)
