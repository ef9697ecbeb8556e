"""`litellm`: LiteLLM proxy exports: the `LiteLLM_SpendLogs` table (CSV, or JSON lines, one row per line) and the
`LiteLLM_ErrorLogs` table (same formats), read by one adapter that uses whichever columns the file has.

* `spend` goes to `reported_cost_usd`, for reconciliation only: costlab prices every row itself.
* LiteLLM's `prompt_tokens` follows the OpenAI convention and INCLUDES cache reads and cache writes
  for Anthropic models; costlab subtracts the cache counts it finds in `metadata.usage_object`
  (`cache_read_input_tokens` or `prompt_tokens_details.cached_tokens`, `cache_creation_input_tokens`,
  and the 5m/1h split in `cache_creation_token_details` when present). `[ingest.litellm]
  prompt_includes_cache = false` turns the subtraction off.
* `messages` and `response` go to payloads; `status = failure` rows and ErrorLogs rows are errors
  (`exception_type`/`status_code`, or `metadata.error_information`).

Who and what, by config (defaults shown):

    [ingest.litellm.tags]
    feature = "request_tags"          # the first request tag; "tag:feature:" takes the tag that starts
                                      # with "feature:" (prefix removed); "metadata.x.y" a metadata key;
    user_id = "end_user"              # any other value names a column of the export
    customer_id = "team_id"
    session_id = "session_id"
"""

from __future__ import annotations

import json
from pathlib import Path

from costlab.config import Config
from costlab.errors import ConfigError
from costlab.ingest.counts import cache_tokens, cache_writes, counts_ok, uncached_input
from costlab.ingest.files import content_kind
from costlab.ingest.formats.base import V, Adapter, Format
from costlab.ingest.tags import tag_keys
from costlab.store.sqlquote import ident, literal

JSON_COLUMNS = ("metadata", "request_tags", "messages", "response", "request_kwargs", "proxy_server_request")
SPEC = {
    name: ("JSON" if name in JSON_COLUMNS else V)
    for name in (
        "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens", "completion_tokens",
        "startTime", "endTime", "completionStartTime", "request_duration_ms", "model", "model_id", "model_group",
        "custom_llm_provider", "api_base", "user", "metadata", "cache_hit", "cache_key", "request_tags", "team_id",
        "organization_id", "end_user", "requester_ip_address", "messages", "response", "session_id", "status",
        # LiteLLM_ErrorLogs
        "litellm_model_name", "request_kwargs", "exception_type", "exception_string", "status_code",
    )
}
_TAG_DEFAULTS = {"feature": "request_tags", "user_id": "end_user", "customer_id": "team_id",
                 "session_id": "session_id", "trace_id": None}


class _Columns:
    """The export's own columns, quoted: `c(name)` a column (NULL when the file has none), `j(name)` one read as JSON."""

    def __init__(self, columns: list[str]):
        self.have = {c.lower(): c for c in columns}

    def c(self, name: str) -> str:
        return ident(self.have[name.lower()]) if name.lower() in self.have else "NULL"

    def j(self, name: str) -> str:
        return f"try_cast({self.c(name)} as JSON)" if name.lower() in self.have else "NULL::JSON"


def _prompt_includes_cache(config: Config) -> bool:
    includes = (config.ingest.get("litellm") or {}).get("prompt_includes_cache", True)
    if not isinstance(includes, bool):
        raise ConfigError("[ingest.litellm] prompt_includes_cache must be true or false")
    return includes


def _tag_items(config: Config, x: _Columns) -> str:
    """The tag columns by [ingest.litellm.tags]: the first request tag, a tag by prefix, a metadata key, or a column."""
    tags = []
    for col, key in tag_keys(config, "litellm", _TAG_DEFAULTS).items():
        if key is None:
            expr = "NULL"
        elif key == "request_tags":
            expr = "_tags[1]"
        elif key.startswith("tag:"):
            prefix = literal(key[4:])
            expr = f"substr(list_filter(_tags, lambda t: starts_with(t, {prefix}))[1], length({prefix}) + 1)"
        elif key.startswith("metadata."):
            expr = f"json_extract_string(_meta, {literal('$.' + '.'.join(json.dumps(k) for k in key[9:].split('.')))})"
        else:
            expr = x.c(key)
        tags.append(f"{expr} as {col}")
    return ", ".join(tags)


