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
from typing import TYPE_CHECKING, Any, Callable, Iterator

import polars as pl

from costlab.errors import QueryError
from costlab.report.settings import ReportSettings, parse
from costlab.report.window import Window

if TYPE_CHECKING:
    from costlab.store import Store

FORMAT_NAME = "costlab.weekly"
VERSION = 1


@dataclass(frozen=True)
class SectionSpec:
    name: str  # the key under report["sections"]
    target: str  # "package.module:function"
    optional: bool = False  # True: a missing module means the section is absent


SECTIONS: list[SectionSpec] = [
    SectionSpec("headline", "costlab.report.sections:headline"),
    SectionSpec("spend", "costlab.report.sections:spend"),
    SectionSpec("tier_mix", "costlab.report.sections:tier_mix"),
    SectionSpec("efficiency", "costlab.report.sections:efficiency"),
    SectionSpec("reliability", "costlab.report.sections:reliability"),
    # Sections from other issues: the lead points each at its module when it lands.
    SectionSpec("findings", "costlab.report.findings:section", optional=True),  # issue 4: wrong-model findings
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


MEMORY_LIMIT = "1200MB"  # DuckDB's limit while the report runs (the process peak stays under 2 GB)

# The columns of costed_requests that the report's queries read (starter queries included).
PRICED_COLUMNS = (
    "ts, model, tier, feature, user_id, customer_id, ingest_id, status, error_type, http_status, service_tier, "
    "speed, platform, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, "
    "prompt_tokens, priced, cost_usd, cost_cache_read_usd, cost_cache_write_usd, price_multiplier, latency_ms, ttft_ms"
)


@contextmanager
def priced_once(store: "Store", since: datetime, until: datetime) -> Iterator[None]:
    """Price the window's requests once, into a temporary table that shadows the costed_requests view.

    For this connection only, and only inside the block: every query file the sections run reads
    `costed_requests` as written (the same text an engineer runs by hand against the view), but the
    price join runs once instead of once per query. Same pattern as costlab.signals.
    """
    # The table is about 275 bytes a request: past MEMORY_LIMIT DuckDB spills it to a temporary
    # folder rather than growing (10M requests would otherwise hold ~2.7 GB).
    saved = {k: store.scalar(f"select current_setting('{k}')") for k in ("memory_limit", "temp_directory")}
    spill = tempfile.mkdtemp(prefix="costlab-report-")
    store.execute("drop table if exists temp.costed_requests")
    try:
        store.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
        store.execute(f"set temp_directory = '{spill}'")
        store.execute(f"create temp table costed_requests as select {PRICED_COLUMNS} from costed_requests "
                      "where ts >= $since and ts < $until", {"since": since, "until": until})
        yield
    finally:
        store.execute("drop table if exists temp.costed_requests")
        store.execute("reset memory_limit")  # the default exactly (the text of a setting is rounded)
        if store.scalar("select current_setting('memory_limit')") != saved["memory_limit"]:
            store.execute(f"set memory_limit = '{saved['memory_limit']}'")
        try:
            store.execute(f"set temp_directory = '{saved['temp_directory']}'")
        except QueryError:
            pass  # DuckDB keeps a folder it has spilled to for the connection's life (and cleans it up)
        else:
            shutil.rmtree(spill, ignore_errors=True)


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
    built: dict[str, Any] = {}
    # Required sections read the window priced once; optional ones (other modules' sections) run
    # afterwards against the store as it is, since they choose their own windows and tables.
    own = [s for s in specs if not s.optional]
    with priced_once(store, window.prev_since, window.until):
        for spec in own:
            builder = _load(spec)
            built[spec.name] = builder(ctx) if builder else None
    for spec in specs:
        if spec not in own:
            builder = _load(spec)
            built[spec.name] = builder(ctx) if builder else None
    out = {spec.name: built[spec.name] for spec in specs if built.get(spec.name)}
    return {"report": FORMAT_NAME, "version": VERSION, "window": window.as_dict(), "sections": out}
