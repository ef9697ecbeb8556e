"""Staging: one file's rows read by DuckDB's own readers, mapped by its format's adapter and
validated (canonical.py), into the temp table `_stage`, with every reject and its line number.

Two paths. The fast path reads the whole file in one pass (JSON lines, canonical CSV typed), in
parallel where the adapter allows, and fails on the first rejected row. The line-exact path reads
JSON line by line and CSV as text with DuckDB's rejects table (a .gz decompressed to a temporary
file first), so every reject carries its exact line number and raw text. pipeline.py tries the
first and falls back to the second.
"""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from costlab import memory, plausible
from costlab.config import Config
from costlab.errors import ConfigError, InputError, OutOfMemoryError, QueryError
from costlab.ingest import formats
from costlab.ingest.canonical import FINISH_SQL, stage_sql
from costlab.ingest.files import decompressed, head_text, is_gzip
from costlab.ingest.formats.base import Adapter, Format, json_structure, struct_type
from costlab.schema import COLUMN_NAMES, COLUMN_TYPES, COUNT_COLUMNS
from costlab.store import Store
from costlab.store.sqlquote import file_literal, literal

# The longest line (a JSON record, a CSV row) any reader takes, in bytes. A longer one is a reject
# with its line number (the rest of the file loads). A module constant so a test can lower it.
MAX_LINE_BYTES = 1 << 30


