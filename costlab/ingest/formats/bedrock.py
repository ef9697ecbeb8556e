"""`bedrock`: Amazon Bedrock model invocation logs (`schemaType: ModelInvocationLog`), as Bedrock writes them to
S3 (gzip JSON lines under AWSLogs/<account>/BedrockModelInvocationLogs/<region>/yyyy/mm/dd/) or
CloudWatch. InvokeModel, InvokeModelWithResponseStream, Converse and ConverseStream.

Token semantics: `input.inputTokenCount` is the uncached input (Anthropic's `input_tokens`); cache
reads and writes come from `input.cacheRead/WriteInputTokenCount`. Converse's `usage.totalTokens`
INCLUDES the cache tokens, so it is never used as the input count; it is kept in attributes. The
5-minute/1-hour split of cache writes is read from the response body when the log has it
(`usage.cache_creation` for InvokeModel, `usage.cacheDetails` for Converse); otherwise the whole
write count is billed as 5-minute and the row says so.

Config (costlab.toml):

    [ingest.bedrock.profiles]        # application inference profiles: ARN (or its id) -> model id
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123" = "global.anthropic.claude-sonnet-5-5"
    [ingest.bedrock.tags]            # canonical column -> requestMetadata key
    feature = "team"
    user_id = "user"
"""

from __future__ import annotations

import re

from costlab.config import Config
from costlab.ingest.counts import cache_writes
from costlab.ingest.formats.base import V, Adapter, Format, only
from costlab.ingest.tags import tag_columns
from costlab.store.sqlquote import literal

SPEC = {
    "schemaType": V, "schemaVersion": V, "timestamp": V, "accountId": V, "identity": {"arn": V},
    "region": V, "inferenceRegion": V, "requestId": V, "operation": V, "modelId": V,
    "input": {"inputContentType": V, "inputBodyJson": "JSON", "inputBodyS3Path": V, "inputTokenCount": V,
              "cacheReadInputTokenCount": V, "cacheWriteInputTokenCount": V},
    "output": {"outputContentType": V, "outputBodyJson": "JSON", "outputBodyS3Path": V, "outputTokenCount": V},
    "requestMetadata": "JSON", "errorCode": V, "errorMessage": V,
}

# Bedrock runtime exceptions as costlab's error types and the HTTP status each one is.
_ERRORS = {
    "ThrottlingException": ("rate_limit", 429),
    "ServiceQuotaExceededException": ("rate_limit", 429),
    "ServiceUnavailableException": ("overloaded", 503),
    "ModelNotReadyException": ("overloaded", 429),
    "ModelTimeoutException": ("timeout", 408),
    "InternalServerException": ("api_error", 500),
    "ModelErrorException": ("api_error", 424),
    "AccessDeniedException": ("permission", 403),
    "ResourceNotFoundException": ("not_found", 404),
    "ValidationException": ("invalid_request", 400),
}


def _first(path_expr: str) -> str:
    """The first non-null match of a JSON path with a wildcard (streamed bodies are lists of events)."""
    return f"list_filter({path_expr}, lambda x: x is not null)[1]"


# Streamed InvokeModel bodies end with Bedrock's own metrics event.
_STREAM_METRICS = (
    "struct_pack(invocationLatency := " + _first("json_extract_string(output.outputBodyJson, '$[*].\"amazon-bedrock-invocationMetrics\".invocationLatency')")
    + ", firstByteLatency := " + _first("json_extract_string(output.outputBodyJson, '$[*].\"amazon-bedrock-invocationMetrics\".firstByteLatency')") + ")"
)


def _profiles_case(config: Config) -> str:
    profiles = (config.ingest.get("bedrock") or {}).get("profiles") or {}
    if not profiles:
        return "NULL"
    whens = []
    for key, model in profiles.items():
        k = literal(str(key))
        whens.append(f"when modelId = {k} or regexp_extract(modelId, '[^/]+$') = {k} then {literal(str(model))}")
    return "case " + " ".join(whens) + " end"


