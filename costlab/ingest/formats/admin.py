"""`admin`: Anthropic Admin API usage and cost reports, into `usage_buckets` (not requests).

Input: the JSON the API returns, `{"data": [{"starting_at", "ending_at", "results": [...]}], "has_more",
"next_page"}`, one page per file or many pages as JSON lines (what `costlab pull-usage --save` writes),
pretty-printed or not, optionally gzip. Results with an `amount` are cost-report rows (amount is a
decimal string in CENTS: "123.45" is $1.23450); the others are usage-report rows (token counts).

A bucket pulled again replaces the earlier copy (`bucket_key`), since the provider revises open days.
Everything is DuckDB SQL over the file; nothing loops over results in Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from costlab.errors import InputError, QueryError
from costlab.ingest.files import is_gzip
from costlab.ingest.formats.base import Format, only
from costlab.ingest.results import FileResult
from costlab.store import queries
from costlab.store.sqlquote import file_literal

if TYPE_CHECKING:
    from costlab.store import Store

FORMAT_NAME = "admin-report"
_COLUMNS = ("{'data': 'STRUCT(starting_at VARCHAR, ending_at VARCHAR, results JSON[])[]', "
            "'has_more': 'VARCHAR', 'next_page': 'VARCHAR'}")

# One row per bucket of each page, numbered by page: the relation queries/ingest/admin_report.sql reads.
_PAGES = ("create or replace temp view _admin_pages as "
          "select row_number() over () as page, unnest(data) as d from read_json({path}, format='auto', "
          "columns={columns}, maximum_object_size={object_size}{gz})")
# DuckDB's JSON reader holds buffers of twice the largest object it allows: a fixed 1 GiB asked for 2 GiB
# and failed under [ingest] memory_limit (1 GB). No object is larger than its file (a gzip file: about
# 20 times, a report's JSON compresses well), so the file's size bounds it, up to 1 GiB.
_MAX_OBJECT = 1 << 30


def load(store: Store, path: Path, size: int, digest: str, origin: str | None = None) -> FileResult:
    """Stage a report file, then in one transaction: an ingests row, its rejects, and the buckets
    (replacing earlier copies of the same buckets)."""
    result = FileResult(origin or str(path), FORMAT_NAME)
    gz = ", compression='gzip'" if is_gzip(path) else ""
    try:
        # str.format fills each placeholder once: nothing in a file name is read as a placeholder.
        object_size = min(_MAX_OBJECT, max(1 << 20, (size * 20 if gz else size) + 1))
        store.execute(_PAGES.format(columns=_COLUMNS, gz=gz, path=file_literal(path), object_size=object_size))
        store.execute_script(queries.load("ingest/admin_report").text)
    except QueryError as ex:  # (out of memory is not the file's fault: it stops the run, naming memory_limit)
        raise InputError(f"{origin or path}: cannot be read as an Admin API usage or cost report: {ex}") from ex
    read, rejected, unique = store.rows(
        "select count(*), count(*) filter (where _reject is not null), "
        "count(distinct bucket_key) filter (where _reject is null) from _ub2"
    )[0]
    result.rows_read, result.rows_rejected, result.rows_added = read, rejected, unique
    with store.transaction():
        ingest_id = store.scalar("select nextval('ingest_id_seq')")
        store.execute(
            """insert into ingests (ingest_id, file, size, sha256, format, rows_read, rows_added, rows_present,
                                    rows_rejected, started_at, finished_at)
               values (?, ?, ?, ?, ?, ?, ?, 0, ?, now(), now())""",
            [ingest_id, result.file, size, digest, FORMAT_NAME, read, unique, rejected],
        )
        store.execute(
            "insert into rejects select ?, ?, page, _reject, left(_raw, 10000) from _ub2 where _reject is not null",
            [ingest_id, result.file],
        )
        store.execute(
            "delete from usage_buckets where bucket_key in (select bucket_key from _ub2 where _reject is null)"
        )
        store.execute(
            """insert into usage_buckets by name
               select report, starting_at, ending_at, model, model_raw, service_tier, context_window, inference_geo,
                      api_key_id, workspace_id, description, cost_type, token_type, uncached_input_tokens,
                      output_tokens, cache_read_input_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
                      web_search_requests, amount_usd::DECIMAL(18,9) as amount_usd, currency, bucket_key,
                      $origin as origin, $ingest_id as ingest_id, now() as loaded_at
               from _ub2 where _reject is null
               qualify row_number() over (partition by bucket_key order by page desc) = 1""",
            {"origin": result.file, "ingest_id": ingest_id},
        )
    store.execute_script("drop table if exists _ub; drop table if exists _ub2; drop view if exists _admin_pages")
    if rejected:
        result.notes.append(f"{rejected} report results rejected (see rejects; `line` is the page number)")
    return result


def looks_like_report(text: str) -> bool:
    """A pretty-printed Admin API page (one JSON document over many lines)."""
    head = text.lstrip()
    return head.startswith("{") and '"data"' in head and '"results"' in head and (
        '"has_more"' in head or '"next_page"' in head or '"starting_at"' in head)


def _sniff_record(record: dict) -> str | None:
    return FORMAT_NAME if isinstance(record.get("data"), list) and ("has_more" in record or "next_page" in record) else None


def _sniff_text(text: str) -> str | None:
    return FORMAT_NAME if looks_like_report(text) else None


FORMAT = Format(
    flag="admin",
    describes="Anthropic Admin API usage and cost reports (JSON)",
    docs="`admin`",
    names=(FORMAT_NAME,),
    kinds={FORMAT_NAME: "json"},
    choose=only(FORMAT_NAME),
    load=load,
    sniff_record=_sniff_record,
    sniff_text=_sniff_text,
)
