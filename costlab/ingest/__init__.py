"""Ingest: log files in, canonical priced-ready rows out, each file all or nothing.

For each file: detect the format, read it with DuckDB's own readers into a staging table, map and
validate it set-based (sources.py, canonical.py), then in ONE transaction record the ingest, append
the new requests (anti-joined on (source, request_id), so re-runs and overlapping files add nothing),
their payloads, and the rejects. A crash or Ctrl-C before the commit leaves the store as it was.

JSON lines and canonical CSV are read on a fast path: DuckDB's reader over the whole file, in
parallel (no line numbering, default buffer sizes), mapped and validated in the same pass, which
fails on the first rejected row. The file is then re-read on the exact path (JSON line by line, CSV
as text with DuckDB's rejects table), so every reject carries its exact line number and raw text.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator


from costlab import plausible
from costlab.errors import InputError, OutOfMemoryError, QueryError
from costlab.ingest import detect, sources
from costlab.ingest.canonical import FINISH_SQL, stage_sql
from costlab.schema import COLUMN_NAMES, COLUMN_TYPES, COUNT_COLUMNS
from costlab.store.sqlquote import file_literal, literal
from costlab.store import Store

__all__ = ["FileResult", "IngestSummary", "ingest_paths"]

# The longest line (a JSON record, a CSV row) any reader takes, in bytes. A longer one is a reject
# with its line number (the rest of the file loads). A module constant so a test can lower it.
MAX_LINE_BYTES = 1 << 30


@dataclass
class FileResult:
    file: str
    format: str | None = None
    rows_read: int = 0
    rows_added: int = 0
    rows_present: int = 0
    rows_rejected: int = 0
    skipped: bool = False  # the same bytes were ingested before
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestSummary:
    files: list[FileResult] = field(default_factory=list)

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        """Files that yielded no rows: unreadable, or every record rejected."""
        return [f for f in self.files if f.error or (not f.skipped and f.rows_read and f.rows_rejected == f.rows_read)]


def ingest_paths(
    store: Store,
    paths: list[str],
    fmt: str | None = None,
    payloads: bool = True,
    on_file: Callable[[Path, int], None] | None = None,
    endpoint_url: str | None = None,
) -> IngestSummary:
    """Ingest every file under `paths` (local files, folders, globs, and s3://bucket/prefix URLs).
    Unreadable files are reported in the summary, not raised, so one bad file never stops the good
    ones. `on_file(path, size)` is called after each local file. `endpoint_url`: an S3-compatible store."""
    from costlab.ingest import s3

    summary = IngestSummary()
    urls = [p for p in paths if s3.is_s3(p)]
    refused: list[tuple[Path, str]] = []  # symbolic links out of a folder or glob: not followed (detect.expand)
    files = detect.expand([p for p in paths if not s3.is_s3(p)], refused)
    summary.files.extend(FileResult(str(path), error=why) for path, why in refused)
    if fmt:  # a bad --format is one usage error up front, not one error per file
        for path in files[:1]:
            detect.normalise_format(fmt, path, store.config)
    for path in files:
        try:
            result = ingest_file(store, path, fmt, payloads)
        except (InputError, QueryError) as ex:
            # About this file only; a ConfigError (a bad flag or mapping) is about every file and stops the run.
            result = FileResult(str(path), error=str(ex))
        summary.files.append(result)
        if on_file:
            on_file(path, path.stat().st_size)
    for url in urls:
        try:
            summary.files.extend(s3.ingest_url(store, url, fmt, payloads, endpoint_url))
        except InputError as ex:  # a missing bucket or a refused listing: about this URL only
            summary.files.append(FileResult(url, error=str(ex)))
    return summary


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ingest_file(store: Store, path: Path, fmt: str | None = None, payloads: bool = True,
                label: str | None = None) -> FileResult:
    """One file; `label` names it in ingests/rejects when `path` is a local copy (an S3 object)."""
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

    if fmt == "admin-report":  # provider usage/cost reports go to usage_buckets, not requests
        from costlab.ingest import admin

        return admin.load(store, path, size, hashing.result() if hashing else digest, label)

    staged = False
    if _has_fast_path(fmt, config):
        try:
            staged = _stage(store, path, fmt, fast=True)
        except (QueryError, OutOfMemoryError):
            staged = False  # a malformed line, a reject, a line too long: the line-exact path says which
        # A reject only the whole file shows (a repeated id with other tokens, FINISH_SQL) has no
        # line number on the parallel fast path: the line-exact path words it.
        if staged and store.scalar("select count(*) from (select 1 from _stage where _reject is not null limit 1)"):
            staged = False
    if not staged:
        _stage(store, path, fmt, fast=False)
    _load(store, path, fmt, size, hashing.result() if hashing else digest, payloads, result, fill_payloads)
    return result


def _has_fast_path(fmt: str, config) -> bool:
    """JSON lines (with a spec, or through a mapping) and canonical CSV: read whole by DuckDB's own
    reader, falling back to the line-exact path for the rare file with a bad row."""
    kind = sources.file_kind(fmt, config)
    return fmt == "canonical-csv" or kind == "json"


def _inferred(fmt: str, config) -> bool:
    """A [mappings.NAME] section over JSON lines: DuckDB's reader infers the columns its expressions name."""
    return fmt.startswith("mapping:") and sources.file_kind(fmt, config) == "json"


def _csv_header(path: Path) -> list[str]:
    """The column names of a CSV's first line (a guess: a name DuckDB reads otherwise fails the fast path)."""
    import csv
    import io

    first = next(iter(detect.head_text(path).splitlines()), "")
    return next(csv.reader(io.StringIO(first)), [])


# Canonical CSV columns the fast path lets read_csv parse. Counts and SMALLINTs are read as DOUBLE:
# read_csv would round "1.5" into a BIGINT; canonical.py checks they are whole. ts stays text (its
# cast is the same work either way, and the text path is the one the exact path uses).
_CSV_TYPED = {c: ("DOUBLE" if c in COUNT_COLUMNS or t in ("SMALLINT", "INTEGER") else t)
              for c, t in COLUMN_TYPES.items() if t in ("BIGINT", "INTEGER", "SMALLINT", "DOUBLE", "DECIMAL(18,9)")
              and c != "ingest_id"}


def _reader(store: Store, path: Path, fmt: str, fast: bool) -> tuple[str, list[str], dict[str, str]]:
    """The FROM relation `src` for a file, the file's own column names (CSV/Parquet), and the canonical
    columns the reader already typed (see canonical.stage_sql)."""
    config = store.config
    kind = sources.file_kind(fmt, config)
    p = file_literal(path)  # exactly this file: DuckDB's readers would take glob characters in its name as a pattern
    gz = ", compression='gzip'" if _is_gzip(path) else ""
    if kind == "json":
        adapter = sources.adapter_for(fmt, config)
        if not adapter.spec:  # a mapping over JSON lines: DuckDB infers the columns (the exact path: _stage_objects)
            assert fast, "the line-exact read of a mapped JSON lines file is _stage_objects"
            rel = f"read_json({p}, format='newline_delimited'{gz})"
            # A malformed line in the sample fails the fast path (a QueryError), not the file.
            cols = store.columns(f"select * from {rel}")
            # No line numbers (a clean file needs none; a reject sends it to the exact path): parallel.
            return (f"select NULL::BIGINT as _line, NULL::VARCHAR as _raw, NULL::VARCHAR as _parse_error, "
                    f"t as _row, * from {rel} t"), cols, {}
        if fast:
            cols = "{" + ", ".join(f"{literal(k)}: {literal(sources.struct_type(v))}" for k, v in adapter.spec.items()) + "}"
            if adapter.parallel:
                # No line numbers (row_number() over () runs on one thread) and DuckDB's default object
                # size (a 1 GB one makes the whole file one buffer, parsed by one thread); a longer line
                # fails the fast path and the exact path reads it.
                return (f"select NULL::BIGINT as _line, NULL::VARCHAR as _raw, NULL::VARCHAR as _parse_error, "
                        f"t as _row, * from read_json({p}, format='newline_delimited', columns={cols}{gz}) t"), [], {}
            return (f"select row_number() over () as _line, NULL::VARCHAR as _raw, NULL::VARCHAR as _parse_error, "
                    f"t as _row, * from read_json({p}, format='newline_delimited', "
                    f"columns={cols}, maximum_object_size={MAX_LINE_BYTES}{gz}) t"), [], {}
        structure = literal(sources.json_structure(adapter.spec))
        # Lines as text. A line that is not UTF-8 or longer than MAX_LINE_BYTES goes to DuckDB's rejects
        # table (emptied by _stage_from, folded into the stage with its line number by _fold_line_rejects).
        lines = _lines(p, gz)
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
    if kind == "parquet":
        rel = f"read_parquet({p})"
        cols = [r[0] for r in store.rows(f"describe select * from {rel}")]
        return (f"select row_number() over () as _line, NULL::VARCHAR as _raw, NULL::VARCHAR as _parse_error, "
                f"t as _row, * from {rel} t"), cols, {}
    if fast:
        # Canonical CSV, clean files: DuckDB's reader parses the numbers (its default line size keeps the
        # read parallel; a bad row, a longer line or an unexpected header fails over to the exact path).
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
    # CSV: DuckDB's reader, every column as text (canonical.py casts), structurally bad rows set aside
    # in a rejects table with their line numbers instead of failing the file.
    store.execute_script("drop table if exists _csv_rejects; drop table if exists _csv_scan")
    # Exports of known tools are plain RFC 4180 CSV: name the dialect, so a short row cannot confuse the sniffer.
    dialect = ", delim=',', quote='\"', escape='\"', strict_mode=false" if fmt in sources.SOURCES else ""
    rel = (f"read_csv({p}, header=true, all_varchar=true, store_rejects=true, rejects_table='_csv_rejects', "
           f"rejects_scan='_csv_scan', max_line_size={MAX_LINE_BYTES}{dialect}{gz})")
    cols = [r[0] for r in store.rows(f"describe select * from {rel}")]
    store.execute_script("drop table if exists _csv_rejects; drop table if exists _csv_scan")
    return (f"select row_number() over () + 1 as _line, NULL::VARCHAR as _raw, NULL::VARCHAR as _parse_error, "
            f"t as _row, * from {rel} t"), cols, {}


def _lines(p: str, gz: str = "") -> str:
    """The lines of the file `p` (a file_literal) as text, one column `raw` (NULL for an empty line).
    A line that is not UTF-8 or is longer than MAX_LINE_BYTES goes to DuckDB's rejects table
    (_csv_rejects; see _fold_line_rejects), and the lines are numbered without it."""
    return (f"read_csv({p}, columns={{'raw': 'VARCHAR'}}, header=false, delim='\\x01', quote='', escape='', "
            f"auto_detect=false, strict_mode=false, store_rejects=true, rejects_table='_csv_rejects', "
            f"rejects_scan='_csv_scan', max_line_size={MAX_LINE_BYTES}{gz})")


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _stage(store: Store, path: Path, fmt: str, fast: bool) -> bool:
    """The file's rows, mapped and validated, into the temp table _stage. On the fast path a DuckDB
    error (or False: no fast path for this file) means: read it again on the exact path."""
    if not fast and _is_gzip(path) and sources.file_kind(fmt, store.config) in ("csv", "json"):
        with _decompressed(path) as plain:
            return _stage_from(store, path, plain, fmt, fast)
    return _stage_from(store, path, path, fmt, fast)


@contextmanager
def _decompressed(path: Path) -> Iterator[Path]:
    """A .gz file decompressed into a temporary file, for the line-exact read. DuckDB's line reader
    holds a compressed file's whole read buffer in memory (16 x the line size: 16 GiB), and with a
    smaller buffer it drops a line longer than the buffer without a word; the plain copy is read
    exactly as the same file uncompressed is: same memory, every line numbered, too-long lines rejected."""
    with tempfile.TemporaryDirectory(prefix="costlab-") as tmp:
        plain = Path(tmp) / path.name.removesuffix(".gz")
        try:
            with gzip.open(path, "rb") as src, plain.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (OSError, EOFError, zlib.error) as ex:
            if isinstance(ex, OSError) and ex.errno is not None:  # disk full: not the file's fault
                raise InputError(f"{path}: cannot decompress it to a temporary file ({ex}). Free space in the "
                                 "temporary folder (TMPDIR), or decompress the file yourself.") from ex
            raise InputError(f"{path}: a damaged or truncated gzip file ({ex}). Re-copy or re-export it.") from ex
        yield plain


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
    kind = sources.file_kind(fmt, config)
    if not fast and kind in ("csv", "json"):
        _fold_line_rejects(store, header=kind == "csv")
    store.execute_script(FINISH_SQL)
    return True


def _stage_rows(store: Store, path: Path, fmt: str, fast: bool, src: str, cols: list[str], typed: dict[str, str]) -> None:
    """The rows of the relation `src` (see _reader), mapped and validated, into _stage."""
    config = store.config
    adapter = sources.adapter_for(fmt, config, cols)
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
        raise InputError(f"{path}: cannot be read as {fmt}: {ex}. {detect.FORMATS_HELP}") from ex


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
            from (select row_number() over () as _line, raw from {_lines(file_literal(readable))})
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
                   f"{MAX_LINE_BYTES:,} bytes" if set_aside
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
                      when 'LINE SIZE OVER MAXIMUM' then 'line longer than {MAX_LINE_BYTES:,} bytes'
                      else 'unreadable line: ' || error_message end""")
    store.execute(
        f"""insert into _stage by name
            select line as _line, csv_line as _raw, {reason} as _reject, {names}
            from _csv_bad"""
    )
    store.execute_script("drop table if exists _csv_bad; drop table if exists _csv_rejects; drop table if exists _csv_scan")


def _load(store: Store, path: Path, fmt: str, size: int, digest: str, payloads: bool, result: FileResult,
          fill_payloads: bool = False) -> None:
    """`fill_payloads`: the file was ingested before without its payloads; add the payloads of its
    requests that have none (their requests are present, so none is counted twice)."""
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
    fresh = "from _stage where rowid not in (select row_id from _skip)"
    picked = ", ".join("$ingest_id as ingest_id" if c == "ingest_id" else c for c in COLUMN_NAMES)
    rows_read, rows_rejected, skipped, mtime_rows = store.rows(
        f"""select (select count(*) from _stage), (select count(*) from _stage where _reject is not null),
                   (select count(*) from _skip),
                   (select count(*) {fresh} and attributes->>'ts_source' = 'file_mtime')"""
    )[0]
    result.rows_read, result.rows_rejected = rows_read, rows_rejected
    result.rows_added, result.rows_present = rows_read - skipped, skipped - rows_rejected
    with store.transaction():
        ingest_id = store.scalar("select nextval('ingest_id_seq')")
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
        has_payload = "(_request_json is not null or nullif(_response_text, '') is not null)"
        if payloads and fill_payloads:
            # Every good first row of an id, fresh or present, whose request has no payload yet.
            added = store.scalar(
                f"""with p as (insert into payloads
                        select source, request_id, _request_json, nullif(_response_text, '') from _stage s
                        where _reject is null and {has_payload}
                          and not exists (select 1 from _repeats r where r.source = s.source
                                          and r.request_id = s.request_id and s.rowid <> r.first_row)
                          and not exists (select 1 from payloads p where p.source = s.source
                                          and p.request_id = s.request_id)
                        returning 1)
                    select count(*) from p"""
            )
            result.notes.append(f"{added} payloads added to requests first ingested with --no-payloads")
        elif payloads:
            store.execute(
                f"""insert into payloads select source, request_id, _request_json, nullif(_response_text, '')
                    {fresh} and {has_payload}"""
            )
        # Priced as they are appended (queries/internal/price_rows.sql), so every later read of
        # costed_requests scans stored prices instead of joining the price card. A view, not a
        # parameter: costlab_price_rows takes a table name (ingest_id is our own integer).
        store.execute(f"create or replace temp view _fresh as select {picked.replace('$ingest_id', str(int(ingest_id)))} {fresh}")
        store.execute("insert into requests by name select * exclude (prompt_tokens), "
                      "costlab_price_version() as price_version from costlab_price_rows('_fresh')")
    if mtime_rows:
        result.notes.append(f"{mtime_rows} rows had no timestamp; the file's modification time stands in")
    # What the adapters repaired (sources.py `_note`): one line per kind of repair, with its count.
    for note, n in store.rows(f"select _note, count(*) {fresh} and _note is not null group by _note order by _note"):
        result.notes.append(f"{n} {'row' if n == 1 else 'rows'}: {note}")
    store.execute_script("drop view if exists _fresh; drop table if exists _skip; drop table if exists _stage; drop table if exists _repeats")