def _response_ctes(config: Config) -> str:
    """CTEs a0 -> b -> c over `src`: the response body parsed once (`_ob`), its usage object (`_u`),
    a stream's metrics (`_m`), the model id through [ingest.bedrock.profiles], and the token counts
    from the record or the body (`_in`, `_out`, `_cr`, `_cw`, and the 1h/5m split `_cw1h`, `_cw5m`)."""
    u = "_u"
    details = """from_json({u}->'$.cacheDetails', '[{{"ttl":"VARCHAR","inputTokens":"BIGINT"}}]')"""
    return f"""
    with a0 as (
        -- The response body is parsed once: every path it is read by in one json_extract.
        select *,
            json_extract(output.outputBodyJson, ['$.usage', '$.stop_reason', '$.stopReason', '$.metrics.latencyMs',
                                                 '$.content', '$.output.message.content', '$.model', '$.metadata.usage'])
                as _ob,
            coalesce(starts_with(ltrim(output.outputBodyJson::VARCHAR), '['), false) as _stream
        from src
    ),
    b as (
        select *,
            -- The usage object of the response body: a Messages body, a Converse body, or the first
            -- event of a stream that carries one.
            coalesce(_ob[1], _ob[8],
                     case when _stream then coalesce({_first("json_extract(output.outputBodyJson, '$[*].message.usage')")},
                                                     {_first("json_extract(output.outputBodyJson, '$[*].metadata.usage')")}) end) as _u,
            case when _stream then {_STREAM_METRICS} end as _m,
            coalesce({_profiles_case(config)}, modelId) as _model_id
        from a0
    ),
    c as (
        select *,
            coalesce({u}->>'$.cache_creation.ephemeral_1h_input_tokens',
                     list_sum(list_transform(list_filter({details.format(u=u)},
                                                         lambda d: d.ttl = '1h'), lambda d: d.inputTokens))::VARCHAR) as _cw1h,
            coalesce({u}->>'$.cache_creation.ephemeral_5m_input_tokens',
                     list_sum(list_transform(list_filter({details.format(u=u)},
                                                         lambda d: d.ttl = '5m'), lambda d: d.inputTokens))::VARCHAR) as _cw5m,
            coalesce(input.cacheWriteInputTokenCount, {u}->>'$.cacheWriteInputTokens', {u}->>'$.cache_creation_input_tokens') as _cw,
            coalesce(input.cacheReadInputTokenCount, {u}->>'$.cacheReadInputTokens', {u}->>'$.cache_read_input_tokens') as _cr,
            coalesce(output.outputTokenCount, {u}->>'$.outputTokens', {u}->>'$.output_tokens') as _out,
            coalesce(input.inputTokenCount, {u}->>'$.inputTokens', {u}->>'$.input_tokens') as _in
        from b
    )"""


# Why a record is no request costlab can price (NULL: it is one).
_PARSE_ERROR = """coalesce(_parse_error,
            case when schemaType is distinct from 'ModelInvocationLog'
                     then 'not a Bedrock invocation log record (schemaType is not ModelInvocationLog): another format mixed in?'
                 when modelId is null then 'no modelId: the model cannot be known'
                 when errorCode is null and (_in is null or _out is null)
                     then 'no token counts (input.inputTokenCount and output.outputTokenCount): its cost cannot be known'
            end) as _parse_error"""

# The model: an application inference profile's ARN is the body's model (when [ingest.bedrock.profiles]
# does not name it); the geography: global cross-Region profiles are billed at the global rate,
# everything else (a plain model id in a Region, a us./eu./apac. geographic profile) is a regional
# endpoint, billed by the source Region.
_MODEL_AND_GEO = f"""coalesce(case when _model_id like 'arn:%:application-inference-profile/%' then
                     coalesce(_ob[7]->>'$',
                              case when _stream then {_first("json_extract_string(output.outputBodyJson, '$[*].message.model')")} end) end,
                 _model_id) as model_raw,
        'standard' as service_tier, 'standard' as speed,
        case when regexp_matches(_model_id, '(^|/)global\\.') then 'global' else coalesce(region, inferenceRegion) end
            as inference_geo"""


