-- context_window: features whose prompts overflow the model's context window (context_exceeded errors) or run close to it (above near_share of the window).
-- engines: duckdb, spark
-- rank: 11
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   near_share DOUBLE = 0.8                a prompt above this share of the model's context window is near the limit
--   min_share DOUBLE = 0.01                overflows plus near-limit prompts must be at least this share of the segment
--   min_per_week BIGINT = 20               and at least this many a week
--   high_failed_share DOUBLE = 0.05        from this share of requests failing on the window the finding is high
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: share of requests overflowing or near the window)
--   baseline DOUBLE                       what it is compared with (min_share)
--   requests BIGINT                       requests in the segment over the window
--   weekly_impact_usd DECIMAL(18,6)       the weekly spend on near-limit prompts (what chunking would restructure)
--   suggestion VARCHAR                    the suggested change
--
-- An overflow is error_type context_exceeded or stop_reason model_context_window_exceeded. The
-- window is the model's context_window in the models catalogue; models without one are skipped.
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
weeks as (select greatest(epoch(until - since) / 604800.0, 1.0 / 7) as weeks from win),
windows as (select model, context_window from models where context_window > 0),
-- counts over every request, then the few long prompts alone against their model's window
counts as (
    select feature, model, round(sum(sample_weight))::BIGINT as requests,
           round(coalesce(sum(sample_weight) filter (where error_type = 'context_exceeded'
                                                     or stop_reason = 'model_context_window_exceeded'), 0))::BIGINT
               as overflows,
           max(prompt_tokens) as max_prompt
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
    group by feature, model
),
near as (
    select r.feature, r.model, round(sum(r.sample_weight))::BIGINT as near,
           sum(r.cost_usd * r.sample_weight) filter (where r.priced) as near_cost
    from costed_requests r join windows m on m.model = r.model
    where r.ts >= $since::TIMESTAMPTZ and r.ts < $until::TIMESTAMPTZ and r.status = 'ok'
      and r.prompt_tokens >= $near_share::DOUBLE * (select min(context_window) from windows)
      and r.prompt_tokens >= $near_share::DOUBLE * m.context_window
    group by r.feature, r.model
),
per_segment as (
    select c.feature, c.model, m.context_window, c.requests, c.overflows, coalesce(n.near, 0) as near,
           n.near_cost, c.max_prompt
    from counts c
    join windows m on m.model = c.model
    left join near n on n.feature is not distinct from c.feature and n.model = c.model
),
found as (
    select *, (overflows + near) / requests as share from per_segment
    where (overflows + near) / requests >= $min_share::DOUBLE
      and (overflows + near) / (select weeks from weeks) >= $min_per_week::BIGINT
)
select
    'context_window'::VARCHAR                                                   as signal,
    (case when overflows / requests >= $high_failed_share::DOUBLE then 'high' else 'medium' end)::VARCHAR as severity,
    ('feature=' || coalesce(feature, '(none)') || ' model=' || model)::VARCHAR  as segment,
    (format('{:,}', overflows) || ' requests failed on the ' || format('{:,}', context_window) || '-token window and '
        || format('{:,}', near) || ' ran above ' || round(100 * $near_share::DOUBLE)::BIGINT || '% of it, of '
        || format('{:,}', requests) || ' (' || round(100 * share, 1) || '%); largest prompt '
        || format('{:,}', max_prompt) || ' tokens')::VARCHAR                    as evidence,
    share::DOUBLE                                                               as observed,
    $min_share::DOUBLE                                                          as baseline,
    requests::BIGINT                                                            as requests,
    (coalesce(near_cost, 0) / (select weeks from weeks))::DECIMAL(18,6)         as weekly_impact_usd,
    ('chunk ' || coalesce(feature, '(none)') || ' inputs (map-reduce over sections, retrieval instead of whole '
        || 'documents) or cap them before sending; a model with a larger window only moves the wall')::VARCHAR
                                                                                as suggestion
from found
order by overflows desc, near desc
