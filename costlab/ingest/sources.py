"""One adapter per log format: how to read the file, and the SQL that maps its fields to the
canonical columns (still untyped: canonical.py validates and casts, the same way for every format).

Every adapter's SELECT reads a relation `src` and yields: each canonical column (NULL when the
format has no such field), `model_raw`, `_attrs` (a JSON object of extras for `attributes`),
`_ttl_assumed` (cache writes billed as 5-minute without a full split), `_note` (what the adapter
repaired in the row, one fixed sentence, for the ingest summary; NULL when nothing),
`_request_json`, `_response_text` (payloads), and passes `_line`, `_raw`, `_parse_error` and `_row`
(the whole source row, hashed into an id only for rows that have none).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from costlab.config import Config
from costlab.errors import ConfigError, did_you_mean
from costlab.ingest.common import cache_writes
from costlab.schema import COLUMN_NAMES
from costlab.store.sqlquote import expression, ident, literal

V = "VARCHAR"
USAGE = {
    "input_tokens": V, "output_tokens": V, "cache_creation_input_tokens": V, "cache_read_input_tokens": V,
    "cache_creation": {"ephemeral_5m_input_tokens": V, "ephemeral_1h_input_tokens": V},
    "server_tool_use": {"web_search_requests": V, "web_fetch_requests": V},
    "service_tier": V, "speed": V, "inference_geo": V,
}
MESSAGE = {"id": V, "type": V, "model": V, "stop_reason": V, "content": [{"type": V, "text": V}], "usage": USAGE}
ERROR = {"type": V, "error": {"type": V, "message": V}, "request_id": V}
ENVELOPE = {
    "timestamp": V, "created_at": V, "request_id": V, "platform": V, "request": "JSON", "response": MESSAGE,
    "error": ERROR, "status_code": V, "latency_ms": V, "ttft_ms": V, "metadata": "JSON",
}
PLAIN_MESSAGE = {**MESSAGE, "timestamp": V, "created_at": V, "metadata": "JSON"}
BATCH = {"custom_id": V, "result": {"type": V, "message": MESSAGE, "error": ERROR}}
CANONICAL_JSON = {name: ("JSON" if name == "attributes" else V) for name in COLUMN_NAMES}

# metadata key -> canonical column, for envelopes; [ingest.metadata] in costlab.toml can rename keys.
METADATA_COLUMNS = (
    "feature", "user_id", "customer_id", "session_id", "trace_id", "parent_request_id", "attempt", "feedback_score",
)


def struct_type(spec: object) -> str:
    """A spec as a DuckDB type, for read_json(columns=...)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return struct_type(spec[0]) + "[]"
    assert isinstance(spec, dict)
    return "STRUCT(" + ", ".join(f"{ident(k)} {struct_type(v)}" for k, v in spec.items()) + ")"


def json_structure(spec: object) -> str:
    """A spec as a json_transform structure."""
    return json.dumps(spec)


@dataclass(frozen=True)
class Adapter:
    """How one format is read (`kind`: json, csv or parquet, with a JSON `spec`) and mapped (`select`)."""

    name: str
    kind: str
    select: str
    spec: dict = field(default_factory=dict)
    needs_mtime: bool = False
    # The SELECT never looks at _line (only passes it through): the fast path may then read the file
    # in parallel without numbering lines, since any reject sends the file to the line-exact path.
    # OTel groups spans by _line, so it keeps the numbered (serial) fast path.
    parallel: bool = False


def _error_type(err: str, http: str) -> str:
    """Anthropic error types as costlab's short names; a bare HTTP status when there is no body."""
    return f"""case
        when {err}.error.type = 'invalid_request_error'
             and regexp_matches(lower(coalesce({err}.error.message, '')),
                 'prompt is too long|exceed context limit|context window|too many tokens|context length')
            then 'context_exceeded'
        when {err}.error.type = 'api_error' then 'api_error'
        when {err}.error.type is not null then regexp_replace({err}.error.type, '_error$', '')
        when try_cast({http} as INTEGER) = 429 then 'rate_limit'
        when try_cast({http} as INTEGER) = 529 then 'overloaded'
        when try_cast({http} as INTEGER) in (408, 504) then 'timeout'
        when try_cast({http} as INTEGER) >= 500 then 'api_error'
        when try_cast({http} as INTEGER) >= 400 then 'http_' || {http}
    end"""