def _ctes(x: _Columns) -> str:
    """CTEs b -> u over `src`: metadata, tags, times, the failure (SpendLogs status or ErrorLogs
    exception), model and provider; then the token counts and the cache counts in metadata.usage_object."""
    c, j = x.c, x.j
    uo = "_meta->'$.usage_object'"
    ei = "_meta->'$.error_information'"
    return f"""
    with b as (
        select *, {j('metadata')} as _meta,
               coalesce(from_json({j('request_tags')}, '["VARCHAR"]'), []) as _tags,
               try_cast({c('startTime')} as TIMESTAMPTZ) as _t0, try_cast({c('endTime')} as TIMESTAMPTZ) as _t1,
               try_cast({c('completionStartTime')} as TIMESTAMPTZ) as _tf,
               coalesce({c('exception_type')}, {ei}->>'$.error_class') as _exc,
               coalesce({c('exception_string')}, {ei}->>'$.error_message') as _exc_msg,
               coalesce({c('status_code')}, {ei}->>'$.error_code') as _code,
               ({c('exception_type')} is not null or lower({c('status')}) in ('failure', 'error', 'failed')) as _failed,
               coalesce({c('model')}, {c('litellm_model_name')}, {c('model_group')}) as _model,
               lower(coalesce({c('custom_llm_provider')}, '')) as _provider
        from src
    ),
    u as (
        select *,
            coalesce({uo}->>'$.cache_read_input_tokens', {uo}->>'$.prompt_tokens_details.cached_tokens',
                     _meta->>'$.cache_read_input_tokens') as _cr,
            coalesce({uo}->>'$.cache_creation_input_tokens', _meta->>'$.cache_creation_input_tokens') as _cw,
            coalesce({uo}->>'$.cache_creation_token_details.ephemeral_5m_input_tokens',
                     {uo}->>'$.cache_creation.ephemeral_5m_input_tokens') as _w5,
            coalesce({uo}->>'$.cache_creation_token_details.ephemeral_1h_input_tokens',
                     {uo}->>'$.cache_creation.ephemeral_1h_input_tokens') as _w1,
            {c('prompt_tokens')} as _in, {c('completion_tokens')} as _out
        from b
    )"""


def _parse_error(x: _Columns, includes: bool) -> str:
    """Why a row is no request costlab can price: another format, no token counts, or a prompt
    count smaller than the cache tokens it must include."""
    c = x.c
    cache = cache_tokens("_cr", "_cw", "_w5", "_w1")
    return f"""coalesce(_parse_error,
            case when {c('startTime')} is null and {c('request_id')} is null and {c('spend')} is null
                     then 'not a LiteLLM SpendLogs or ErrorLogs row (no request_id, startTime or spend): another format mixed in?'
                 when not _failed and (nullif(trim(_in), '') is null or nullif(trim(_out), '') is null)
                     then 'no token counts (prompt_tokens and completion_tokens): its cost cannot be known'
                 when {'true' if includes else 'false'} and {counts_ok('_in', '_cr', '_cw', '_w5', '_w1')} and try_cast(_in as BIGINT) < {cache}
                     then 'prompt_tokens (' || _in || ') is smaller than the cache tokens it must include ('
                          || {cache} || ')'
            end) as _parse_error"""


def _platform_and_geo(x: _Columns) -> str:
    """The platform from the provider or the model's prefix; a Bedrock call's region from api_base
    or the model's geographic prefix (global. is global)."""
    return f"""case when _provider in ('bedrock', 'bedrock_converse') or starts_with(lower(_model), 'bedrock/') then 'bedrock'
             when _provider like 'vertex%' or starts_with(lower(_model), 'vertex_ai/') then 'vertex'
             when _provider in ('azure_ai', 'azure') then 'foundry'
             else 'anthropic' end as platform,
        _model as model_raw,
        NULL as service_tier, NULL as speed,
        case when regexp_matches(lower(_model), '(^|/)global\\.') then 'global'
             when _provider like 'bedrock%' or starts_with(lower(_model), 'bedrock/')
                 then coalesce(nullif(regexp_extract({x.c('api_base')}, 'bedrock-runtime\\.([a-z0-9-]+)\\.amazonaws', 1), ''),
                               nullif(regexp_extract(lower(_model), '(^|/)(us|eu|apac|jp|au|ca|us-gov)\\.anthropic', 2), ''))
        end as inference_geo"""


def _token_columns(includes: bool) -> str:
    five, assumed, note = cache_writes("_cw", "_w5", "_w1")
    return f"""{uncached_input('_in', '_cr', '_cw', '_w5', '_w1') if includes else '_in'} as input_tokens,
        _out as output_tokens,
        _cr as cache_read_tokens,
        {five} as cache_write_5m_tokens,
        _w1 as cache_write_1h_tokens,
        NULL as web_search_requests, NULL as web_fetch_requests,
        {assumed} as _ttl_assumed, {note} as _note"""


