"""Wrong-model signals: detectors that say where traffic is on the wrong model and what it costs.

Each detector is one SQL file in queries/signals/ (the same file an engineer runs by hand to drill
down, `costlab sql -F queries/signals/over_modeling.sql`), and every file returns the same columns:

    signal, severity, segment, evidence, observed, baseline, requests, weekly_impact_usd, suggestion

Thresholds are the file's header parameters; their defaults are written there and explained in
docs/signals.md. `[signals]` in costlab.toml overrides them, for every detector that takes a
parameter (`min_impact_usd = 50`) or for one (`[signals.over_modeling] max_output_p90 = 150`);
`disable = ["cache_underuse"]` turns detectors off, `batch_features = ["nightly-digest"]` names the
features that need no answer within minutes (`interactive_features` the ones that do), and
`pin_versions = true` (or a list of features) says the team pins model versions. Which model stands
for each tier comes from `[tiers]`.

    findings = run_signals(store, since="8w")        # a polars frame, worst first
    exceeds(findings, "high")                         # True when a weekly job should alert

The window ends at the end of the day of the last request (so an old log still gets a full window)
and starts `since` before it, or on the first day with traffic if that is later; only requests with
a plausible timestamp count (costlab/plausible.py), so one stamped 2100 cannot move the window. The detectors read
the prices the store keeps with each request; when the window has rows without a current stored
price (rows inserted by hand, a re-price that was interrupted), its rows are priced once into a temporary
table that shadows the costed_requests view for this connection while the detectors run, so N
detectors do not price the log N times.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

import polars as pl

from costlab import plausible, pricing
from costlab.store import queries
from costlab.config import Config
from costlab.display import markdown_code, markdown_text, visible
from costlab.errors import ConfigError, ExitCode, did_you_mean

FINDINGS_EXIT = int(ExitCode.FINDINGS)
SEVERITIES = ("high", "medium", "low")
DEFAULT_SINCE = "8w"


@dataclass(frozen=True)
class Detector:
    """One detector: its id (the query file queries/signals/ID.sql) and what it looks for."""

    id: str
    title: str

    @property
    def query(self) -> str:
        return f"signals/{self.id}"

    @property
    def path(self) -> str:
        return f"queries/signals/{self.id}.sql"


# In order of value: where the money and the risk usually are.
DETECTORS: tuple[Detector, ...] = (
    Detector("over_modeling", "traffic on a tier whose shape says the next cheaper tier suffices"),
    Detector("under_modeling", "long prompts on a cheap tier whose answers go wrong far more often than shorter ones"),
    Detector("cost_per_user", "cost per active user rising faster than users, overall and per customer"),
    Detector("escalation_spike", "more requests re-sent to a higher tier than the feature's baseline"),
    Detector("rate_limit_headroom", "429s on a tier while the next cheaper tier had headroom"),
    Detector("retiring_models", "traffic on deprecated, retired or soon-retiring models"),
    Detector("data_quality", "unpriced requests and ingest rejects (signals unpriced, ingest_rejects)"),
    Detector("cache_underuse", "large stable prompts sent without prompt caching"),
    Detector("batch_eligible", "non-interactive features sent at the standard tier"),
    Detector("spend_anomaly", "a feature's spend on a day far above its weekday or weekend baseline"),
    Detector("context_window", "prompts that overflow the model's context window or run close to it"),
    Detector("latency_slo", "p95 latency or time to first token over a feature's SLO, and the tier that meets it"),
    Detector("overload_bursts", "bursts of 529/5xx failures not re-sent to another model"),
    Detector("unpinned_aliases", "traffic sent to a model alias where the team pins versions"),
)
BY_ID = {d.id: d for d in DETECTORS}

COLUMNS = {
    "severity": pl.String,
    "signal": pl.String,
    "segment": pl.String,
    "weekly_impact_usd": pl.Decimal(18, 6),
    "evidence": pl.String,
    "observed": pl.Float64,
    "baseline": pl.Float64,
    "requests": pl.Int64,
    "suggestion": pl.String,
    "query": pl.String,
}

# The columns of costed_requests the detectors read; the window is priced into these once.
_COLUMNS = (
    "ts, platform, model, service_tier, speed, inference_geo, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, web_search_requests, "
    "latency_ms, ttft_ms, status, error_type, http_status, stop_reason, feature, user_id, customer_id, "
    "session_id, trace_id, parent_request_id, attempt, feedback_score, "
    "tier, prompt_tokens, priced, unpriced_reason, cost_usd"
)
# Only a request that another one points at needs its id kept (the escalation join): a semi-join
# against the few parent ids is far cheaper than carrying ten million ids. User, session and trace
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
    "select case when request_id in (select parent_request_id from requests where parent_request_id is not null "
    "and ts >= $since and ts < $until) then request_id end as request_id, "
    + ", ".join(_NARROWED.get(c.strip(), c.strip()) for c in _COLUMNS.split(",")) + " "
    "from costed_requests where ts >= $since and ts < $until"
)
# Detectors that have nothing to look at until a setting names something.
_NEEDS = {"latency_slo": ("latency_slo_ms", "ttft_slo_ms"), "unpinned_aliases": ("pin_versions",)}
_WINDOW_PARAMS = ("since", "until")
_LIST_KEYS = ("batch_features", "interactive_features")
_SPECIAL_KEYS = ("disable", *_LIST_KEYS, "pin_versions", "latency_slo_ms", "ttft_slo_ms")


def parse_since(value: str | date | datetime | timedelta | None) -> timedelta | datetime:
    """'8w', '14d', '36h' as a duration back from the window's end; 'YYYY-MM-DD' as a start day (UTC)."""
    if value is None:
        value = DEFAULT_SINCE
    if isinstance(value, timedelta):
        return value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), tzinfo=timezone.utc)
    text = str(value).strip().lower()
    m = re.fullmatch(r"(\d+)\s*([wdh])", text)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        if n <= 0:
            raise ConfigError(f"--since {value!r}: the window must be longer than zero")
        return timedelta(weeks=n) if unit == "w" else timedelta(days=n) if unit == "d" else timedelta(hours=n)
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=timezone.utc)
    except ValueError:
        raise ConfigError(f"--since {value!r}: expected a duration like 8w, 14d or 36h, or a day like 2026-11-01") from None


