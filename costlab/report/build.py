"""Build the report object from the store: the registered sections, run in order.

The sections are costlab.report.sections.SECTIONS. Each section's build function returns its body
(costlab.report.document's shape), or None when its data does not exist for this window: the
section is then absent, never a placeholder. The sections that read `costed_requests` run inside one
priced window (stored prices, or the window priced once into Parquet), under the [report] memory limit.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from costlab import pricing, signals
from costlab.errors import ConfigError, QueryError
from costlab.report.context import ReportContext
from costlab.report.sections import SECTIONS, Section
from costlab.report.settings import ReportSettings, parse
from costlab.report.window import Window
from costlab.store import Store
from costlab.store.sqlquote import file_literal, literal

FORMAT_NAME = "costlab.weekly"
ENGINE_SECTION = "engine"  # the section a report read from a lake ends with (build_report)
VERSION = 1


# What the report's own queries read besides the detectors' columns (costlab.signals.materialize).
REPORT_EXTRA_COLUMNS = ("price_multiplier", "cost_cache_read_usd", "cost_cache_write_usd", "cost_list_usd", "ingest_id")
# Without the detectors: the columns of costed_requests the report's queries read. User ids are
# only counted, so a 64-bit hash stands in for them, as in the signals' window.
REPORT_COLUMNS = (
    "ts, model, tier, feature, customer_id, status, error_type, http_status, service_tier, speed, platform, "
    "input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, prompt_tokens, "
    "priced, cost_usd, sample_weight, latency_ms, ttft_ms, case when user_id is not null then hash(user_id) end as user_id"
)


def window_select(detectors: bool = False, keyed: bool = True) -> str:
    """The SELECT (parameters $since, $until) of every column the report reads, and with `detectors`
    every column the signal detectors read too (`keyed`: costed_requests has the link keys,
    signals.has_link_keys)."""
    if not detectors:
        return (f"select {REPORT_COLUMNS}, {', '.join(REPORT_EXTRA_COLUMNS)} from costed_requests "
                "where ts >= $since and ts < $until")
    return signals.window_select(REPORT_EXTRA_COLUMNS, keyed)


def memory_limit(store: Store, limit: str | None) -> AbstractContextManager[None]:
    """[report] memory_limit inside the block (Store.memory_limit); an engine over a lake (Spark) has its own."""
    if not hasattr(store, "memory_limit"):
        return nullcontext()
    return store.memory_limit(limit, "[report] memory_limit")


@contextmanager
def priced_once(store: Store, since: datetime, until: datetime, detectors: bool = False) -> Iterator[None]:
    """Make sure the rows of [since, until) are priced once, however many queries read them.

    Usually they are already: the store keeps each request's price (stored at ingest, re-priced when
    the price card changes), and a temporary view `costed_requests` reads those columns alone
    (pricing.shadow_with_stored). Only when the window has rows without a current stored price (rows
    inserted by hand, a re-price that was interrupted) does it price the window once, into Parquet files
    that the temporary view reads instead.

    For this connection only, and only inside the block: every query file the sections (and the
    signal detectors, with `detectors`) run reads `costed_requests` as written (the same
    text an engineer runs by hand against the view), but the price join runs once instead of once
    per query. The rows go to Parquet in a temporary folder, not to a temporary table: DuckDB keeps
    a temporary table uncompressed (about 300 bytes a request with the detectors' columns: 3 GB for
    10M requests), while Parquet holds the same rows in about 60 bytes, read back faster than the
    table, and the process stays well under 2 GB without a memory cap. The folder is removed after.
    """
    if hasattr(store, "materialize_window"):  # an engine over a lake: its rows carry their prices; a cached window
        store.materialize_window(since, until)
        try:
            yield
        finally:
            store.drop_window()
        return
    with pricing.stored_prices(store, since, until) as stored:
        if stored:
            yield
            return
    folder = Path(tempfile.mkdtemp(prefix="costlab-report-"))
    target = literal(folder / "window")
    store.execute("drop view if exists temp.costed_requests")
    order_kept = store.scalar("select current_setting('preserve_insertion_order')")
    try:
        # Row order does not matter to any reader; not keeping it lets DuckDB write in parallel.
        store.execute("set preserve_insertion_order = false")
        keyed = not detectors or signals.has_link_keys(store)
        store.execute(f"copy ({window_select(detectors, keyed)}) to {target} "
                      "(format parquet, compression uncompressed, write_bloom_filter false, per_thread_output true)",
                      {"since": since, "until": until})
        # One file per writer thread (an empty window still writes one, with the columns).
        files = sorted((folder / "window").glob("*.parquet"))
        store.execute("create temp view costed_requests as select * from read_parquet(["
                      + ", ".join(file_literal(f) for f in files) + "])")
        yield
    finally:
        store.execute("drop view if exists temp.costed_requests")
        store.execute(f"set preserve_insertion_order = {'true' if order_kept else 'false'}")
        shutil.rmtree(folder, ignore_errors=True)


def build_report(store: Store, window: Window, settings: ReportSettings | None = None,
                 sections: Iterable[Section] | None = None) -> dict[str, Any]:
    """The report for `window` (against the period before it) as plain data; see costlab.report.document.

    Args:
        store: an open store.
        window: from costlab.report.window (resolve, week, date_range).
        settings: the [report] settings (default: from the store's config).
        sections: the sections to build, in report order (default: every registered one, SECTIONS).

    Returns:
        {"report", "version", "window", "sections"}: stable keys, JSON-ready values (money as strings).
    """
    settings = settings or parse(getattr(store.config, "report", {}) or {}, file=getattr(store.config, "path", None))
    ctx = ReportContext(store, window, settings)
    chosen = list(SECTIONS if sections is None else sections)
    inside = [s for s in chosen if s.priced]
    # One priced window for the report's periods and, when a section runs the detectors, their
    # look-back (default 8 weeks) ending where the report ends.
    start, end = window.prev_since, window.until
    if any(s.signals_lookback for s in inside):
        try:
            span = signals.window(store, None, window.until, window.tz)
        except ConfigError:
            span = None  # e.g. no traffic before the report's end: the findings section says so itself
        if span is not None:
            ctx.signals_window = span
            start, end = min(start, span[0]), max(end, span[1])
    built: dict[str, Any] = {}
    missing: list[str] = []  # over an engine other than the store's: the sections it cannot build, and why
    with memory_limit(store, settings.memory_limit), \
            priced_once(store, start, end, detectors=ctx.signals_window is not None):
        for section in inside:
            built[section.name] = _build(section, ctx, missing)
    ctx.signals_window = None  # the window is gone
    with memory_limit(store, settings.memory_limit):
        for section in chosen:
            if not section.priced:
                built[section.name] = _build(section, ctx, missing)
    out = {s.name: {"title": s.title, **built[s.name]} for s in chosen if built.get(s.name)}
    kind = getattr(store, "kind", None)
    if kind is not None or getattr(store, "gaps", None):
        # over a lake (costlab.engine): a last section, drawn by every format like any other, says what
        # this engine left out and what the lake does not carry
        gaps = [store.gaps] if getattr(store, "gaps", None) else []
        out[ENGINE_SECTION] = {"title": f"Read from a lake on {'Spark' if kind == 'spark' else 'DuckDB'}",
                               "kind": kind or "duckdb", "notes": [*missing, *gaps]}
    return {"report": FORMAT_NAME, "version": VERSION, "window": window.as_dict(), "sections": out}


def _build(section: Section, ctx: ReportContext, missing: list[str]) -> Any:
    """section.build(ctx); over an engine other than DuckDB (Spark), a section whose SQL does not run
    there is left out and named in `missing` (the report's last section, "engine"), never built differently."""
    if getattr(ctx.store, "kind", "duckdb") == "duckdb":
        return section.build(ctx)
    try:
        return section.build(ctx)
    except QueryError as ex:
        missing.append(f"section {section.name!r} is not built on {ctx.store.kind}: {str(ex).splitlines()[0]}")
        return None
