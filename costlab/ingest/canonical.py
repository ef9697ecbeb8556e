"""Validation and casting shared by every format: an adapter's untyped columns in, typed canonical
rows out, each bad row carrying every reason it is bad (so the reject says all of it at once).

Built from costlab/schema.py, so a new column is validated the moment it is declared there.
"""

from __future__ import annotations

from costlab.schema import (ALLOWED, COLUMN_NAMES, COLUMN_TYPES, COUNT_COLUMNS, COUNT_LIMITS, MAX_SAMPLE_WEIGHT,
                            MIN_SAMPLE_WEIGHT, REQUEST_COLUMNS)
from costlab.store.sqlquote import literal

_WHOLE = r"-?\d+(\.0*)?"
_DEFAULTS = {"platform": "'anthropic'", "service_tier": "'standard'", "speed": "'standard'", "status": "'ok'"}


def _text(col: str) -> str:
    """The value as trimmed text, NULL when empty. trim() copies every string (about 1 s per 1M rows
    over the ~25 columns); it is called only where it can change something: an edge space, or any
    non-ASCII byte (trim also strips Unicode spaces such as U+00A0). The result is trim()'s exactly."""
    x = f"cast({col} as VARCHAR)"
    return (f"nullif(case when starts_with({x}, ' ') or ends_with({x}, ' ') or strlen({x}) <> length({x}) "
            f"then trim({x}) else {x} end, '')")


# Canonical columns with a value to check and cast (ts, counts, numbers); the rest are text.
_CAST = {c.name: c.type for c in REQUEST_COLUMNS if c.type not in ("VARCHAR", "JSON") and c.name != "ingest_id"}
# Columns read as another type before their range check, then cast: a weight is read as DOUBLE (so
# '1e3', 'inf' and 'NaN' are numbers its range check words), then held as DECIMAL.
_READ_AS = {"sample_weight": "DOUBLE"}


def _whole_number_check(col: str) -> str:
    t, v, top = f"t_{col}", f"v_{col}", COUNT_LIMITS[col]
    # The common case (a plain integer in range) is settled by the one cast; the rest only on the
    # other rows. A whole number the cast cannot hold (2^63 and up) or past the limit is a reject:
    # never a 0 (the count column is a failed cast's NULL only on rejected rows).
    return (
        f"case when {t} is null then null "
        f"when strpos({t}, '.') = 0 and {v} between 0 and {top} then null "
        f"when not regexp_full_match({t}, '{_WHOLE}') then '{col} is not a whole number: ' || left({t}, 40) "
        f"when try_cast({t} as DOUBLE) < 0 then 'negative {col}: ' || left({t}, 40) "
        f"when {v} between 0 and {top} then null "
        f"else '{col} is out of range (more than {top:,}): ' || left({t}, 40) end"
    )


def _typed_check(col: str) -> str | None:
    """The check for a column a typed reader already parsed: counts and SMALLINTs arrive as DOUBLE
    (an integer reader would round 1.5 to 2), so fractions, negatives and values past the count
    limit are caught here; DOUBLE and DECIMAL columns need none beyond their _RANGES."""
    v = f"v_{col}"
    if col in COUNT_COLUMNS:
        return (f"case when {v} is not null and not ({v} >= 0 and {v} <= {COUNT_LIMITS[col]} and {v} = trunc({v})) "
                f"then '{col} is not a whole count in range: ' || {v} end")
    if COLUMN_TYPES[col] == "SMALLINT":
        return (f"case when {v} is not null and not ({v} between -32768 and 32767 and {v} = trunc({v})) "
                f"then '{col} is not a whole number: ' || {v} end")
    return None


# Numbers that parse but mean nothing: (the condition a present value must meet, what the reason says).
# NaN and infinities parse as DOUBLE; isfinite() is false for both.
_RANGES = {
    "latency_ms": ("isfinite({v}) and {v} >= 0", "must be a finite number of milliseconds, 0 or more"),
    "ttft_ms": ("isfinite({v}) and {v} >= 0", "must be a finite number of milliseconds, 0 or more"),
    "feedback_score": ("isfinite({v})", "must be a finite number"),
    "http_status": ("{v} between 100 and 599", "must be an HTTP status code (100-599)"),
    "sample_weight": (f"isfinite({{v}}) and {{v}} >= {MIN_SAMPLE_WEIGHT} and {{v}} <= {MAX_SAMPLE_WEIGHT}",
                      f"must be a positive, finite number of requests the row stands for "
                      f"({MIN_SAMPLE_WEIGHT} to {MAX_SAMPLE_WEIGHT:,}; 1 / the sampling rate)"),
}

