"""The DuckDB boundary: one connection to a store file, and every way costlab talks to it.

Everything above the store package sees polars frames, Arrow tables and CostlabErrors, never duckdb
objects or errors. A `Store` is only the connection; `costlab.open.open_store` migrates it and brings
its prices up to date.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import duckdb
import polars as pl

from costlab import memory
from costlab.config import Config
from costlab.errors import QueryError, ReadOnlyStoreError, StoreLockedError
from costlab.store import migrations, progress, queries
from costlab.store.sqlquote import ident, literal, one_statement

if TYPE_CHECKING:  # pyarrow maps ~100 MB on import: only the callers that pass Arrow load it
    import pyarrow as pa

# The storage format a NEW store file is written in: DuckDB 1.5's, so the DuckDB 1.x clients people have
# (the `duckdb` CLI on PyPI is 1.5.x; DBeaver, BI tools) can open it. A file keeps the format it was
# created with; stores created before this (DuckDB 2.0's format) stay readable by DuckDB 2.x only
# (README, "Reading the store with other tools", says how to convert one). The cost, measured in
# benchmarks/RESULTS.md ("Storage compatibility"): none to speak of. None: DuckDB's own newest format.
STORAGE_VERSION: str | None = "v1.5.0"


class Store:
    """One open costlab store (a DuckDB file, or ':memory:')."""

    def __init__(self, path: Path | str, config: Config | None = None, read_only: bool = False):
        self.path = Path(path) if str(path) != ":memory:" else path
        self.config = config or Config()
        self.read_only = read_only
        limit = memory.store_limit()  # COSTLAB_MEMORY_LIMIT, or what fits under ulimit -v (checked before connecting)
        self.con = _connect(str(path), read_only)
        # UTC for every date boundary; DuckDB's own progress bar would print to stdout, which is data.
        self.execute_script("set TimeZone = 'UTC'; set enable_progress_bar = false")
        if limit:
            self.execute(f"set memory_limit = {literal(limit)}")  # checked by memory.parse_size: a number and a unit

    # -- lifecycle ---------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply every pending migration (store/migrations.py); the names applied now."""
        return migrations.migrate(self.con)

    def pending_migrations(self) -> list[str]:
        """The migrations the store still needs (read-only: nothing is written)."""
        try:
            return migrations.pending(self.con)
        except duckdb.Error as ex:
            raise translate(ex) from ex

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries -----------------------------------------------------------------------------
    # Every method below runs exactly ONE statement (sqlquote.one_statement): SQL built from input
    # (a file's column names, a flag) can never carry a second one. execute_script is for costlab's
    # own constant SQL, user_frame for the SQL a user types into `costlab sql`.
    def frame(self, query: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        """Run one SQL statement and return a polars frame."""
        try:
            return printable_times(self.con.sql(one_statement(query), params=params or None).pl(), self.con)
        except duckdb.Error as ex:
            raise translate(ex) from ex

    def user_frame(self, query: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        """The user's own SQL (`costlab sql`), as written: it may hold several statements (the last
        one's rows are returned). Never for SQL that costlab assembles from any input."""
        try:
            return printable_times(self.con.sql(query, params=params or None).pl(), self.con)
        except duckdb.Error as ex:
            raise translate(ex) from ex

    def rows(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> list[tuple]:
        try:
            return self.con.execute(one_statement(query), params or []).fetchall()
        except duckdb.Error as ex:
            raise translate(ex) from ex

    def scalar(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        rows = self.rows(query, params)
        return rows[0][0] if rows else None

    def execute(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> None:
        try:
            self.con.execute(one_statement(query), params or [])
        except duckdb.Error as ex:
            raise translate(ex) from ex

    def execute_script(self, script: str) -> None:
        """Several statements in one call: ONLY for costlab's own constant SQL (query files, fixed
        text), never for text with anything from a file, a name, costlab.toml or a flag in it
        (tests/test_sql_injection.py checks every caller passes a constant)."""
        try:
            self.con.execute(script)
        except duckdb.Error as ex:
            raise translate(ex) from ex

    def run_query(self, name: str, **params: Any) -> pl.DataFrame:
        """Run a named query file (queries/NAME.sql) with its header's defaults filled in."""
        q = queries.load(name)
        try:
            return printable_times(self.con.sql(q.text, params=q.bind(params) or None).pl(), self.con)
        except duckdb.Error as ex:
            raise translate(ex, f"{name}.sql failed: ") from ex

    def arrow_batches(self, query: str, params: dict[str, Any] | None = None,
                      rows: int = 1_000_000) -> Iterator["pa.RecordBatch"]:
        """The result of one statement as Arrow record batches of up to `rows` rows, streamed:
        for readers that fold a large result without holding it whole."""
        try:
            reader = self.con.sql(one_statement(query), params=params or None).to_arrow_reader(rows)
            yield from reader
        except duckdb.Error as ex:
            raise translate(ex) from ex

    def columns(self, query: str) -> list[str]:
        """The column names one statement would return, without running it."""
        return [r[0] for r in self.rows(f"describe {query}")]

    def insert_rows(self, table: str, columns: tuple[str, ...] | list[str], rows: list[tuple]) -> None:
        """Insert Python rows, 500 to a multi-row INSERT with bound values (executemany would
        prepare and run one statement per row). `table` and `columns` are costlab's own names."""
        names = ", ".join(ident(c) for c in columns)
        marks = "(" + ", ".join("?" for _ in columns) + ")"
        for start in range(0, len(rows), 500):
            chunk = rows[start:start + 500]
            self.execute(f"insert into {ident(table)} ({names}) values {', '.join([marks] * len(chunk))}",
                         [value for row in chunk for value in row])

    @contextmanager
    def registered(self, name: str, table: "pa.Table | pl.DataFrame") -> Iterator[str]:
        """`table` readable in SQL as the view `name` for the block (DuckDB scans it in place)."""
        data = table.to_arrow() if isinstance(table, pl.DataFrame) else table
        self.con.register(name, data)
        try:
            yield name
        finally:
            self.con.unregister(name)

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """All or nothing: a failure, or Ctrl-C, inside the block leaves the store as it was."""
        self.con.execute("begin transaction")
        try:
            yield self
        except BaseException:
            self.con.execute("rollback")
            raise
        else:
            self.con.execute("commit")

    def progress(self, on_progress: Callable[[float], None] | None) -> Any:
        """A block in which DuckDB's progress of each running statement is reported as
        on_progress(fraction from 0 to 1), from a polling thread (store/progress.py); None: nothing."""
        return progress.watch(self.con, on_progress)

    @contextmanager
    def memory_limit(self, limit: str | None, setting: str = "memory_limit") -> Iterator[None]:
        """DuckDB's memory_limit set to `limit` inside the block (operators past it spill to disk), then
        put back; nothing when `limit` is None or COSTLAB_MEMORY_LIMIT fixes it for the process. Under
        an address-space limit (ulimit -v) the lower of `limit` and what fits (memory.store_limit).
        `setting` names where the limit was written ([report] memory_limit, ...) for a bad value's error."""
        if not limit or memory.fixed_by_environment():
            yield
            return
        fits = memory.store_limit()
        if fits and memory.parse_size(fits, "memory") < memory.parse_size(limit, setting):
            limit = fits
        before = self.scalar("select current_setting('memory_limit')")
        self.execute(f"set memory_limit = {literal(limit)}")  # checked by parse_size: a number and a unit
        try:
            yield
        finally:
            # DuckDB shows the limit rounded ('18.8 GiB'): setting that text back would move it, so the
            # default comes back by RESET, and only a limit someone else set is set again.
            self.execute("reset memory_limit")
            if self.scalar("select current_setting('memory_limit')") != before:
                self.execute(f"set memory_limit = {literal(before)}")

    def has_table(self, name: str) -> bool:
        """True when the store's own database (not temp) has a table of that name."""
        return bool(
            self.scalar("select count(*) from duckdb_tables() where table_name = ? and database_name = current_database()", [name])
        )


# Python's date and datetime range (years 1 to 9999) in polars' physical units: days for Date, the
# time unit for Datetime. A value outside it (year 10000, year -1, DuckDB's 'infinity') is no Python
# datetime (a rich table, the report) and polars panics formatting 'infinity' (JSON, CSV).
_DAY_RANGE = (-719162, 2932896)
_SECOND_RANGE = (-62135596800, 253402300799)
_PER_SECOND = {"ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def printable_times(frame: pl.DataFrame, con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """`frame` with every date or timestamp column that holds a value outside years 1 to 9999 turned
    into DuckDB's own text for its values ('infinity', '10000-01-01 00:00:00+00', '0002-01-01 (BC)'),
    so any output format can show it; other columns, and frames without such values, are untouched."""
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:
            lo, hi = _DAY_RANGE
        elif isinstance(dtype, pl.Datetime):
            per = _PER_SECOND[dtype.time_unit]
            lo, hi = _SECOND_RANGE[0] * per, _SECOND_RANGE[1] * per + per - 1
        else:
            continue
        physical = frame.get_column(name).to_physical()
        low, high = physical.min(), physical.max()
        if low is None or (lo <= low and high <= hi):
            continue
        one = frame.select(pl.col(name).alias("v")).to_arrow()
        text = con.from_arrow(one).project("cast(v as VARCHAR) as v").pl().get_column("v")
        frame = frame.with_columns(text.alias(name))
    return frame


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        config = {"storage_compatibility_version": STORAGE_VERSION} if STORAGE_VERSION else {}
        return duckdb.connect(path, read_only=read_only, config=config)
    except duckdb.OutOfMemoryException as ex:
        raise memory.as_out_of_memory(ex) from ex
    except duckdb.IOException as ex:
        text = str(ex)
        if "lock" in text.lower():
            raise StoreLockedError(_locked_message(path, text, read_only)) from ex
        if read_only and "does not exist" in text:
            raise QueryError(f"there is no store at {path} (opened read-only, so it is not created): "
                             "check --db, or ingest logs into it first (`costlab ingest PATH`)") from ex
        raise QueryError(f"cannot open {path}: {_clean(ex)}") from ex


def _locked_message(path: str, text: str, read_only: bool) -> str:
    """What DuckDB's lock error means, from its text: which process holds the file, whether it holds it
    read-only (DuckDB then says this open could be read-only) or read-write, and what to do."""
    pid = re.search(r"PID (\d+)", text)
    program = re.search(r"held in (.+?) \(PID", text)
    who = f" (process {pid.group(1)}{', ' + program.group(1) if program else ''})" if pid else ""
    if not read_only and "read-only mode" in text:  # the holder only reads: readers share, a writer waits
        return (f"the store {path} is open in another process{who}, read-only (a report, `costlab sql`, a "
                "DuckDB client); this command writes, and DuckDB lets no writer in while anyone reads: wait "
                "for that process to finish or close it, or point --db at another file.")
    return (f"the store {path} is open in another process{who}, read-write (an ingest, a re-price, `costlab "
            "sql --write`, a DuckDB client); DuckDB lets nobody else in, not even to read, while a process "
            "writes: wait for that process to finish or close it, or point --db at another file.")


def translate(ex: duckdb.Error, prefix: str = "") -> BaseException:
    """A DuckDB error as what it means to costlab: Ctrl-C stays Ctrl-C, out of memory is an
    OutOfMemoryError naming the memory_limit settings, a write on a read-only store is a
    ReadOnlyStoreError, anything else is a QueryError."""
    if isinstance(ex, duckdb.InterruptException):
        return KeyboardInterrupt()
    if isinstance(ex, duckdb.OutOfMemoryException):
        return memory.as_out_of_memory(ex)
    if "read-only mode" in str(ex):  # a write statement on a read-only connection
        return ReadOnlyStoreError(prefix + _clean(ex))
    return QueryError(prefix + _clean(ex))


def _clean(ex: BaseException) -> str:
    return str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
