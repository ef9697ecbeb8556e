-- overload_bursts: minutes in which a tier failed in bulk (529 overloaded, 500, 504) and the failed requests were not re-sent to another model: answers lost for want of a fallback.
-- engines: duckdb, spark
-- rank: 13
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   burst_share DOUBLE = 0.10              a minute is a burst when at least this share of the tier's requests failed
--   min_burst_errors BIGINT = 5            and at least this many
--   min_lost_share DOUBLE = 0.005          requests lost in bursts must be at least this share of the tier's requests
--   min_lost_per_week BIGINT = 50          and at least this many a week
--   high_lost_share DOUBLE = 0.02          from this share the finding is high
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: requests lost in bursts per week)
--   baseline DOUBLE                       what it is compared with (min_lost_per_week)
--   requests BIGINT                       requests on the tier over the window
--   weekly_impact_usd DECIMAL(18,6)       NULL: failed requests are not billed; the cost is the lost answers
--   suggestion VARCHAR                    the suggested change
--
-- A failure is error_type overloaded, api_error or timeout, or HTTP 529, 500 or 504. A failed
-- request has a fallback when a later request points at it (parent_request_id) on another model;
-- requests are linked by their link keys (parent_key = request_key: costlab_request_key, stored
-- with each price; over a lake, the id strings themselves).
-- Short blips (the two-hour incident of the generated logs: 0.15% of a week) stay below the shares.
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
weeks as (select greatest(epoch(until - since) / 604800.0, 1.0 / 7) as weeks from win),
w as not materialized (
    select *, status = 'error' and (error_type in ('overloaded', 'api_error', 'timeout') or http_status in (529, 500, 504))
              as failed
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ and tier is not null
),
per_minute as (
    select tier, epoch_ms(ts) // 60000 as minute, sum(sample_weight) as requests,
           coalesce(sum(sample_weight) filter (where failed), 0) as failures
    from w group by all
),
bursts as (
    select tier, minute from per_minute
    where failures >= $min_burst_errors::BIGINT and failures >= $burst_share::DOUBLE * requests
),
failed as (
    select w.tier, w.model, w.request_key, w.sample_weight from w
    semi join bursts b on b.tier = w.tier and b.minute = epoch_ms(w.ts) // 60000
    where w.failed
),
rescued as (
    select distinct f.request_key
    from failed f join (select parent_key, model from w where parent_key is not null) c
      on c.parent_key = f.request_key and c.model <> f.model
),
-- per tier, by joins (Spark refuses a correlated subquery in a grouped SELECT); rescued ids are
-- distinct, so the left join keeps each failed request once
burst_count as (select tier, count(*) as burst_minutes from bursts group by tier),
failed_per_tier as (
    select f.tier, round(sum(f.sample_weight))::BIGINT as failures,
           round(coalesce(sum(f.sample_weight) filter (where r.request_key is null), 0))::BIGINT as lost
    from failed f left join rescued r on r.request_key = f.request_key
    group by f.tier
),
per_tier as (
    select p.tier, p.requests, coalesce(b.burst_minutes, 0) as burst_minutes,
           coalesce(x.failures, 0) as failures, coalesce(x.lost, 0) as lost
    from (select tier, round(sum(requests))::BIGINT as requests from per_minute group by tier) p
    left join burst_count b on b.tier = p.tier
    left join failed_per_tier x on x.tier = p.tier
)
select
    'overload_bursts'::VARCHAR                                                  as signal,
    (case when lost >= $high_lost_share::DOUBLE * requests then 'high' else 'medium' end)::VARCHAR as severity,
    ('tier=' || tier)::VARCHAR                                                  as segment,
    (format('{:,}', failures) || ' requests failed in ' || format('{:,}', burst_minutes) || ' burst minutes (at least '
        || round(100 * $burst_share::DOUBLE)::BIGINT || '% failing); ' || format('{:,}', lost)
        || ' of them were not re-sent to another model, ' || round(100 * lost / requests, 2) || '% of the tier''s '
        || format('{:,}', requests) || ' requests')::VARCHAR                   as evidence,
    (lost / (select weeks from weeks))::DOUBLE                                  as observed,
    $min_lost_per_week::BIGINT::DOUBLE                                          as baseline,
    requests::BIGINT                                                            as requests,
    null::DECIMAL(18,6)                                                         as weekly_impact_usd,
    ('on 529 or 5xx from ' || tier || ', fall back to another model or platform (Bedrock, Vertex) '
        || 'instead of retrying the same one')::VARCHAR                        as suggestion
from per_tier
where lost >= $min_lost_share::DOUBLE * requests
  and lost / (select weeks from weeks) >= $min_lost_per_week::BIGINT
order by lost desc
