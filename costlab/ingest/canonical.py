"""Validation and casting shared by every format: an adapter's untyped columns in, typed canonical
rows out, each bad row carrying every reason it is bad (so the reject says all of it at once).

Built from costlab/schema.py, so a new column is validated the moment it is declared there.
"""

from __future__ import annotations

from costlab.schema import ALLOWED, COLUMN_TYPES, COUNT_COLUMNS, REQUEST_COLUMNS

_WHOLE = r"-?\d+(\.0*)?"
_DEFAULTS = {"platform": "'anthropic'", "service_tier": "'standard'", "speed": "'standard'", "status": "'ok'"}


def _text(col: str) -> str:
    return f"nullif(trim(cast({col} as VARCHAR)), '')"


def _checks() -> list[str]:
    checks = ["case when ts is null then 'no timestamp' "
              f"when try_cast({_text('ts')} as TIMESTAMPTZ) is null then 'ts is not a timestamp: ' || left({_text('ts')}, 40) end"]
    for col in COUNT_COLUMNS:
        t = _text(col)
        checks.append(
            f"case when {t} is not null and not regexp_full_match({t}, '{_WHOLE}') "
            f"then '{col} is not a whole number: ' || left({t}, 40) "
            f"when try_cast({t} as DOUBLE) < 0 then 'negative {col}: ' || {t} end"
        )
    for col, typ in COLUMN_TYPES.items():
        if typ in ("DOUBLE", "SMALLINT", "DECIMAL(18,9)") and col not in COUNT_COLUMNS:
            t = _text(col)
            kind = "a number" if typ != "SMALLINT" else "a whole number"
            checks.append(f"case when {t} is not null and try_cast({t} as {typ}) is null "
                          f"then '{col} is not {kind}: ' || left({t}, 40) end")
    for col, values in ALLOWED.items():
        allowed = ", ".join(f"'{v}'" for v in values)
        checks.append(
            f"case when {_text(col)} is not null and lower({_text(col)}) not in ({allowed}) "
            f"then '{col} must be one of {'/'.join(values)}, not ' || left({_text(col)}, 40) end"
        )
    return checks


def finalize_sql(adapter_select: str) -> str:
    """SELECT typed canonical columns plus _line, _raw, _reject, _request_json, _response_text."""
    cols = []
    for c in REQUEST_COLUMNS:
        name, typ = c.name, c.type
        if name == "request_id":
            # No id in the source: a hash of the row, numbered among identical rows, so re-reading the
            # same rows yields the same ids (idempotent) while true repeats are still counted.
            cols.append(
                "coalesce(nullif(trim(cast(request_id as VARCHAR)), ''), 'h_' || left(_row_hash, 24) || "
                "case when row_number() over (partition by _row_hash order by _line) > 1 "
                "then '_' || row_number() over (partition by _row_hash order by _line) else '' end) as request_id"
            )
        elif name == "model":
            cols.append("costlab_model(model_raw) as model")
        elif name == "ingest_id":
            cols.append("NULL::BIGINT as ingest_id")
        elif name == "attributes":
            cols.append(
                "json_merge_patch(json_merge_patch('{}'::JSON, coalesce(_attrs, '{}'::JSON)), json_object("
                "'model_raw', case when costlab_model(model_raw) is distinct from model_raw then model_raw end, "
                "'cache_ttl_assumed', case when _ttl_assumed then true end))::JSON as attributes"
            )
        elif name in COUNT_COLUMNS:
            cols.append(f"coalesce(try_cast(regexp_replace({_text(name)}, '\\.0*$', '') as BIGINT), 0)::{typ} as {name}")
        elif name in _DEFAULTS:
            cols.append(f"coalesce(lower({_text(name)}), {_DEFAULTS[name]})::{typ} as {name}")
        elif typ == "VARCHAR":
            cols.append(f"{_text(name)} as {name}")
        else:
            cols.append(f"try_cast({_text(name)} as {typ}) as {name}")
    # A line that did not parse says only that; its other "errors" would be echoes of the first.
    reject = "coalesce(_parse_error, nullif(concat_ws('; ', " + ", ".join(_checks()) + "), '')) as _reject"
    return f"""
    select _line, _raw, {reject}, {', '.join(cols)},
           _request_json::JSON as _request_json, _response_text::VARCHAR as _response_text
    from ({adapter_select}) a"""