def window(store: Any, since: str | date | datetime | timedelta | None = None,
           until: date | datetime | None = None) -> tuple[datetime, datetime] | None:
    """(start, end) of the analysis window, or None when the store has no requests.

    Only requests inside the plausible window (costlab.plausible.analysis_bounds: [ingest]
    earliest/latest, never past a day from now) place the default window, so one row stamped 2100
    (or 'infinity', or year -1) cannot move it there; `until` given, the window ends there.

    Raises:
        ConfigError: an empty window, or no request inside the plausible window to place it by.
    """
    if until is not None:
        end = parse_since(until) if not isinstance(until, timedelta) else None
        if end is None:
            raise ConfigError("until must be a day, not a duration")
    bounds = plausible.analysis_bounds(getattr(store, "config", None))
    hi = end if until is not None else bounds.latest
    # min/max over rows inside [earliest, hi) only: an out-of-range timestamp never reaches Python.
    first, last, total = store.rows(
        "select date_trunc('day', min(ts) filter (where ts >= $lo and ts < $hi)), "
        "date_trunc('day', max(ts) filter (where ts >= $lo and ts < $hi)) + interval 1 day, count(*) from requests",
        {"lo": bounds.earliest, "hi": hi})[0]
    if not total:
        return None
    if first is None:
        raise ConfigError(f"none of the {total:,} requests in the store falls between {bounds.describe()}"
                          + (f" and before --until {end:%Y-%m-%d}" if until is not None else "")
                          + ": their timestamps are implausible. Give --until (and --since) to read them anyway, "
                          "or widen [ingest] earliest/latest in costlab.toml")
    if until is None:
        end = last
    start = parse_since(since)
    if isinstance(start, timedelta):
        start = end - start
    start = max(start, first)  # a window longer than the log starts with the log, as the detectors' SQL does
    if start >= end:
        raise ConfigError(f"the window is empty: it starts {start:%Y-%m-%d} and ends {end:%Y-%m-%d}")
    return start, end


def outside_note(store: Any) -> str | None:
    """On stderr beside the findings: how many requests lie outside the plausible window (and so
    never place the default window), or None."""
    return plausible.outside_note(store, plausible.analysis_bounds(getattr(store, "config", None)))


