"""`anthropic`: Anthropic Messages logs, JSON lines. Either one Message per line (`anthropic-message`:
what `client.messages.create(...).model_dump_json()` writes) or one request/response envelope per
line (`anthropic`: the request, the response or the API's error, timing, metadata). The Message's
usage and error shapes are shared with Message Batches results (batch.py)."""

from __future__ import annotations

import json
from pathlib import Path

from costlab.config import Config
from costlab.errors import ConfigError, did_you_mean
from costlab.ingest.counts import cache_writes
from costlab.ingest.files import head_text
from costlab.ingest.formats.base import SHAPE, V, Adapter, Format
from costlab.store.sqlquote import literal

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

# metadata key -> canonical column, for envelopes; [ingest.metadata] in costlab.toml can rename keys.
METADATA_COLUMNS = (
    "feature", "user_id", "customer_id", "session_id", "trace_id", "parent_request_id", "attempt", "feedback_score",
)


def error_type(err: str, http: str) -> str:
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


def usage_columns(m: str, note: str = "NULL", tier: str | None = None) -> str:
    """The usage columns of a Message `m`, `_ttl_assumed`, and `_note`: the cache-write note, or else
    `note`. `tier`: a service tier (SQL) that overrides the usage object's."""
    u = f"{m}.usage"
    # cache_writes (counts.py): one rule for an undivided total and its 5m/1h split, in every adapter.
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
        {usage_columns('response', note='_md_note')},
        latency_ms, ttft_ms,
        case when error is not null or response is null or try_cast(status_code as INTEGER) >= 400
             then 'error' else 'ok' end as status,
        case when error is not null or response is null or try_cast(status_code as INTEGER) >= 400
             then {error_type('error', 'status_code')} end as error_type,
        coalesce(status_code, case when error is null and response is not null then '200' end) as http_status,
        {_metadata_columns(config)},
        NULL as reported_cost_usd, NULL as sample_weight,
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
        {usage_columns('src', note='_md_note')},
        NULL as latency_ms, NULL as ttft_ms, 'ok' as status, NULL as error_type, '200' as http_status,
        {_metadata_columns(config)},
        NULL as reported_cost_usd, NULL as sample_weight,
        'anthropic' as source,
        json_object('ts_source', case when coalesce(timestamp, created_at) is null then 'file_mtime' end,
                    'metadata', metadata) as _attrs,
        NULL as _request_json
    from {_with_metadata(config)}"""
    return Adapter("anthropic-message", "json", select, PLAIN_MESSAGE, needs_mtime=True, parallel=True)


def _adapter(name: str, config: Config, _columns: list[str]) -> Adapter:
    return anthropic_message(config) if name == "anthropic-message" else anthropic(config)


def _sniff_record(record: dict) -> str | None:
    if record.get("type") == "message" and "usage" in record:
        return "anthropic-message"
    if {"response", "request", "error"} & set(record) and ("timestamp" in record or "response" in record):
        return "anthropic"
    return None


def _choose(_flag: str, path: Path, _config: Config) -> str:
    """--format anthropic: plain Messages when the first record is one, else envelopes."""
    first = next((ln for ln in head_text(path).splitlines() if ln.strip()), "")
    try:
        if json.loads(first).get("type") == "message":
            return "anthropic-message"
    except (json.JSONDecodeError, AttributeError):
        pass
    return "anthropic"


FORMAT = Format(
    flag="anthropic",
    describes="Anthropic Messages logs (one Message or one request/response envelope per line)",
    docs="`anthropic`",
    names=("anthropic", "anthropic-message"),
    kinds={"anthropic": "json", "anthropic-message": "json"},
    choose=_choose,
    adapter=_adapter,
    specificity=SHAPE,  # request/response/error are common words: a format with a signature field wins
    sniff_record=_sniff_record,
)
