-- checks: deterministic checks of a run's answers, no judge needed (one row per answer and check).
-- params:
--   run VARCHAR                      the run
-- returns:
--   source VARCHAR                   the request's source
--   request_id VARCHAR               the request's id
--   tier VARCHAR                     the tier
--   judge VARCHAR                    check:answered, check:stop, check:json, check:match or check:regex
--   verdict VARCHAR                  pass or fail
--   score DOUBLE                     1 or 0
--   good BOOLEAN                     passed
--   details VARCHAR                  why, as JSON
--
-- check:answered  the replay got an answer (an error after the SDK's retries fails it)
-- check:stop      the answer ended normally: not cut at max_tokens, not a refusal
-- check:json      when the original answer was JSON, the replay's must parse as JSON too
-- check:match     when the original answer was short (a label or an extraction, at most 64 characters),
--                 the replay's must equal it after lower-casing and collapsing punctuation and spaces
-- check:regex     for features with a pattern in costlab.toml [replay.regex] (temp table _replay_regex):
--                 the answer must match it (anywhere; anchor it with ^ and $ for the whole answer)
-- check:schema is not here: jsonschema validates it in Python (judge.schema_checks, replay/schema_targets.sql)
with r as (
    select x.*, p.response_text as original
    from replays x
    left join payloads p on p.source = x.source and p.request_id = x.request_id
    where x.run = $run and x.status in ('ok', 'error')
),
norm as (
    select *,
           trim(regexp_replace(lower(coalesce(original, '')), '[^a-z0-9]+', ' ', 'g')) as o_norm,
           trim(regexp_replace(lower(coalesce(response_text, '')), '[^a-z0-9]+', ' ', 'g')) as r_norm,
           original is not null and json_valid(original) and ltrim(original)[1] in ('{', '[') as original_json
    from r
),
checks as (
    select source, request_id, tier, 'check:answered' as judge, status = 'ok' as good,
           json_object('status', status, 'error_type', error_type) as details
    from norm
    union all
    select source, request_id, tier, 'check:stop', coalesce(stop_reason not in ('max_tokens', 'refusal'), false),
           json_object('stop_reason', stop_reason)
    from norm where status = 'ok'
    union all
    select source, request_id, tier, 'check:json', coalesce(json_valid(response_text), false),
           json_object('reason', 'the original answer was JSON')
    from norm where status = 'ok' and original_json
    union all
    select source, request_id, tier, 'check:match', r_norm = o_norm,
           json_object('expected', o_norm, 'got', left(r_norm, 200))
    from norm where status = 'ok' and original is not null and not original_json and length(trim(original)) <= 64
    union all
    select n.source, n.request_id, n.tier, 'check:regex', coalesce(regexp_matches(n.response_text, g.pattern), false),
           json_object('pattern', g.pattern)
    from norm n
    join requests q on q.source = n.source and q.request_id = n.request_id
    join _replay_regex g on g.feature = q.feature
    where n.status = 'ok'
)
select source::VARCHAR as source, request_id::VARCHAR as request_id, tier::VARCHAR as tier, judge::VARCHAR as judge,
       (case when good then 'pass' else 'fail' end)::VARCHAR as verdict,
       (case when good then 1.0 else 0.0 end)::DOUBLE as score, good::BOOLEAN as good, details::VARCHAR as details
from checks
order by source, request_id, tier, judge