def _usage_columns(m: str, note: str = "NULL", tier: str | None = None) -> str:
    """The usage columns of a Message `m`, `_ttl_assumed`, and `_note`: the cache-write note, or else
    `note`. `tier`: a service tier (SQL) that overrides the usage object's."""
    u = f"{m}.usage"
    # cache_writes (common.py): one rule for an undivided total and its 5m/1h split, in every adapter.
    five, assumed, cache_note = cache_writes(f"{u}.cache_creation_input_tokens", f"{u}.cache_creation.ephemeral_5m_input_tokens",
                                             f"{u}.cache_creation.ephemeral_1h_input_tokens")
    return f"""
        {tier or f"{u}.service_tier"} as service_tier, {u}.speed as speed, {u}.inference_geo as inference_geo,
        {u}.input_tokens as input_tokens, {u}.output_tokens as output_tokens,
        {u}.cache_read_input_tokens as cache_read_tokens,
        {five} as cache_write_5m_tokens,
        {u}.cache_creation.ephemeral_1h_input_tokens as cache_write_1h_tokens,
        {u}.server_tool_use.web_search_requests as web_search_requests,
        {u}.server_tool_use.web_fetch_requests as web_fetch_requests,
        {m}.stop_reason as stop_reason,
        {assumed} as _ttl_assumed,
        coalesce({cache_note}, {note}) as _note,
        array_to_string(list_transform(list_filter({m}.content, lambda b: b.type = 'text'), lambda b: b.text), '')
            as _response_text"""


def _metadata_keys(config: Config) -> dict[str, str]:
    keys = dict(zip(METADATA_COLUMNS, METADATA_COLUMNS))
    renames = config.ingest.get("metadata", {})
    for column, key in renames.items():
        if column not in keys:
            raise ConfigError(
                f"[ingest.metadata] {column!r} is not a column metadata can fill.{did_you_mean(column, keys)} "
                f"Columns: {', '.join(keys)}."
            )
        keys[column] = str(key)
    return keys


def _metadata_columns(config: Config) -> str:
    """The canonical columns metadata fills, from `_md` (see _with_metadata)."""
    return ",\n        ".join(f"_md[{i}] as {col}" for i, col in enumerate(_metadata_keys(config), 1))


NOTE_METADATA_STRING = "metadata was a JSON object inside a string: it was parsed"
NOTE_METADATA_OTHER = "metadata is not a JSON object: kept as attributes.metadata, no tags read from it"


def _with_metadata(config: Config) -> str:
    """`src` plus `_md`: every metadata key's value, extracted in ONE parse of the metadata object
    (one json_extract_string per key would parse it once per key), and `_md_note`.

    `metadata` is an object (the first branch, a prefix test, settles every such row), or missing. A
    JSON object inside a string (a logger that serialised it twice) is parsed, and noted; any other
    value (a plain string, a number, a list) is kept whole as attributes.metadata, and noted."""
    paths = ", ".join(literal("$." + json.dumps(key)) for key in _metadata_keys(config).values())
    plain = "metadata is null or starts_with(metadata::VARCHAR, '{')"
    string_object = "json_type(metadata) = 'VARCHAR' and json_type(try_cast(metadata->>'$' as JSON)) = 'OBJECT'"
    fixed = (f"case when {plain} then metadata when {string_object} then (metadata->>'$')::JSON "
             f"else json_object('metadata', metadata) end")
    note = (f"case when {plain} then NULL when {string_object} then {literal(NOTE_METADATA_STRING)} "
            f"else {literal(NOTE_METADATA_OTHER)} end")
    return (f"(select *, json_extract_string(metadata, [{paths}]) as _md "
            f"from (select * replace ({fixed} as metadata), {note} as _md_note from src)) src")


