-- headline: the week's top-line figures for the window and the one before it, one row per period.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
--   prev_since TIMESTAMPTZ = 1970-01-01  start of the previous window (it ends at since)
-- returns:
--   period VARCHAR                   'current' or 'previous' (both rows always present)
--   requests BIGINT                  every request, ok or error
--   errors BIGINT                    requests with status 'error'
--   priced_requests BIGINT           requests with a price in force (an error with no tokens costs 0 and counts here)
--   unpriced_requests BIGINT         requests with no price in force: their cost is unknown, not in cost_usd
--   cost_usd DECIMAL(18,9)           spend of the priced requests (NULL when requests exist and none was priced)
--   active_users BIGINT              distinct user ids
--   active_customers BIGINT          distinct customer ids
--   rejects BIGINT                   records refused by the ingests that loaded this period's requests
with windowed as (
    select
        case when ts >= $since::TIMESTAMPTZ then 'current' else 'previous' end as period,
        status, priced, cost_usd, user_id, customer_id, ingest_id, sample_weight
    from costed_requests
    where ts >= $prev_since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
per_period as (
    select
        period,
        -- weighted (sample_weight); the distinct counts below are of the ids logged: not scaled
        round(sum(sample_weight))                      as requests,
        round(sum(sample_weight) filter (where status = 'error')) as errors,
        round(sum(sample_weight) filter (where priced)) as priced_requests,
        round(sum(sample_weight) filter (where not priced)) as unpriced_requests,
        sum(cost_usd * sample_weight) filter (where priced) as cost_usd,
        count(distinct user_id)                        as active_users,
        count(distinct customer_id)                    as active_customers,
        list(distinct ingest_id)                       as ingest_ids
    from windowed
    group by period
),
periods as (
    select unnest(['current', 'previous']) as period
)
select
    p.period::VARCHAR                                                      as period,
    coalesce(w.requests, 0)::BIGINT                                        as requests,
    coalesce(w.errors, 0)::BIGINT                                          as errors,
    coalesce(w.priced_requests, 0)::BIGINT                                 as priced_requests,
    coalesce(w.unpriced_requests, 0)::BIGINT                               as unpriced_requests,
    (case when coalesce(w.requests, 0) = 0 then 0 else w.cost_usd end)::DECIMAL(18, 9)
                                                                           as cost_usd,
    coalesce(w.active_users, 0)::BIGINT                                    as active_users,
    coalesce(w.active_customers, 0)::BIGINT                                as active_customers,
    (select count(*) from rejects r where list_contains(w.ingest_ids, r.ingest_id))::BIGINT
                                                                           as rejects
from periods p
left join per_period w using (period)
order by p.period