def _token_columns() -> str:
    five, assumed, note = cache_writes("_cw", "_cw5m", "_cw1h")
    return f"""_in as input_tokens,
        _out as output_tokens,
        _cr as cache_read_tokens,
        {five} as cache_write_5m_tokens,
        _cw1h as cache_write_1h_tokens,
        NULL as web_search_requests, NULL as web_fetch_requests,
        {assumed} as _ttl_assumed, {note} as _note"""


def _outcome_columns() -> str:
    """latency, status, error_type (Bedrock's exceptions by _ERRORS), http_status, stop_reason."""
    err_type = "case errorCode " + " ".join(f"when {literal(k)} then {literal(v[0])}" for k, v in _ERRORS.items()) + " end"
    err_http = "case errorCode " + " ".join(f"when {literal(k)} then {literal(str(v[1]))}" for k, v in _ERRORS.items()) + " end"
    return f"""coalesce(_ob[4]::VARCHAR, _m.invocationLatency) as latency_ms,
        _m.firstByteLatency::VARCHAR as ttft_ms,
        case when errorCode is not null then 'error' else 'ok' end as status,
        case when errorCode is null then NULL
             when errorCode = 'ValidationException'
                  and regexp_matches(lower(coalesce(errorMessage, '')), 'too long|context window|too many tokens|context length|exceed')
                 then 'context_exceeded'
             else coalesce({err_type}, lower(regexp_replace(errorCode, 'Exception$', ''))) end as error_type,
        case when errorCode is null then '200' else {err_http} end as http_status,
        coalesce(_ob[2]->>'$', _ob[3]->>'$',
                 case when _stream then coalesce({_first("json_extract_string(output.outputBodyJson, '$[*].delta.stop_reason')")},
                                                 {_first("json_extract_string(output.outputBodyJson, '$[*].messageStop.stopReason')")}) end)
            as stop_reason"""


# Extras for attributes, and the payloads (bodies moved to S3 are not fetched: their paths are kept).
_ATTRS_AND_PAYLOADS = """json_object('model_id', modelId, 'operation', operation, 'account_id', accountId, 'identity_arn', identity.arn,
                    'region', region, 'inference_region', inferenceRegion, 'request_metadata', requestMetadata,
                    'input_body_s3_path', input.inputBodyS3Path, 'output_body_s3_path', output.outputBodyS3Path,
                    'total_tokens', _u->>'$.totalTokens', 'error_code', errorCode, 'error_message', errorMessage) as _attrs,
        input.inputBodyJson as _request_json,
        coalesce(nullif(array_to_string(json_extract_string(_ob[5], '$[*].text'), ''), ''),
                 nullif(array_to_string(json_extract_string(_ob[6], '$[*].text'), ''), ''),
                 case when _stream then nullif(array_to_string(json_extract_string(output.outputBodyJson, '$[*].delta.text'), ''), '') end) as _response_text"""


def adapter(config: Config) -> Adapter:
    select = f"""{_response_ctes(config)}
    select _line, _raw, _row,
        {_PARSE_ERROR},
        requestId as request_id,
        timestamp as ts,
        'bedrock' as platform,
        {_MODEL_AND_GEO},
        {_token_columns()},
        {_outcome_columns()},
        {tag_columns(config, 'bedrock', 'requestMetadata')},
        NULL as parent_request_id, NULL as attempt, NULL as feedback_score,
        NULL as reported_cost_usd, NULL as sample_weight,
        'bedrock' as source,
        {_ATTRS_AND_PAYLOADS}
    from c"""
    return Adapter("bedrock", "json", select, SPEC)


def _sniff_record(record: dict) -> str | None:
    return "bedrock" if record.get("schemaType") == "ModelInvocationLog" else None


def _sniff_line(line: str) -> str | None:
    """A record longer than the sniffed head (large bodies): its schemaType says enough."""
    return "bedrock" if re.search(r'"schemaType"\s*:\s*"ModelInvocationLog"', line[:4096]) else None


FORMAT = Format(
    flag="bedrock",
    describes="Amazon Bedrock invocation logs",
    docs="`bedrock`",
    names=("bedrock",),
    kinds={"bedrock": "json"},
    choose=only("bedrock"),
    adapter=lambda _name, config, _columns: adapter(config),
    sniff_record=_sniff_record,
    sniff_line=_sniff_line,
)