def anthropic(config: Config) -> Adapter:
    select = f"""
    select _line, _raw, _row,
        coalesce(_parse_error, case when response is not null and response.usage.input_tokens is null and response.usage.output_tokens is null
                                    then 'the response has no usage object: its cost cannot be known' end) as _parse_error,
        coalesce(response.id, request_id, error.request_id) as request_id,
        coalesce(timestamp, created_at) as ts,
        coalesce(platform, 'anthropic') as platform,
        coalesce(response.model, json_extract_string(request, '$.model')) as model_raw,
        {_usage_columns('response', note='_md_note')},
        latency_ms, ttft_ms,
        case when error is not null or response is null or try_cast(status_code as INTEGER) >= 400
             then 'error' else 'ok' end as status,
        case when error is not null or response is null or try_cast(status_code as INTEGER) >= 400
             then {_error_type('error', 'status_code')} end as error_type,
        coalesce(status_code, case when error is null and response is not null then '200' end) as http_status,
        {_metadata_columns(config)},
        NULL as reported_cost_usd,
        'anthropic' as source,
        -- The metadata object itself is the row's attributes: no re-serialisation per row.
        metadata as _attrs,
        request as _request_json
    from {_with_metadata(config)}"""
    return Adapter("anthropic", "json", select, ENVELOPE, parallel=True)


def anthropic_message(config: Config) -> Adapter:
    select = f"""
    select _line, _raw, _row,
        coalesce(_parse_error, case when usage.input_tokens is null and usage.output_tokens is null
                                    then 'the message has no usage object: its cost cannot be known' end) as _parse_error,
        id as request_id,
        coalesce(timestamp, created_at, $mtime) as ts,
        'anthropic' as platform,
        model as model_raw,
        {_usage_columns('src', note='_md_note')},
        NULL as latency_ms, NULL as ttft_ms, 'ok' as status, NULL as error_type, '200' as http_status,
        {_metadata_columns(config)},
        NULL as reported_cost_usd,
        'anthropic' as source,
        json_object('ts_source', case when coalesce(timestamp, created_at) is null then 'file_mtime' end,
                    'metadata', metadata) as _attrs,
        NULL as _request_json
    from {_with_metadata(config)}"""
    return Adapter("anthropic-message", "json", select, PLAIN_MESSAGE, needs_mtime=True, parallel=True)


def batch(config: Config) -> Adapter:
    # Batch results carry no time of their own: the file's modification time stands in, and says so.
    select = f"""
    select _line, _raw, _row,
        coalesce(_parse_error, case when result.type = 'succeeded' and result.message.usage.input_tokens is null and result.message.usage.output_tokens is null
                                    then 'a succeeded result has no usage object: its cost cannot be known' end) as _parse_error,
        coalesce(result.message.id, result.error.request_id) as request_id,
        $mtime as ts,
        'anthropic' as platform,
        result.message.model as model_raw,
        {_usage_columns('result.message', tier="'batch'")},
        NULL as latency_ms, NULL as ttft_ms,
        case when result.type = 'succeeded' then 'ok' else 'error' end as status,
        case result.type when 'succeeded' then NULL when 'errored' then 'batch_errored' else result.type end as error_type,
        case when result.type = 'succeeded' then '200' end as http_status,
        NULL as feature, NULL as user_id, NULL as customer_id, NULL as session_id, NULL as trace_id,
        NULL as parent_request_id, NULL as attempt, NULL as feedback_score, NULL as reported_cost_usd,
        'anthropic' as source,
        json_object('custom_id', custom_id, 'ts_source', 'file_mtime', 'batch_result', result.type,
                    'error', result.error.error.message) as _attrs,
        NULL as _request_json
    from src
    where result.type is not null or _parse_error is not null"""
    return Adapter("batch", "json", select, BATCH, needs_mtime=True, parallel=True)


def canonical(kind: str, columns: list[str]) -> Adapter:
    """The canonical schema from CSV, JSONL or Parquet: the columns it has, NULL for the rest.
    The file's column names are data: each one is quoted (sqlquote.ident, sqlquote.literal)."""
    have = {c.lower(): c for c in columns}
    picks = []
    for name in COLUMN_NAMES:
        if name in ("model", "attributes", "ingest_id"):
            continue
        if name == "source":
            picks.append(f"coalesce({ident(have[name])}, 'canonical') as source" if name in have else "'canonical' as source")
        else:
            picks.append(f"{ident(have[name])} as {name}" if name in have else f"NULL as {name}")
    extras = [c for c in columns if c.lower() not in COLUMN_NAMES and not c.startswith("_")]
    attrs = ident(have["attributes"]) if "attributes" in have else "NULL"
    extra_obj = "json_object(" + ", ".join(f"{literal(c)}, {ident(c)}" for c in extras) + ")" if extras else "NULL"
    select = f"""
    select _line, _raw, _parse_error, _row,
        {', '.join(picks)},
        {ident(have["model"]) if "model" in have else 'NULL'} as model_raw,
        NULL as _ttl_assumed, NULL as _note,
        json_object('attributes', try_cast({attrs} as JSON), 'extra', {extra_obj}) as _attrs,
        NULL as _request_json, NULL as _response_text
    from src"""
    return Adapter(f"canonical-{kind}", kind, select, CANONICAL_JSON, parallel=True)


