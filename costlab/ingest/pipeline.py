"""One file in, all or nothing: hash it (a file read before is skipped), detect its format, stage it
(staging.py: DuckDB's own readers, the format's adapter, canonical.py's validation), then in ONE
transaction record the ingest, append the new requests (anti-joined on (source, request_id), so
re-runs and overlapping files add nothing), their payloads, and the rejects. A crash or Ctrl-C before the commit leaves the store as it was.

JSON lines and canonical CSV are read on a fast path: DuckDB's reader over the whole file, in
parallel (no line numbering, default buffer sizes), mapped and validated in the same pass, which
fails on the first rejected row. The file is then re-read on the exact path (JSON line by line, CSV
as text with DuckDB's rejects table), so every reject carries its exact line number and raw text.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterator

from costlab import memory
from costlab.config import Config
from costlab.display import plural
from costlab.errors import ConfigError, OutOfMemoryError, QueryError
from costlab.ingest import detect, formats, staging
from costlab.ingest.results import FileResult
from costlab.schema import COLUMN_NAMES
from costlab.store import Store
from costlab.store.sqlquote import literal


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weight_of_rate(rate: object, where: str) -> Decimal:
    """A sampling rate (a fraction in (0, 1]: 0.001 for 1 in 1,000; or the text "1/1000") as the
    weight each sampled row carries: 1 / rate, to the 6 places sample_weight keeps."""
    text = str(rate).strip()
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            value = Decimal(num.strip()) / Decimal(den.strip())
        else:
            value = Decimal(text)
    except (InvalidOperation, ValueError, ZeroDivisionError):
        value = Decimal("NaN")
    if isinstance(rate, bool) or not value.is_finite() or not Decimal("0.000000001") <= value <= 1:
        raise ConfigError(f"{where} must be a sampling rate above 0 and at most 1 (0.001, or 1/1000, for one "
                          f"request in 1,000), not {rate!r}")
    return (1 / value).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def sample_weight_sql(config: Config, sample_rate: object | None = None) -> str:
    """The SQL for a staged row's weight: the row's own sample_weight (a canonical column, or a
    [mappings.NAME] expression) when it has one, else 1 / `sample_rate` (`costlab ingest
    --sample-rate`), else 1 / [ingest.<source>] sample_rate, else 1 / [ingest] sample_rate, else 1."""
    if sample_rate is not None:
        return f"coalesce(sample_weight, {weight_of_rate(sample_rate, '--sample-rate')})::DECIMAL(38,6)"
    default = (weight_of_rate(config.ingest["sample_rate"], "[ingest] sample_rate")
               if "sample_rate" in config.ingest else Decimal(1))
    per_source = [(name, weight_of_rate(section["sample_rate"], f"[ingest.{name}] sample_rate"))
                  for name, section in config.ingest.items() if isinstance(section, dict) and "sample_rate" in section]
    fill = (f"case source {' '.join(f'when {literal(n)} then {w}' for n, w in per_source)} else {default} end"
            if per_source else str(default))
    return f"coalesce(sample_weight, {fill})::DECIMAL(38,6)"


# DuckDB's memory while one file is ingested: its staged rows spill to the store's temp folder
# (`<store>.tmp`) past it, so a 10 GB log needs no more memory than a 100 MB one (benchmarks/RESULTS.md,
# "Ingest memory"). [ingest] memory_limit in costlab.toml ("none": DuckDB's own, 80% of RAM);
# COSTLAB_MEMORY_LIMIT wins over both.
DEFAULT_MEMORY_LIMIT = "1GB"


def memory_limit_of(config: Config) -> str | None:
    """[ingest] memory_limit, checked: a size ("1GB", "800MB"), or None for "none" (DuckDB's default)."""
    value = str(config.ingest.get("memory_limit", DEFAULT_MEMORY_LIMIT)).strip()
    if value.lower() == "none":
        return None
    memory.parse_size(value, "costlab.toml [ingest] memory_limit")
    return value


def bounded_memory(store: Store) -> AbstractContextManager[None]:
    """DuckDB's memory_limit at [ingest] memory_limit inside the block, then put back (Store.memory_limit:
    nothing when COSTLAB_MEMORY_LIMIT fixes it; under `ulimit -v`, the lower of it and what fits)."""
    return store.memory_limit(memory_limit_of(store.config), "[ingest] memory_limit")


class Steps:
    """A file's progress, 0 to 1, from its steps (each a share of the whole, DuckDB's progress of the
    step's statements within it): reading and staging the file is the first half, appending the
    payloads and the priced requests the second (about as long, benchmarks/bench_ingest.py --profile)."""

    def __init__(self, store: Store, report: Callable[[float], None] | None):
        self.store, self.report = store, report

    @contextmanager
    def step(self, start: float, end: float) -> Iterator[None]:
        report = self.report
        if report is None:
            yield
            return
        with self.store.progress(lambda f: report(start + f * (end - start))):
            yield
        report(end)


def ingest_file(store: Store, path: Path, fmt: str | None = None, payloads: bool = True,
                label: str | None = None, sample_rate: object | None = None,
                on_progress: Callable[[float], None] | None = None) -> FileResult:
    """One file; `label` names it in ingests/rejects when `path` is a local copy (an S3 object).
    `sample_rate`: the rows stand for 1 / rate requests each, unless a row carries its own weight
    (sample_weight_sql). `on_progress(fraction)`: how much of the file's work is done, 0 to 1, as it
    goes (from another thread; it may repeat or go back between steps: a bar keeps its highest).
    DuckDB's memory is bounded meanwhile (bounded_memory): what does not fit spills to disk."""
    with bounded_memory(store):
        return _ingest_file(store, path, fmt, payloads, label, sample_rate, on_progress)


def _ingest_file(store: Store, path: Path, fmt: str | None, payloads: bool, label: str | None,
                 sample_rate: object | None, on_progress: Callable[[float], None] | None) -> FileResult:
    config = store.config
    fmt = detect.normalise_format(fmt, path, config) if fmt else detect.detect(path, config)
    result = FileResult(label or str(path), fmt)
    size = path.stat().st_size
    hashing, fill_payloads = None, False
    if store.scalar("select count(*) from ingests where size = ? and format = ?", [size, fmt]):
        digest = _sha256(path)
        before = store.rows(
            "select rows_read, rows_added, rows_present, coalesce(payloads, true) from ingests "
            "where sha256 = ? and format = ? order by ingest_id",
            [digest, fmt],
        )
        if before and (not payloads or any(b[3] for b in before)):
            # Same bytes, same reading: nothing new can come of it. Say how much of it is in the store.
            result.skipped, result.rows_read = True, before[0][0]
            result.rows_present = before[0][1] + before[0][2]
            return result
        # Read before, but only with --no-payloads: read again for the payloads (the requests are present).
        fill_payloads = bool(before)
    else:
        # No earlier file of this size: it cannot be a repeat, so hash while DuckDB reads (hashlib
        # and DuckDB both release the GIL) instead of reading the file twice in a row.
        hashing = ThreadPoolExecutor(max_workers=1).submit(_sha256, path)

    loader = formats.owner(fmt).load  # a format whose rows are not requests (Admin API reports: usage_buckets)
    if loader:
        return loader(store, path, size, hashing.result() if hashing else digest, label)

    steps = Steps(store, on_progress)
    staged = False
    with steps.step(0.0, 0.5):
        if staging.has_fast_path(fmt, config):
            try:
                staged = staging.stage(store, path, fmt, fast=True)
            except (QueryError, OutOfMemoryError):
                staged = False  # a malformed line, a reject, a line too long: the line-exact path says which
            # A reject only the whole file shows (a repeated id with other tokens, FINISH_SQL) has no
            # line number on the parallel fast path: the line-exact path words it.
            if staged and store.scalar("select count(*) from (select 1 from _stage where _reject is not null limit 1)"):
                staged = False
        if not staged:
            staging.stage(store, path, fmt, fast=False)
    _load(store, path, fmt, size, hashing.result() if hashing else digest, payloads, result, fill_payloads,
          sample_weight_sql(config, sample_rate), steps)
    return result


# The staged rows that are appended: every row not in _skip (see _count).
_FRESH = "from _stage where rowid not in (select row_id from _skip)"
_HAS_PAYLOAD = "(_request_json is not null or nullif(_response_text, '') is not null)"


def _load(store: Store, path: Path, fmt: str, size: int, digest: str, payloads: bool, result: FileResult,
          fill_payloads: bool = False, weight: str = "coalesce(sample_weight, 1)", steps: Steps | None = None) -> None:
    """The staged file into the store, in one transaction. `fill_payloads`: the file was ingested
    before without its payloads; add the payloads of its requests that have none (their requests
    are present, so none is counted twice)."""
    mtime_rows = _count(store, result)
    with _any_order(store), store.transaction():
        ingest_id = store.scalar("select nextval('ingest_id_seq')")
        _record(store, ingest_id, size, digest, fmt, payloads, result)
        steps = steps or Steps(store, None)
        with steps.step(0.5, 0.6):
            if payloads and fill_payloads:
                added = _fill_payloads(store)
                result.notes.append(f"{added} payloads added to requests first ingested with --no-payloads")
            elif payloads:
                store.execute(f"""insert into payloads select source, request_id, _request_json, nullif(_response_text, '')
                                  {_FRESH} and {_HAS_PAYLOAD}""")
        with steps.step(0.6, 1.0):
            _append_requests(store, ingest_id, weight)
    _notes(store, result, mtime_rows, weight)
    store.execute_script("drop view if exists _fresh; drop table if exists _skip; drop table if exists _stage; drop table if exists _repeats")


@contextmanager
def _any_order(store: Store) -> Iterator[None]:
    """The appends in any row order: nothing reads the requests or payloads tables in insertion order
    (every reader sorts or groups), and not keeping it lets DuckDB write with less memory and about
    13% less CPU (benchmarks/RESULTS.md, "Ingest memory and lean logs"). The staging keeps file order:
    its rowids number the rows (repeats keep their first)."""
    kept = store.scalar("select current_setting('preserve_insertion_order')")
    store.execute("set preserve_insertion_order = false")
    try:
        yield
    finally:
        store.execute(f"set preserve_insertion_order = {'true' if kept else 'false'}")


def _count(store: Store, result: FileResult) -> int:
    """The file's counts into `result`; the rows that stand in the file's modification time for a timestamp."""
    # Rows that are not appended: rejected, already in the store for their source, or a repeat of an
    # earlier line of this file. Usually few, and found once over the key columns only; everything
    # else is appended by an anti-join against that small set.
    store.execute(
        """create or replace temp table _skip as
               select rowid as row_id from _stage where _reject is not null
               union
               select s.rowid from _stage s join _repeats p on p.source = s.source and p.request_id = s.request_id
               where s._reject is null and s.rowid <> p.first_row
               union
               select s.rowid from _stage s semi join requests r on r.source = s.source and r.request_id = s.request_id
               where s._reject is null"""
    )
    rows_read, rows_rejected, skipped, mtime_rows = store.rows(
        f"""select (select count(*) from _stage), (select count(*) from _stage where _reject is not null),
                   (select count(*) from _skip),
                   (select count(*) {_FRESH} and attributes->>'ts_source' = 'file_mtime')"""
    )[0]
    result.rows_read, result.rows_rejected = rows_read, rows_rejected
    result.rows_added, result.rows_present = rows_read - skipped, skipped - rows_rejected
    return mtime_rows


def _record(store: Store, ingest_id: int, size: int, digest: str, fmt: str, payloads: bool, result: FileResult) -> None:
    """The ingests row, and the file's rejects."""
    store.execute(
        """insert into ingests (ingest_id, file, size, sha256, format, rows_read, rows_added, rows_present,
                                rows_rejected, started_at, finished_at, payloads)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, now(), now(), ?)""",
        [ingest_id, result.file, size, digest, fmt, result.rows_read, result.rows_added, result.rows_present,
         result.rows_rejected, payloads],
    )
    store.execute(
        """insert into rejects select $ingest_id, $file, _line, _reject, left(_raw, 10000)
           from _stage where _reject is not null""",
        {"ingest_id": ingest_id, "file": result.file},
    )


def _fill_payloads(store: Store) -> int:
    """Payloads for every good first row of an id, fresh or present, whose request has none yet."""
    return store.scalar(
        f"""with p as (insert into payloads
                select source, request_id, _request_json, nullif(_response_text, '') from _stage s
                where _reject is null and {_HAS_PAYLOAD}
                  and not exists (select 1 from _repeats r where r.source = s.source
                                  and r.request_id = s.request_id and s.rowid <> r.first_row)
                  and not exists (select 1 from payloads p where p.source = s.source
                                  and p.request_id = s.request_id)
                returning 1)
            select count(*) from p"""
    )


def _append_requests(store: Store, ingest_id: int, weight: str = "coalesce(sample_weight, 1)") -> None:
    """The fresh rows appended to requests, priced as they are appended (queries/internal/price_rows.sql),
    so every later read of costed_requests scans stored prices instead of joining the price card."""
    # A view, not a parameter: costlab_price_rows takes a table name (ingest_id is our own integer).
    # `weight`: sample_weight_sql, our own SQL from validated numbers.
    named = {"ingest_id": f"{int(ingest_id)} as ingest_id", "sample_weight": f"{weight} as sample_weight"}
    picked = ", ".join(named.get(c, c) for c in COLUMN_NAMES)
    store.execute(f"create or replace temp view _fresh as select {picked} {_FRESH}")
    # costlab_store_rows: the price, its version and the link keys (queries/internal/price_rows.sql)
    store.execute("insert into requests by name from costlab_store_rows('_fresh')")


def _notes(store: Store, result: FileResult, mtime_rows: int, weight: str = "coalesce(sample_weight, 1)") -> None:
    """What the summary says about the file beyond its counts: timestamps stood in, the rows that
    stand for more than one request (a sample), and what the adapters repaired (their `_note`), one
    line per kind of repair with its count."""
    sampled, weighted = store.rows(f"select count(*) filter (where {weight} <> 1), sum({weight}) {_FRESH}")[0]
    if sampled:
        result.notes.append(f"{sampled:,} rows are a sample: they stand for {float(weighted):,.0f} requests "
                            f"(sample_weight; every cost, request and token sum is weighted by it)")
    if mtime_rows:
        result.notes.append(f"{plural(mtime_rows, 'row')} had no timestamp; the file's modification time stands in")
    for note, n in store.rows(f"select _note, count(*) {_FRESH} and _note is not null group by _note order by _note"):
        result.notes.append(f"{n} {'row' if n == 1 else 'rows'}: {note}")