def resolve_params(config: Config | None) -> tuple[list[Detector], dict[str, dict[str, Any]]]:
    """The detectors to run and each one's parameters from costlab.toml ([signals], [tiers]).

    Raises:
        ConfigError: an unknown key, detector or parameter (with a did-you-mean), or a bad value.
    """
    config = config or Config()
    settings = dict(config.signals)
    headers = {d.id: {p.name: p for p in queries.load(d.query).params} for d in DETECTORS}
    shared_names = sorted({name for params in headers.values() for name in params} - set(_WINDOW_PARAMS))

    disable = settings.pop("disable", [])
    if isinstance(disable, str):
        disable = [disable]
    for name in disable:
        if name not in BY_ID:
            raise ConfigError(f"[signals] disable: no detector {name!r}.{did_you_mean(name, BY_ID)} "
                              f"Detectors: {', '.join(BY_ID)}.")
    lists = {key: settings.pop(key, None) for key in _LIST_KEYS}
    pin = _pin_versions(settings.pop("pin_versions", None))
    slos = {}
    for key in ("latency_slo_ms", "ttft_slo_ms"):
        table = settings.pop(key, None)
        if table is None:
            continue
        if not isinstance(table, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                                                  for v in table.values()):
            raise ConfigError(f"[signals] {key} must be a table of feature = milliseconds, "
                              f'e.g. {key} = {{ "chat-assistant" = 8000 }}')
        slos[key] = ",".join(f"{feature}={ms}" for feature, ms in table.items())
    shared: dict[str, Any] = {}
    own: dict[str, dict[str, Any]] = {}
    for key, value in settings.items():
        if key in BY_ID:
            if not isinstance(value, dict):
                raise ConfigError(f"[signals] {key} must be a table: [signals.{key}]")
            for name, v in value.items():
                if name not in headers[key] or name in _WINDOW_PARAMS:
                    known = [n for n in headers[key] if n not in _WINDOW_PARAMS]
                    raise ConfigError(f"[signals.{key}] has no setting {name!r}.{did_you_mean(name, known)} "
                                      f"It takes: {', '.join(known)}.")
                own.setdefault(key, {})[name] = _value(f"signals.{key}.{name}", v)
        elif key in shared_names:
            shared[key] = _value(f"signals.{key}", value)
        else:
            choices = list(_SPECIAL_KEYS) + list(BY_ID) + shared_names
            raise ConfigError(f"[signals] has no setting {key!r}.{did_you_mean(key, choices)} "
                              f"Settings: {', '.join(choices)}.")
    for key, value in lists.items():
        if value is not None:
            items = [value] if isinstance(value, str) else list(value)
            shared[key] = ",".join(str(x) for x in items)
    if pin is not None:
        shared["pin_versions"] = pin
    shared.update(slos)
    if config.tiers:
        shared["tier_models"] = ",".join(f"{tier}={model}" for tier, model in config.tiers.items())

    chosen = [d for d in DETECTORS if d.id not in disable]
    params = {}
    for d in chosen:
        p = {k: v for k, v in shared.items() if k in headers[d.id]}
        p.update(own.get(d.id, {}))
        params[d.id] = p
    return chosen, params


def _pin_versions(value: Any) -> str | None:
    """`pin_versions = true` (every feature), a list of features, or false: '*', 'a,b' or None."""
    if value is None or value is False:
        return None
    if value is True:
        return "*"
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and value and all(isinstance(x, str) and x.strip() for x in value):
        return ",".join(x.strip() for x in value)
    raise ConfigError(f"[signals] pin_versions: expected true, false or a list of features, got {value!r} "
                      '(e.g. pin_versions = true, or pin_versions = ["chat-assistant", "sql-assist"])')


def _value(where: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, list)):
        raise ConfigError(f"{where}: expected a number or a string, got {value!r}")
    if isinstance(value, list):
        return ",".join(str(x) for x in value)
    return value


def window_select(extra_columns: Iterable[str] = ()) -> str:
    """The SELECT (parameters $since, $until) of the detectors' window, plus `extra_columns`.

    For a caller that stores the window its own way (the report writes it to Parquet) and runs the
    detectors on it with run_signals(prepared=True).
    """
    extra = "".join(f", {c}" for c in extra_columns)
    return _WINDOW_SELECT.replace(" from costed_requests where", extra + " from costed_requests where")


def materialize(store: Any, start: datetime, end: datetime, extra_columns: Iterable[str] = ()) -> None:
    """Price [start, end) once into temp.costed_requests, which shadows the view for this connection.

    The detectors' columns always; `extra_columns` (expressions over the costed_requests view) for a
    caller that reads the same table for its own queries. Drop it with `drop_window`.
    """
    # Row order does not matter to any reader; not keeping it lets DuckDB write in parallel.
    order_kept = store.scalar("select current_setting('preserve_insertion_order')")
    store.execute("set preserve_insertion_order = false")
    try:
        store.execute(_CREATE + window_select(extra_columns), {"since": start, "until": end})
    finally:
        store.execute(f"set preserve_insertion_order = {'true' if order_kept else 'false'}")


def drop_window(store: Any) -> None:
    pricing.drop_shadow(store)