def max_line_bytes(store: Store) -> int:
    """The longest line the line-exact readers take: MAX_LINE_BYTES, or an eighth of DuckDB's memory
    limit when that is less (DuckDB's readers size their buffers to the longest line they may meet,
    up to the whole file: a 1 GB line limit made a 10 GB file's exact read allocate 1 GB buffers)."""
    try:
        limit = memory.parse_size(store.scalar("select current_setting('memory_limit')"), "memory_limit")
    except ConfigError:  # a spelling DuckDB did not use before: no cap beyond the constant
        return MAX_LINE_BYTES
    return min(MAX_LINE_BYTES, max(limit // 8, 1 << 20))


def _format(name: str) -> Format:
    found = formats.owner(name)
    if found is None:
        raise ConfigError(f"unknown format {name!r}")
    return found


def _kind(name: str, config: Config) -> str:
    """json, csv or parquet: which reader reads a file of this format."""
    return _format(name).file_kind(name, config)


def _adapter(name: str, config: Config, columns: list[str] | None = None) -> Adapter:
    adapter = _format(name).adapter
    assert adapter, f"{name} loads its own way (Format.load), with no adapter"
    return adapter(name, config, columns or [])


def has_fast_path(fmt: str, config: Config) -> bool:
    """JSON lines (with a spec, or through a mapping) and canonical CSV: read whole by DuckDB's own
    reader, falling back to the line-exact path for the rare file with a bad row."""
    kind = _kind(fmt, config)
    return kind == "json" or (kind == "csv" and _format(fmt).typed_csv)


def _inferred(fmt: str, config: Config) -> bool:
    """JSON lines without a spec (a [mappings.NAME] section): DuckDB's reader infers the columns its expressions name."""
    return _kind(fmt, config) == "json" and not _adapter(fmt, config).spec


def _csv_header(path: Path) -> list[str]:
    """The column names of a CSV's first line (a guess: a name DuckDB reads otherwise fails the fast path)."""
    first = next(iter(head_text(path).splitlines()), "")
    return next(csv.reader(io.StringIO(first)), [])


# Canonical CSV columns the fast path lets read_csv parse. Counts and SMALLINTs are read as DOUBLE:
# read_csv would round "1.5" into a BIGINT; canonical.py checks they are whole. ts stays text (its
# cast is the same work either way, and the text path is the one the exact path uses).
_CSV_TYPED = {c: ("DOUBLE" if c in COUNT_COLUMNS or t in ("SMALLINT", "INTEGER") else t)
              for c, t in COLUMN_TYPES.items() if t in ("BIGINT", "INTEGER", "SMALLINT", "DOUBLE", "DECIMAL(18,9)")
              and c != "ingest_id"}


def _reader(store: Store, path: Path, fmt: str, fast: bool) -> tuple[str, list[str], dict[str, str]]:
    """The FROM relation `src` for a file, the file's own column names (CSV/Parquet), and the canonical
    columns the reader already typed (see canonical.stage_sql). An empty relation: no fast path for
    this file (the exact path reads it)."""
    kind = _kind(fmt, store.config)
    p = file_literal(path)  # exactly this file: DuckDB's readers would take glob characters in its name as a pattern
    gz = ", compression='gzip'" if is_gzip(path) else ""
    if kind == "json":
        return _json_reader(store, fmt, fast, p, gz)
    if kind == "parquet":
        rel = f"read_parquet({p})"
        cols = [r[0] for r in store.rows(f"describe select * from {rel}")]
        return (f"select row_number() over () as _line, NULL::VARCHAR as _raw, NULL::VARCHAR as _parse_error, "
                f"t as _row, * from {rel} t"), cols, {}
    if fast:
        return _typed_csv_reader(path, p, gz)
    return _csv_reader(store, fmt, p, gz)


def _json_reader(store: Store, fmt: str, fast: bool, p: str, gz: str) -> tuple[str, list[str], dict[str, str]]:
    """JSON lines: through the adapter's spec (fast: DuckDB's reader; exact: line by line), or,
    without a spec (a mapping), with the columns DuckDB infers (fast only: the exact path is _stage_objects)."""
    adapter = _adapter(fmt, store.config)
    if not adapter.spec:  # a mapping over JSON lines: DuckDB infers the columns (the exact path: _stage_objects)
        assert fast, "the line-exact read of a mapped JSON lines file is _stage_objects"
        rel = f"read_json({p}, format='newline_delimited'{gz})"
        # A malformed line in the sample fails the fast path (a QueryError), not the file.
        cols = store.columns(f"select * from {rel}")
        # No line numbers (a clean file needs none; a reject sends it to the exact path): parallel.
        return (f"select NULL::BIGINT as _line, NULL::VARCHAR as _raw, NULL::VARCHAR as _parse_error, "
                f"t as _row, * from {rel} t"), cols, {}
    if fast:
        cols = "{" + ", ".join(f"{literal(k)}: {literal(struct_type(v))}" for k, v in adapter.spec.items()) + "}"
        if adapter.parallel:
            # No line numbers (row_number() over () runs on one thread) and DuckDB's default object
            # size (a 1 GB one makes the whole file one buffer, parsed by one thread); a longer line
            # fails the fast path and the exact path reads it.
            return (f"select NULL::BIGINT as _line, NULL::VARCHAR as _raw, NULL::VARCHAR as _parse_error, "
                    f"t as _row, * from read_json({p}, format='newline_delimited', columns={cols}{gz}) t"), [], {}
        return (f"select row_number() over () as _line, NULL::VARCHAR as _raw, NULL::VARCHAR as _parse_error, "
                f"t as _row, * from read_json({p}, format='newline_delimited', "
                f"columns={cols}, maximum_object_size={max_line_bytes(store)}{gz}) t"), [], {}
    structure = literal(json_structure(adapter.spec))
    # Lines as text. A line that is not UTF-8 or longer than MAX_LINE_BYTES goes to DuckDB's rejects
    # table (emptied by _stage_from, folded into the stage with its line number by _fold_line_rejects).
    lines = _lines(store, p, gz)
    return f"""
        select _line, raw as _raw,
               case when not json_valid(raw) then 'not valid JSON'
                    when j is null then 'a field has the wrong shape (an object or list where a value was expected, or the reverse)'
               end as _parse_error,
               j as _row,
               unnest(j)
        from (select _line, raw, try(json_transform(raw, {structure})) as j
              from (select row_number() over () as _line, raw from {lines})
              where raw is not null and trim(raw) <> '')""", [], {}


def _typed_csv_reader(path: Path, p: str, gz: str) -> tuple[str, list[str], dict[str, str]]:
    """Canonical CSV, clean files: DuckDB's reader parses the numbers (its default line size keeps the
    read parallel; a bad row, a longer line or an unexpected header fails over to the exact path)."""
    header = _csv_header(path)
    names = [h.lower() for h in header]
    if "request_id" not in names or len(set(names)) < len(names) or "" in names:
        # ids will be hashes of the source text, or DuckDB renames a repeated (or empty) column: the exact
        # path reads the file as text with the names DuckDB gives.
        return "", [], {}
    typed = {h: _CSV_TYPED[h.lower()] for h in header if h.lower() in _CSV_TYPED}
    types = "{" + ", ".join(f"{literal(h)}: {literal(t)}" for h, t in typed.items()) + "}"
    rel = f"read_csv({p}, header=true, all_varchar=true, types={types}{gz})"
    return (f"select NULL::BIGINT as _line, NULL::VARCHAR as _raw, NULL::VARCHAR as _parse_error, "
            f"NULL as _row, * from {rel} t"), header, {h.lower(): t for h, t in typed.items()}


def _csv_reader(store: Store, fmt: str, p: str, gz: str) -> tuple[str, list[str], dict[str, str]]:
    """CSV: DuckDB's reader, every column as text (canonical.py casts), structurally bad rows set aside
    in a rejects table with their line numbers instead of failing the file."""
    store.execute_script("drop table if exists _csv_rejects; drop table if exists _csv_scan")
    # Exports of known tools are plain RFC 4180 CSV: name the dialect, so a short row cannot confuse the sniffer.
    dialect = ", delim=',', quote='\"', escape='\"', strict_mode=false" if _format(fmt).plain_csv else ""
    rel = (f"read_csv({p}, header=true, all_varchar=true, store_rejects=true, rejects_table='_csv_rejects', "
           f"rejects_scan='_csv_scan', max_line_size={max_line_bytes(store)}{dialect}{gz})")
    cols = [r[0] for r in store.rows(f"describe select * from {rel}")]
    store.execute_script("drop table if exists _csv_rejects; drop table if exists _csv_scan")
    return (f"select row_number() over () + 1 as _line, NULL::VARCHAR as _raw, NULL::VARCHAR as _parse_error, "
            f"t as _row, * from {rel} t"), cols, {}


def _lines(store: Store, p: str, gz: str = "") -> str:
    """The lines of the file `p` (a file_literal) as text, one column `raw` (NULL for an empty line).
    A line that is not UTF-8 or is longer than MAX_LINE_BYTES goes to DuckDB's rejects table
    (_csv_rejects; see _fold_line_rejects), and the lines are numbered without it."""
    return (f"read_csv({p}, columns={{'raw': 'VARCHAR'}}, header=false, delim='\\x01', quote='', escape='', "
            f"auto_detect=false, strict_mode=false, store_rejects=true, rejects_table='_csv_rejects', "
            f"rejects_scan='_csv_scan', max_line_size={max_line_bytes(store)}{gz})")


def stage(store: Store, path: Path, fmt: str, fast: bool) -> bool:
    """The file's rows, mapped and validated, into the temp table _stage. On the fast path a DuckDB
    error (or False: no fast path for this file) means: read it again on the exact path."""
    if not fast and is_gzip(path) and _kind(fmt, store.config) in ("csv", "json"):
        with decompressed(path) as plain:
            return _stage_from(store, path, plain, fmt, fast)
    return _stage_from(store, path, path, fmt, fast)


def _stage_from(store: Store, path: Path, readable: Path, fmt: str, fast: bool) -> bool:
    """_stage for `path`, whose bytes are read from `readable` (the same file, or its plain copy)."""
    config = store.config
    if not fast:  # no rejects of an earlier file (one that failed mid-read) may be folded into this one
        store.execute_script("drop table if exists _csv_rejects; drop table if exists _csv_scan")
    if not fast and _inferred(fmt, config):
        _stage_objects(store, path, readable, fmt)
    else:
        src, cols, typed = _reader(store, readable, fmt, fast)
        if not src:
            return False
        _stage_rows(store, path, fmt, fast, src, cols, typed)
    kind = _kind(fmt, config)
    if not fast and kind in ("csv", "json"):
        _fold_line_rejects(store, header=kind == "csv")
    store.execute_script(FINISH_SQL)
    return True


def _stage_rows(store: Store, path: Path, fmt: str, fast: bool, src: str, cols: list[str], typed: dict[str, str]) -> None:
    """The rows of the relation `src` (see _reader), mapped and validated, into _stage."""
    config = store.config
    adapter = _adapter(fmt, config, cols)
    query = f"create or replace temp table _stage as with src as ({src}) {stage_sql(adapter.select, typed, fast)}"
    params = plausible.bounds(config).params()  # the ts window canonical.PLAUSIBLE_TS checks
    if "$mtime" in adapter.select:
        params["mtime"] = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat()
    try:
        store.execute(query, params)
    except OutOfMemoryError:
        raise  # fast: the caller retries on the exact path; exact: not the file's fault, it stops the run
    except QueryError as ex:
        if fast:
            raise  # the caller retries on the exact path
        raise InputError(f"{path}: cannot be read as {fmt}: {ex}. {formats.help_text()}") from ex


def _stage_objects(store: Store, path: Path, readable: Path, fmt: str) -> None:
    """The line-exact read of JSON lines through a [mappings.NAME] section, into _stage.

    The columns its expressions name are the ones DuckDB's read_json infers from the records, so
    read_json reads them here too, as on the fast path (the same types). Every line is checked
    first, set-based: a line that is not UTF-8 or is longer than MAX_LINE_BYTES (DuckDB's rejects
    table, folded in by _fold_line_rejects), is not valid JSON, or is not a JSON object is a reject
    with its line number and reason. read_json then reads a temporary copy (in TMPDIR) in which each
    of those lines is an empty record `{}`, one record per non-blank line, and its records are
    paired with their lines by position: each row keeps its line number and raw text. A file with
    no such line is read as it is, without the copy."""
    store.execute(
        f"""create or replace temp table _json_lines as
            select _line, raw,
                   case when not json_valid(raw) then 'not valid JSON'
                        when json_type(raw) <> 'OBJECT' then 'not a JSON object'
                   end as _parse_error
            from (select row_number() over () as _line, raw from {_lines(store, file_literal(readable))})
            where raw is not null and trim(raw) <> ''"""
    )
    try:
        lines, last, bad, longest = store.rows(
            "select count(*), max(_line), count(_parse_error), max(strlen(raw)) filter (where _parse_error is null) "
            "from _json_lines"
        )[0]
        set_aside = store.scalar("select count(*) from duckdb_tables() where table_name = '_csv_rejects'") and \
            store.scalar("select count(distinct line) from _csv_rejects")
        if lines == bad:  # nothing for read_json to infer columns from: the file is no log of this format
            first = store.rows("select _line, _parse_error from _json_lines order by _line limit 1")
            why = (f"{set_aside:,} {'line is' if set_aside == 1 else 'lines are'} not UTF-8 text or longer than "
                   f"{max_line_bytes(store):,} bytes" if set_aside
                   else f"line {first[0][0]}: {first[0][1]}" if first else "it is empty or blank")
            raise InputError(f"{path}: no line of it is a JSON object to read as {fmt} ({why}). "
                             "Each line must hold one JSON object, a record.")
        # read_json's buffer holds the longest record (its default, 16 MiB, unless a record is longer).
        size = max(1 << 24, longest + 2)
        with tempfile.TemporaryDirectory(prefix="costlab-") as tmp:
            objects = readable
            if bad or set_aside or lines < last:  # a bad or a blank line: read_json would not count it as we do
                objects = Path(tmp) / "records.jsonl"
                store.execute(
                    f"""copy (select case when _parse_error is null then raw else '{{}}' end
                              from _json_lines order by _line)
                        to {literal(objects)} (format csv, header false, quote '', escape '', delimiter '\\x01')"""
                )
            try:
                _stage_rows(store, path, fmt, False, *_records(store, objects, size, whole_file=False))
            except (InputError, QueryError):
                # DuckDB types the columns from the first 20,480 records; a later value of another
                # type (text where numbers were, a list where an object was) fails that read. Typed
                # from every record, the column holds both, and the value is its own row's business.
                _stage_rows(store, path, fmt, False, *_records(store, objects, size, whole_file=True))
    finally:
        store.execute_script("drop table if exists _json_lines")


def _records(store: Store, objects: Path, size: int, whole_file: bool) -> tuple[str, list[str], dict[str, str]]:
    """The relation `src` of _stage_objects: the records of `objects`, one per row of _json_lines, by position."""
    sample = ", sample_size=-1" if whole_file else ""
    rel = f"read_json({file_literal(objects)}, format='newline_delimited', maximum_object_size={int(size)}{sample})"
    cols = [r[0] for r in store.rows(f"describe select * from {rel}")]
    # A record without its line (or the reverse) would pair every later line with the wrong record:
    # it stops the read instead (it cannot happen: the copy holds exactly one record per line).
    return (f"""select l._line, l.raw as _raw,
                       coalesce(l._parse_error, case when l._line is null or r._row is null
                                then error('the records read do not match the lines of the file') end) as _parse_error,
                       r.*
                from (select _line, raw, _parse_error from _json_lines order by _line) l
                positional join (select t as _row, * from {rel} t) r"""), cols, {}


def _fold_line_rejects(store: Store, header: bool) -> None:
    """Add the lines DuckDB's reader set aside (a CSV row with the wrong number of fields, a line that
    is not UTF-8 or is longer than MAX_LINE_BYTES) to the stage as rejects, and correct the line
    numbers of the rows after them (the reader numbers good rows only). `header`: line 1 is a header."""
    if not store.scalar("select count(*) from duckdb_tables() where table_name = '_csv_rejects'"):
        return
    first = 1 if header else 0  # lines before the first row
    store.execute(
        """
        create or replace temp table _csv_bad as
            -- DuckDB records a short row once per missing column; the first entry has the true count.
            -- The raw text is cut before it is kept: a rejected line may be longer than memory likes.
            select line, left(any_value(csv_line), 10000) as csv_line,
                   arg_min(error_message, coalesce(column_idx, 0)) as error_message,
                   arg_min(error_type, coalesce(column_idx, 0)) as error_type
            from _csv_rejects group by line"""
    )
    store.execute(
        """
        update _stage set _line = _stage._line + (
            select count(*) from (select line, row_number() over (order by line) as j from _csv_bad) b
            where b.line - b.j - $first < _stage._line - $first)""",
        {"first": first},
    )
    names = ", ".join(f"NULL as {c}" for c in COLUMN_NAMES)
    reason = ("'malformed CSV row: ' || error_message" if header else
              f"""case error_type
                      when 'INVALID ENCODING' then 'not valid UTF-8 text (re-export the file as UTF-8)'
                      when 'LINE SIZE OVER MAXIMUM' then 'line longer than {max_line_bytes(store):,} bytes'
                      else 'unreadable line: ' || error_message end""")
    store.execute(
        f"""insert into _stage by name
            select line as _line, csv_line as _raw, {reason} as _reject, {names}
            from _csv_bad"""
    )
    store.execute_script("drop table if exists _csv_bad; drop table if exists _csv_rejects; drop table if exists _csv_scan")


