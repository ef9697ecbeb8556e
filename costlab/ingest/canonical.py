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


def _whole_number_check(col: str) -> str:
    t = _text(col)
    # The common case (a plain integer) is settled by one cast; the regex runs only on the rest.
    return (
        f"case when {t} is null then null "
        f"when strpos({t}, '.') = 0 and try_cast({t} as BIGINT) >= 0 then null "
        f"when not regexp_full_match({t}, '{_WHOLE}') then '{col} is not a whole number: ' || left({t}, 40) "
        f"when try_cast({t} as DOUBLE) < 0 then 'negative {col}: ' || {t} end"
    )


def _checks() -> list[str]:
    checks = [f"case when {_text('ts')} is null then 'no timestamp' "
              f"when try_cast({_text('ts')} as TIMESTAMPTZ) is null then 'ts is not a timestamp: ' || left({_text('ts')}, 40) end"]
    checks += [_whole_number_check(col) for col in COUNT_COLUMNS]
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


def stage_sql(adapter_select: str) -> str:
    """One pass: typed canonical columns plus _line, _raw, _reject, _key, _request_json, _response_text.

    `model` still holds the raw spelling and `request_id` is NULL where the source had none:
    `finish_sql` settles both on the few distinct values and rows that need it, so the 1M-row pass
    stays cheap. `_key` hashes the whole source row, computed only for rows without an id.
    """
    cols = []
    for c in REQUEST_COLUMNS:
        name, typ = c.name, c.type
        if name == "request_id":
            cols.append(f"{_text('request_id')} as request_id")
        elif name == "model":
            cols.append(f"{_text('model_raw')} as model")
        elif name == "ingest_id":
            cols.append("NULL::BIGINT as ingest_id")
        elif name == "attributes":
            cols.append(
                "case when _ttl_assumed then json_merge_patch(coalesce(_attrs, '{}'::JSON), '{\"cache_ttl_assumed\": true}') "
                "else coalesce(_attrs, '{}'::JSON) end::JSON as attributes"
            )
        elif name in COUNT_COLUMNS:
            # Validation has already refused fractions, so a cast of "5.0" to 5 loses nothing.
            cols.append(f"coalesce(try_cast({_text(name)} as BIGINT), 0)::{typ} as {name}")
        elif name in _DEFAULTS:
            cols.append(f"coalesce(lower({_text(name)}), {_DEFAULTS[name]})::{typ} as {name}")
        elif typ == "VARCHAR":
            cols.append(f"{_text(name)} as {name}")
        else:
            cols.append(f"try_cast({_text(name)} as {typ}) as {name}")
    reject = "coalesce(_parse_error, nullif(concat_ws('; ', " + ", ".join(_checks()) + "), ''))"
    return f"""
    select _line, _raw, {reject} as _reject, {', '.join(cols)},
           case when {_text('request_id')} is null then md5(to_json(_row)) end as _key,
           _request_json::JSON as _request_json, _response_text::VARCHAR as _response_text
    from ({adapter_select}) a"""


# Run in order on the staged table `_stage`; each touches only the rows it concerns. Rows are keyed by
# rowid (file order), not _line: one line of some formats (OTLP) holds many requests.
FINISH_SQL = """
-- Model ids normalised once per distinct spelling; the raw spelling kept in attributes when it differs.
create or replace temp table _models as
    select raw, costlab_model(raw) as model from (select distinct model as raw from _stage where model is not null);
update _stage set model = m.model,
                  attributes = json_merge_patch(_stage.attributes, json_object('model_raw', m.raw))
    from _models m where _stage.model = m.raw and m.model is distinct from m.raw;
-- No id in the source: a hash of the row, numbered among identical rows, so re-reading the same rows
-- yields the same ids (idempotent) while true repeats still count as separate requests.
update _stage set request_id = h.id
    from (select row_id, 'h_' || left(_key, 24) || case when n > 1 then '_' || n else '' end as id
          from (select rowid as row_id, _key, row_number() over (partition by _key order by rowid) as n
                from _stage where request_id is null)) h
    where _stage.rowid = h.row_id;
-- Repeats of one id within the file: the first good one is the request.
create or replace temp table _repeats as
    select source, request_id, min(rowid) as first_row from _stage
    where _reject is null group by all having count(*) > 1;
"""