def run_signals(store: Any, since: str | date | datetime | timedelta | None = None,
                until: date | datetime | None = None, config: Config | None = None,
                only: Iterable[str] | None = None, timings: dict[str, float] | None = None,
                prepared: bool = False) -> pl.DataFrame:
    """Run every enabled detector over the window and return the findings, worst first.

    Args:
        store: an open costlab Store.
        since: '8w' (default), '14d', a day, or a timedelta back from the window's end.
        until: the window's end (exclusive); default the end of the day of the last request.
        config: costlab.toml settings ([signals], [tiers]); default the store's.
        only: detector ids to run (default: all enabled ones).
        timings: if given, filled with wall seconds per step ('prepare', then each detector id).
        prepared: the caller has already run `materialize` for a span covering this window (the
            report does, to price once for its own sections and the detectors) and drops it itself.

    Returns:
        One row per finding with the columns in COLUMNS; `query` is the detector's SQL file.

    Raises:
        ConfigError: bad settings or an unknown detector in `only`.
    """
    detectors, params = resolve_params(config if config is not None else store.config)
    if only is not None:
        wanted = list(only)
        for name in wanted:
            if name not in BY_ID:
                raise ConfigError(f"no detector {name!r}.{did_you_mean(name, BY_ID)} Detectors: {', '.join(BY_ID)}.")
        detectors = [d for d in detectors if d.id in wanted]
    detectors = [d for d in detectors if d.id not in _NEEDS or any(params[d.id].get(k) for k in _NEEDS[d.id])]
    span = window(store, since, until)
    if span is None or not detectors:
        return empty()
    start, end = span
    frames = []
    if not prepared:
        drop_window(store)
    try:
        clock = time.perf_counter()
        # Stored prices are read as they are; only rows without a current one are priced, once.
        if not prepared and pricing.stale_count(store, start, end):
            materialize(store, start, end)
        elif not prepared:
            pricing.shadow_with_stored(store, start, end)
        if timings is not None:
            timings["prepare"] = time.perf_counter() - clock
        for d in detectors:
            clock = time.perf_counter()
            frame = store.run_query(d.query, since=start, until=end, **params[d.id])
            frames.append(frame.with_columns(pl.lit(d.path).alias("query")))
            if timings is not None:
                timings[d.id] = time.perf_counter() - clock
    finally:
        if not prepared:
            drop_window(store)
    return order(pl.concat([f.select(list(COLUMNS)) for f in frames], how="vertical") if frames else empty())


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=COLUMNS)


def order(findings: pl.DataFrame) -> pl.DataFrame:
    """Worst first: by severity, then weekly dollar impact (unknown impacts after known ones)."""
    rank = pl.col("severity").replace_strict({s: i for i, s in enumerate(SEVERITIES)}, default=len(SEVERITIES),
                                             return_dtype=pl.Int32)
    return (findings.with_columns(rank.alias("_rank"))
            .sort(["_rank", "weekly_impact_usd", "requests"], descending=[False, True, True], nulls_last=True)
            .drop("_rank"))


def exceeds(findings: pl.DataFrame, level: str | None) -> bool:
    """True when any finding is at `level` (high, medium or low) or worse."""
    if level is None:
        return False
    if level not in SEVERITIES:
        raise ConfigError(f"unknown severity {level!r}.{did_you_mean(level, SEVERITIES)} Choose one of: high, medium, low.")
    worse = SEVERITIES[: SEVERITIES.index(level) + 1]
    return findings.filter(pl.col("severity").is_in(worse)).height > 0


def counts(findings: pl.DataFrame) -> dict[str, int]:
    """Findings per severity, every severity present."""
    got = dict(findings.group_by("severity").len().iter_rows())
    return {s: int(got.get(s, 0)) for s in SEVERITIES}


def summary(findings: pl.DataFrame) -> pl.DataFrame:
    """The findings as a short table for reading: severity, signal, segment, weekly impact in cents."""
    return findings.select("severity", "signal", "segment",
                           pl.col("weekly_impact_usd").round(2).cast(pl.Decimal(18, 2)))


def details(findings: pl.DataFrame, markdown: bool = False) -> str:
    """Each finding's evidence, suggestion and drill-down query, as text (or Markdown), in order.

    Segments, evidence and suggestions quote names from the logs: the text shows them literally
    (control characters visible), the Markdown escapes them (costlab.display)."""
    lines = []
    for i, row in enumerate(findings.iter_rows(named=True), start=1):
        impact = row["weekly_impact_usd"]
        money = "impact not in dollars" if impact is None else f"${impact:,.2f} a week"
        if markdown:
            md = {k: markdown_text(row[k]) for k in ("severity", "segment", "evidence", "suggestion")}
            lines += [f"{i}. **{md['severity']}** {markdown_code(row['signal'])} {md['segment']} ({money})",
                      f"   - evidence: {md['evidence']}",
                      f"   - suggestion: {md['suggestion']}",
                      f"   - drill down: {markdown_code('costlab sql -F ' + str(row['query']))}"]
        else:
            text = {k: visible(" ".join(str(row[k]).split())) for k in ("severity", "signal", "segment", "evidence",
                                                                         "suggestion", "query")}
            lines += [f"{i}. [{text['severity']}] {text['signal']}  {text['segment']}  ({money})",
                      f"   evidence:   {text['evidence']}",
                      f"   suggestion: {text['suggestion']}",
                      f"   drill down: costlab sql -F {text['query']}"]
    return "\n".join(lines) + ("\n" if lines else "")