def _outcome(x: _Columns) -> str:
    """latency, ttft, status, error_type (the exception class, else the status code), http_status, stop_reason."""
    c = x.c
    return f"""coalesce({c('request_duration_ms')}, (epoch_ms(_t1) - epoch_ms(_t0))::VARCHAR) as latency_ms,
        case when _tf > _t0 and _tf < _t1 then (epoch_ms(_tf) - epoch_ms(_t0))::VARCHAR end as ttft_ms,
        case when _failed then 'error' else 'ok' end as status,
        case when not _failed then NULL
             when regexp_matches(lower(coalesce(_exc, '') || ' ' || coalesce(_exc_msg, '')), 'contextwindowexceeded|context.?window|prompt is too long|too many tokens')
                 then 'context_exceeded'
             when regexp_matches(lower(coalesce(_exc, '')), 'ratelimit') or _code = '429' then 'rate_limit'
             when regexp_matches(lower(coalesce(_exc, '')), 'timeout') or _code in ('408', '504') then 'timeout'
             when regexp_matches(lower(coalesce(_exc, '')), 'serviceunavailable|overloaded') or _code in ('503', '529') then 'overloaded'
             when regexp_matches(lower(coalesce(_exc, '')), 'badrequest|invalidrequest|unprocessable') or _code in ('400', '422') then 'invalid_request'
             when regexp_matches(lower(coalesce(_exc, '')), 'authentication') or _code = '401' then 'authentication'
             when regexp_matches(lower(coalesce(_exc, '')), 'permission|budgetexceeded') or _code = '403' then 'permission'
             else 'api_error' end as error_type,
        case when _failed then nullif(regexp_extract(_code, '^\\d{{3}}$'), '') else '200' end as http_status,
        coalesce(try_cast({c('response')} as JSON)->>'$.choices[0].finish_reason',
                 try_cast({c('response')} as JSON)->>'$.stop_reason') as stop_reason"""


def _attrs_and_payloads(x: _Columns) -> str:
    c, j = x.c, x.j
    return f"""json_object('call_type', {c('call_type')}, 'api_key', {c('api_key')}, 'model_id', {c('model_id')},
                    'model_group', {c('model_group')}, 'custom_llm_provider', {c('custom_llm_provider')},
                    'api_base', {c('api_base')}, 'cache_hit', {c('cache_hit')}, 'user', {c('user')},
                    'team_id', {c('team_id')}, 'end_user', {c('end_user')}, 'organization_id', {c('organization_id')},
                    'request_tags', _tags, 'total_tokens', {c('total_tokens')},
                    'prompt_tokens_reported', _in, 'spend', {c('spend')},
                    'exception_type', _exc, 'exception', left(_exc_msg, 2000)) as _attrs,
        case when {j('messages')} is not null and {j('messages')}::VARCHAR not in ('{{}}', '[]', 'null')
             then json_object('messages', {j('messages')}) end as _request_json,
        coalesce(try_cast({c('response')} as JSON)->>'$.choices[0].message.content',
                 array_to_string(json_extract_string(try_cast({c('response')} as JSON), '$.content[*].text'), '')) as _response_text"""


def adapter(config: Config, columns: list[str] | None = None) -> Adapter:
    kind = "csv" if columns else "json"
    x = _Columns(columns or list(SPEC))
    includes = _prompt_includes_cache(config)
    if "spend" not in x.have and "exception_type" not in x.have:
        raise ConfigError("a LiteLLM export needs a `spend` (SpendLogs) or `exception_type` (ErrorLogs) column")
    select = f"""{_ctes(x)}
    select _line, _raw, _row,
        {_parse_error(x, includes)},
        {x.c('request_id')} as request_id,
        {x.c('startTime')} as ts,
        {_platform_and_geo(x)},
        {_token_columns(includes)},
        {_outcome(x)},
        {_tag_items(config, x)},
        NULL as parent_request_id, NULL as attempt, NULL as feedback_score,
        {x.c('spend')} as reported_cost_usd, NULL as sample_weight,
        'litellm' as source,
        {_attrs_and_payloads(x)}
    from u"""
    return Adapter(f"litellm-{kind}", kind, select, SPEC if kind == "json" else {})


def _sniff_record(record: dict) -> str | None:
    return "litellm-jsonl" if "startTime" in record and ("spend" in record or "exception_type" in record) else None


def _sniff_header(header: set[str]) -> str | None:
    return "litellm-csv" if "starttime" in header and ("spend" in header or "exception_type" in header) else None


def _choose(_flag: str, path: Path, _config: Config) -> str | None:
    """--format litellm: CSV or JSON lines by the file's first bytes (a Parquet file is no LiteLLM export)."""
    name = f"litellm-{content_kind(path)}"
    return name if name in _KINDS else None


_KINDS = {"litellm-csv": "csv", "litellm-jsonl": "json"}

FORMAT = Format(
    flag="litellm",
    describes="LiteLLM SpendLogs (CSV, JSON)",
    docs="`litellm`",
    names=tuple(_KINDS),
    kinds=_KINDS,
    choose=_choose,
    plain_csv=True,
    adapter=lambda _name, config, columns: adapter(config, columns),
    sniff_record=_sniff_record,
    sniff_header=_sniff_header,
)