# A timestamp outside the plausible window (costlab/plausible.py: [ingest] earliest and latest), whose
# bounds and wording are bound as parameters ($ts_earliest, $ts_latest, $ts_window: Bounds.params()).
# Catches 2100, 9999-12-31, year 10000, year -1 and 'infinity' alike.
PLAUSIBLE_TS = ("case when v_ts < $ts_earliest::TIMESTAMPTZ or v_ts >= $ts_latest::TIMESTAMPTZ "
                "then 'ts ' || left(t_ts, 40) || ' is outside the plausible window ' || $ts_window::VARCHAR end")


def _checks(typed: dict[str, str]) -> list[str]:
    """One expression per rule, each NULL when the row passes it, else the reason."""
    checks = ["case when t_ts is null then 'no timestamp' "
              "when v_ts is null then 'ts is not a timestamp: ' || left(t_ts, 40) end"]
    checks.append(PLAUSIBLE_TS)
    checks += [_typed_check(col) if col in typed else _whole_number_check(col) for col in COUNT_COLUMNS]
    for col, typ in _CAST.items():
        if col == "ts" or col in COUNT_COLUMNS:
            continue
        if col in typed:
            check = _typed_check(col)
            if check:
                checks.append(check)
            continue
        kind = "a number" if typ != "SMALLINT" else "a whole number"
        checks.append(f"case when t_{col} is not null and v_{col} is null then '{col} is not {kind}: ' || left(t_{col}, 40) end")
    for col, (ok, words) in _RANGES.items():
        v = f"v_{col}"
        checks.append(f"case when {v} is not null and not ({ok.format(v=v)}) "
                      f"then '{col} {words}: ' || left(t_{col}::VARCHAR, 40) end")
    for col, values in ALLOWED.items():
        allowed = ", ".join(f"'{v}'" for v in values)
        checks.append(
            f"case when t_{col} is not null and lower(t_{col}) not in ({allowed}) "
            f"then '{col} must be one of {'/'.join(values)}, not ' || left(t_{col}, 40) end"
        )
    return checks


