-- schema_targets: the answers check:schema validates, each with the JSON Schema it must satisfy.
-- params:
--   run VARCHAR                      the run
-- returns:
--   source VARCHAR                   the request's source
--   request_id VARCHAR               the request's id
--   tier VARCHAR                     the tier
--   response_text VARCHAR            the replayed answer
--   schema VARCHAR                   the JSON Schema (JSON text)
--   origin VARCHAR                   where it comes from: config:FEATURE ([replay.schemas]) or
--                                    request:output_config.format (the logged request's structured output format)
--
-- A feature's schema in costlab.toml [replay.schemas] (temp table _replay_schemas) wins; otherwise a
-- request that asked for structured output (`output_config.format`, or the older `output_format`,
-- of type json_schema) is checked against its own schema. Answers with neither are not checked.
with a as (
    select x.source, x.request_id, x.tier, x.response_text, q.feature, c.schema as configured,
           coalesce(case when json_extract_string(p.request_json, '$.output_config.format.type') = 'json_schema'
                         then json_extract(p.request_json, '$.output_config.format.schema') end,
                    case when json_extract_string(p.request_json, '$.output_format.type') = 'json_schema'
                         then json_extract(p.request_json, '$.output_format.schema') end) as requested
    from replays x
    join payloads p on p.source = x.source and p.request_id = x.request_id
    left join requests q on q.source = x.source and q.request_id = x.request_id
    left join _replay_schemas c on c.feature = q.feature
    where x.run = $run and x.status = 'ok'
)
select source::VARCHAR as source, request_id::VARCHAR as request_id, tier::VARCHAR as tier,
       response_text::VARCHAR as response_text, coalesce(configured, requested::VARCHAR)::VARCHAR as schema,
       (case when configured is not null then 'config:' || feature else 'request:output_config.format' end)::VARCHAR as origin
from a
where configured is not null or requested is not null
order by source, request_id, tier
