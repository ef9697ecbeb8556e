"""Build the report object from the store: a list of section builders, run in order.

The hook for sections that other parts of costlab provide (wrong-model findings, the what-if
headline, reconciliation): SECTIONS names each builder as "module:function". A builder is

    def section(ctx: ReportContext) -> dict | None

returning a section in the shape of costlab.report.model (title, notes, metrics, tables), or None
when its data does not exist for this window. A section is simply absent from the report when its
builder returns None, or when it is `optional` and its module cannot be imported (not built yet, or
not installed): never a placeholder. Errors inside a builder that did import are real errors.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import polars as pl

from costlab.errors import ConfigError
from costlab.report.settings import ReportSettings, parse
from costlab.report.window import Window
from costlab.store.sqlquote import file_literal, literal

if TYPE_CHECKING:
    from costlab.store import Store

FORMAT_NAME = "costlab.weekly"
VERSION = 1


@dataclass(frozen=True)
class SectionSpec:
    name: str  # the key under report["sections"]
    target: str  # "package.module:function"
    optional: bool = False  # True: a missing module means the section is absent
    # Runs while the window is priced once (reads costed_requests as the report's queries do).
    # Default: the required sections; the other analyses' sections choose their own windows and
    # tables, so they run after it, against the store as it is.
    priced: bool | None = None

    @property
    def in_window(self) -> bool:
        return (not self.optional) if self.priced is None else self.priced


SECTIONS: list[SectionSpec] = [
    SectionSpec("headline", "costlab.report.sections:headline"),
    SectionSpec("spend", "costlab.report.sections:spend"),
    SectionSpec("tier_mix", "costlab.report.sections:tier_mix"),
    SectionSpec("efficiency", "costlab.report.sections:efficiency"),
    SectionSpec("reliability", "costlab.report.sections:reliability"),
    # Sections from other issues: the lead points each at its module when it lands.
    # issue 4: wrong-model findings; the detectors read the same priced window (widened to their look-back)
    SectionSpec("findings", "costlab.report.findings:section", optional=True, priced=True),
    SectionSpec("whatif", "costlab.report.extras:whatif", optional=True),  # issue 6: what-if headline
    SectionSpec("reconciliation", "costlab.report.extras:reconciliation", optional=True),  # issue 3
    SectionSpec("trends", "costlab.report.sections:trends"),
]


@dataclass
class ReportContext:
    """What a section builder gets: the store, the window, the [report] settings, shared query results."""

    store: "Store"
    window: Window
    settings: ReportSettings
    # The priced window when it also covers the signal detectors' look-back ((start, end)), so the
    # findings section runs them on it (run_signals(prepared=True)) instead of pricing again.
    signals_window: tuple[datetime, datetime] | None = None
    _cache: dict[tuple, pl.DataFrame] = field(default_factory=dict)

    @property
    def since(self):
        return self.window.since

    @property
    def until(self):
        return self.window.until

    @property
    def prev_since(self):
        return self.window.prev_since

    @property
    def since_day(self) -> date:
        return self.window.since.date()

    def query(self, name: str, **params: Any) -> pl.DataFrame:
        """store.run_query(name, **params), run once per report however many sections ask."""
        key = (name, tuple(sorted((k, str(v)) for k, v in params.items())))
        if key not in self._cache:
            self._cache[key] = self.store.run_query(name, **params)
        return self._cache[key]

    def current(self, name: str) -> pl.DataFrame:
        return self.query(name, since=self.since, until=self.until)

    def previous(self, name: str) -> pl.DataFrame:
        return self.query(name, since=self.prev_since, until=self.since)

    def both(self, name: str) -> pl.DataFrame:
        """A query taking since, until and prev_since (the queries/report/*.sql that scan both periods once)."""
        return self.query(name, since=self.since, until=self.until, prev_since=self.prev_since)


def _load(spec: SectionSpec) -> Callable[[ReportContext], dict | None] | None:
    module_name, _, func = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as ex:
        # Only the section's own module (or a package on its path) missing makes it absent.
        if spec.optional and ex.name and (module_name == ex.name or module_name.startswith(ex.name + ".")):
            return None
        raise
    builder = getattr(module, func, None)
    if builder is None and spec.optional:
        return None
    if builder is None:
        raise AttributeError(f"{module_name} has no {func}")
    return builder


# What the report's own queries read besides the detectors' columns (costlab.signals.materialize).
REPORT_EXTRA_COLUMNS = ("price_multiplier", "cost_cache_read_usd", "cost_cache_write_usd", "ingest_id")
# Without costlab.signals: the columns of costed_requests the report's queries read. User ids are
# only counted, so a 64-bit hash stands in for them, as in the signals' window.
REPORT_COLUMNS = (
    "ts, model, tier, feature, customer_id, status, error_type, http_status, service_tier, speed, platform, "
    "input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, prompt_tokens, "
    "priced, cost_usd, latency_ms, ttft_ms, case when user_id is not null then hash(user_id) end as user_id"
)


def _signals():
    """costlab.signals when it can price the window for the detectors (via sys.modules: a stand-in counts)."""
    try:
        module = importlib.import_module("costlab.signals")
    except ImportError:
        return None
    needed = ("window", "window_select", "run_signals")
    return module if all(hasattr(module, n) for n in needed) else None


def window_select(signals: Any | None) -> str:
    """The SELECT (parameters $since, $until) of every column the report and the detectors read."""
    if signals is None:
        return (f"select {REPORT_COLUMNS}, {', '.join(REPORT_EXTRA_COLUMNS)} from costed_requests "
                "where ts >= $since and ts < $until")
    return signals.window_select(REPORT_EXTRA_COLUMNS)


@contextmanager
def memory_limit(store: "Store", limit: str | None) -> Iterator[None]:
    """DuckDB's memory_limit set to `limit` inside the block (operators past it spill to disk), then
    put back; nothing when `limit` is None or COSTLAB_MEMORY_LIMIT fixes it for the process. Under an
    address-space limit (ulimit -v) the lower of `limit` and what fits (costlab.memory.store_limit)."""
    from costlab import memory

    if not limit or memory.fixed_by_environment():
        yield
        return
    fits = memory.store_limit()
    if fits and memory.parse_size(fits, "memory") < memory.parse_size(limit, "[report] memory_limit"):
        limit = fits
    before = store.scalar("select current_setting('memory_limit')")
    store.execute(f"set memory_limit = {literal(limit)}")  # checked by settings.parse: a number and a unit
    try:
        yield
    finally:
        # DuckDB shows the limit rounded ('18.8 GiB'): setting that text back would move it, so the
        # default comes back by RESET, and only a limit someone else set is set again.
        store.execute("reset memory_limit")
        if store.scalar("select current_setting('memory_limit')") != before:
            store.execute(f"set memory_limit = {literal(before)}")


@contextmanager
def priced_once(store: "Store", since: datetime, until: datetime, signals: Any | None = None) -> Iterator[None]:
    """Make sure the rows of [since, until) are priced once, however many queries read them.

    Usually they are already: the store keeps each request's price (stored at ingest, re-priced when
    the price card changes), and a temporary view `costed_requests` reads those columns alone
    (pricing.shadow_with_stored). Only when the window has rows without a current stored price (rows
    inserted by hand, a re-price that was interrupted) does it price the window once, into Parquet files
    that the temporary view reads instead.

    For this connection only, and only inside the block: every query file the sections (and the
    signal detectors, when `signals` is given) run reads `costed_requests` as written (the same
    text an engineer runs by hand against the view), but the price join runs once instead of once
    per query. The rows go to Parquet in a temporary folder, not to a temporary table: DuckDB keeps
    a temporary table uncompressed (about 300 bytes a request with the detectors' columns: 3 GB for
    10M requests), while Parquet holds the same rows in about 60 bytes, read back faster than the
    table, and the process stays well under 2 GB without a memory cap. The folder is removed after.
    """
    from costlab import pricing

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
        store.execute(f"copy ({window_select(signals)}) to {target} "
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


def build_report(store: "Store", window: Window, settings: ReportSettings | None = None,
                 sections: list[SectionSpec] | None = None) -> dict[str, Any]:
    """The report for `window` (against the period before it) as plain data; see costlab.report.model.

    Args:
        store: an open store.
        window: from costlab.report.window (resolve, week, date_range).
        settings: the [report] settings (default: from the store's config).
        sections: the builders to run (default SECTIONS).

    Returns:
        {"report", "version", "window", "sections"}: stable keys, JSON-ready values (money as strings).
    """
    settings = settings or parse(getattr(store.config, "report", {}) or {})
    ctx = ReportContext(store, window, settings)
    specs = SECTIONS if sections is None else sections
    inside = [s for s in specs if s.in_window]
    # One priced window for the report's periods and, when the findings section runs, the
    # detectors' look-back (default 8 weeks) ending where the report ends.
    start, end = window.prev_since, window.until
    signals = _signals() if any(s.name == "findings" for s in inside) else None
    if signals is not None:
        try:
            span = signals.window(store, None, window.until)
        except ConfigError:
            span = None  # e.g. no traffic before the report's end: the findings section says so itself
        if span is not None:
            ctx.signals_window = span
            start, end = min(start, span[0]), max(end, span[1])
    built: dict[str, Any] = {}
    with memory_limit(store, settings.memory_limit), \
            priced_once(store, start, end, signals if ctx.signals_window else None):
        for spec in inside:
            builder = _load(spec)
            built[spec.name] = builder(ctx) if builder else None
    ctx.signals_window = None  # the window is gone
    with memory_limit(store, settings.memory_limit):
        for spec in specs:
            if spec not in inside:
                builder = _load(spec)
                built[spec.name] = builder(ctx) if builder else None
    out = {spec.name: built[spec.name] for spec in specs if built.get(spec.name)}
    return {"report": FORMAT_NAME, "version": VERSION, "window": window.as_dict(), "sections": out}