def stage_sql(adapter_select: str, typed: dict[str, str] | None = None, fast: bool = False) -> str:
    """One pass: typed canonical columns plus _line, _raw, _reject, _key, _request_json, _response_text
    and _note (what the adapter repaired in the row, for the ingest summary; NULL when nothing).

    `model` still holds the raw spelling and `request_id` is NULL where the source had none:
    `finish_sql` settles both on the few distinct values and rows that need it, so the 1M-row pass
    stays cheap. `_key` hashes the whole source row, computed only for rows without an id.

    Each column's text (t_) and cast value (v_) is computed once, and the reason text only for rows
    that fail a rule. `typed`: canonical columns the reader already parsed (column -> the type it
    arrives as, see _typed_check); the rest arrive as text. `fast`: the query fails on the first
    rejected row (the caller then re-reads the file on its line-exact path, which words every
    reject) and, when any column is typed, on the first row without an id (its hash must be of the
    source text, as the exact path reads it).
    """
    typed = typed or {}
    assert fast or not typed, "typed columns skip the text checks the exact path words rejects with"
    texts = [f"{_text('request_id')} as t_request_id", f"{_text('model_raw')} as t_model"]
    for name in COLUMN_NAMES:
        if name in ("request_id", "model", "ingest_id", "attributes"):
            continue
        if name in typed:
            texts.append(f"{name} as t_{name}")
        elif fast and name in _CAST:
            # Cast columns skip the trim on the fast path: DuckDB's casts skip edge whitespace, and a
            # value they cannot read as it stands ('', a Unicode space) is a reject here, so the file
            # goes to the exact path, which trims first. An accepted value is the same either way.
            texts.append(f"cast({name} as VARCHAR) as t_{name}")
        else:
            texts.append(f"{_text(name)} as t_{name}")
    values = []
    for c, typ in _CAST.items():
        read = "BIGINT" if c in COUNT_COLUMNS else _READ_AS.get(c, typ)
        values.append(f"t_{c} as v_{c}" if c in typed else f"try_cast(t_{c} as {read}) as v_{c}")
    cols = []
    for c in REQUEST_COLUMNS:
        name, typ = c.name, c.type
        if name == "ingest_id":
            cols.append("NULL::BIGINT as ingest_id")
        elif name == "attributes":
            cols.append(
                "case when _ttl_assumed then json_merge_patch(coalesce(_attrs, '{}'::JSON), '{\"cache_ttl_assumed\": true}') "
                "else coalesce(_attrs, '{}'::JSON) end::JSON as attributes"
            )
        elif name in COUNT_COLUMNS:
            # Absent is 0. A present value is its cast, bounded (validation has refused fractions, so
            # "5.0" is 5); a value that failed the cast or the bound is NULL here and its row rejected.
            cols.append(f"case when t_{name} is null then 0 when v_{name} between 0 and {COUNT_LIMITS[name]} "
                        f"then v_{name}::BIGINT end::{typ} as {name}")
        elif name in _READ_AS:
            # Absent is NULL here: the ingest's default weight fills it as the rows are appended
            # (pipeline.sample_weight_sql). Cast only in range (a rejected 'inf' cannot become a DECIMAL).
            ok = _RANGES[name][0].format(v=f"v_{name}")
            cols.append(f"case when {ok} then v_{name}::{typ} end as {name}")
        elif name in _CAST:
            cols.append(f"v_{name}::{typ} as {name}")
        elif name in _DEFAULTS:
            cols.append(f"coalesce(lower(t_{name}), {_DEFAULTS[name]})::{typ} as {name}")
        else:
            cols.append(f"t_{name} as {name}")
    checks = _checks(typed)
    # The reason text is built only for a row that fails some rule (CASE evaluates a branch only for its rows).
    reject = ("coalesce(_parse_error, case when " + " and ".join(f"({c}) is null" for c in checks)
              + " then NULL else concat_ws('; ', " + ", ".join(checks) + ") end)")
    query = f"""
    select _line, _raw, {reject} as _reject, {', '.join(cols)},
           case when t_request_id is null then md5(to_json(_row)) end as _key,
           _request_json::JSON as _request_json, _response_text::VARCHAR as _response_text, _note::VARCHAR as _note
    from (select *, {', '.join(values)}
          from (select _line, _raw, _parse_error, _row, _attrs, _ttl_assumed, _request_json, _response_text, _note,
                       {', '.join(texts)}
                from ({adapter_select}) a) a) a"""
    if not fast:
        return query
    replaced = ["case when _reject is not null then error('rejected on the fast path: ' || _reject) end::VARCHAR as _reject"]
    if typed:
        replaced.append("case when request_id is null then error('a row without an id on the typed fast path') end::VARCHAR as _key")
    return f"select * replace ({', '.join(replaced)}) from ({query})"


_PRICED_BY = ("model",) + COUNT_COLUMNS  # what a repeat of an id may not change
_DIFFERS_NAMES = ", ".join(f"case when _stage.{c} is distinct from f.{c} then {literal(c)} end" for c in _PRICED_BY)
_DIFFERS_ANY = " or ".join(f"_stage.{c} is distinct from f.{c}" for c in _PRICED_BY)

# Run in order on the staged table `_stage`; each touches only the rows it concerns. Rows are keyed by
# rowid (file order), not _line: one line of some formats (OTLP) holds many requests.
FINISH_SQL = f"""
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
-- A repeat that disagrees with the first on what it costs (a token count or the model) is not the
-- same request told twice: it is rejected, naming the line that was kept, never dropped unseen.
update _stage set _reject = 'request_id ' || left(_stage.request_id, 100) || ' repeats line '
                            || coalesce(f._line::VARCHAR, '?') || ' with a different '
                            || concat_ws(', ', {_DIFFERS_NAMES}) || '; the first is kept'
    from _repeats p, _stage f
    where p.source = _stage.source and p.request_id = _stage.request_id and _stage.rowid <> p.first_row
      and f.rowid = p.first_row and _stage._reject is null and ({_DIFFERS_ANY});
"""