def mapping(name: str, config: Config, columns: list[str]) -> Adapter:
    """A [mappings.NAME] section: canonical column = SQL expression over the file's own columns.

    The expressions are the user's own SQL (costlab.toml is trusted like code): each must be one
    expression (sqlquote.expression), never a statement. The file's column names are data, quoted."""
    spec = config.mappings[name]
    exprs = {k.lower(): v for k, v in spec.get("columns", {}).items()}
    unknown = [k for k in exprs if k not in COLUMN_NAMES]
    if unknown:
        raise ConfigError(
            f"[mappings.{name}.columns] {unknown[0]!r} is not a canonical column."
            f"{did_you_mean(unknown[0], COLUMN_NAMES)}"
        )
    if "ts" not in exprs:
        raise ConfigError(f"[mappings.{name}.columns] needs `ts`: every request needs a time")
    exprs = {k: expression(v, f"[mappings.{name}.columns] {k}") for k, v in exprs.items()}
    picks = []
    for col in COLUMN_NAMES:
        if col in ("model", "attributes", "ingest_id"):
            continue
        if col == "source":
            picks.append(f"{exprs.get('source', literal(spec.get('source', name)))} as source")
        else:
            picks.append(f"({exprs[col]}) as {col}" if col in exprs else f"NULL as {col}")
    row = "json_object(" + ", ".join(f"{literal(c)}, {ident(c)}" for c in columns) + ")"
    select = f"""
    select _line, _raw, _parse_error, _row,
        {', '.join(picks)},
        {exprs.get('model', 'NULL')} as model_raw,
        NULL as _ttl_assumed, NULL as _note,
        json_object('mapping', {literal(name)}, 'row', {row}) as _attrs,
        NULL as _request_json, NULL as _response_text
    from src"""
    kind = spec.get("format", "csv")
    if kind not in ("csv", "parquet", "jsonl"):
        raise ConfigError(f"[mappings.{name}] format must be csv, parquet or jsonl, not {kind!r}")
    return Adapter(f"mapping:{name}", kind, select)


# The real-world sources, one module each: format name -> (module, file kind).
SOURCES = {
    "bedrock": ("costlab.ingest.bedrock", "json"),
    "otel": ("costlab.ingest.otel", "json"),
    "litellm-csv": ("costlab.ingest.litellm", "csv"),
    "litellm-jsonl": ("costlab.ingest.litellm", "json"),
    "langfuse-csv": ("costlab.ingest.langfuse", "csv"),
    "langfuse-jsonl": ("costlab.ingest.langfuse", "json"),
    "langfuse-parquet": ("costlab.ingest.langfuse", "parquet", "parquet_adapter"),
}


def adapter_for(fmt: str, config: Config, columns: list[str] | None = None) -> Adapter:
    if fmt in SOURCES:
        import importlib

        module, _kind, *func = SOURCES[fmt]
        return getattr(importlib.import_module(module), func[0] if func else "adapter")(config, columns or [])
    if fmt == "anthropic":
        return anthropic(config)
    if fmt == "anthropic-message":
        return anthropic_message(config)
    if fmt == "batch":
        return batch(config)
    if fmt == "canonical-jsonl":
        return canonical("json", list(CANONICAL_JSON))
    if fmt.startswith("canonical-"):
        return canonical(fmt.split("-", 1)[1], columns or [])
    if fmt.startswith("mapping:"):
        return mapping(fmt.split(":", 1)[1], config, columns or [])
    raise ConfigError(f"unknown format {fmt!r}")


def file_kind(fmt: str, config: Config) -> str:
    if fmt in SOURCES:
        return SOURCES[fmt][1]
    if fmt.startswith("mapping:"):
        kind = config.mappings[fmt.split(":", 1)[1]].get("format", "csv")
        return "json" if kind == "jsonl" else kind  # JSON lines are read by the JSON reader
    if fmt in ("canonical-csv", "canonical-parquet"):
        return fmt.split("-", 1)[1]
    return "json"
