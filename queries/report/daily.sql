-- daily: per day (UTC, or the time zone tz) and tier, volume, errors by kind, spend and active users, plus a row per day for all tiers.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
--   tz VARCHAR = UTC                 time zone whose midnights divide the days (e.g. Europe/Berlin)
-- returns:
--   day DATE                         calendar day in time zone tz
--   tier VARCHAR                     the model's tier line ('(unknown)' when not in the catalogue; '(all)' for the day's total)
--   requests BIGINT                  every request, ok or error
--   errors BIGINT                    requests with status 'error'
--   rate_limited BIGINT              429 rate_limit errors
--   overloaded BIGINT                529 overloaded errors (not also rate limited)
--   context_exceeded BIGINT          prompts too long for the context window
--   cost_usd DECIMAL(18,9)           spend of the priced requests (NULL when none was priced)
--   unpriced_requests BIGINT         requests with no price in force
--   active_users BIGINT              distinct user ids
--
-- Errors are classified as in error_rates_by_tier.sql: by error_type or by HTTP status (429, 529).
with classified as (
    select
        (ts at time zone $tz::VARCHAR)::DATE                               as day,
        coalesce(tier, '(unknown)')                                        as tier,
        -- coalesce: a missing HTTP status must not turn a typed error into 'unknown' (NOT NULL is NULL)
        coalesce(status = 'error', false)                                  as is_error,
        coalesce(status = 'error' and (error_type = 'rate_limit' or http_status = 429), false) as is_rate_limited,
        coalesce(status = 'error' and (error_type = 'overloaded' or http_status = 529), false) as is_overloaded,
        coalesce(status = 'error' and error_type = 'context_exceeded', false) as is_context_exceeded,
        priced, cost_usd, user_id, sample_weight
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
)
select
    day::DATE                                                              as day,
    (case when grouping(tier) = 1 then '(all)' else tier end)::VARCHAR     as tier,
    round(sum(sample_weight))::BIGINT                                      as requests,
    round(coalesce(sum(sample_weight) filter (where is_error), 0))::BIGINT as errors,
    round(coalesce(sum(sample_weight) filter (where is_rate_limited), 0))::BIGINT as rate_limited,
    round(coalesce(sum(sample_weight) filter (where is_overloaded and not is_rate_limited), 0))::BIGINT
                                                                           as overloaded,
    round(coalesce(sum(sample_weight) filter (where is_context_exceeded and not is_rate_limited and not is_overloaded), 0))::BIGINT
                                                                           as context_exceeded,
    sum(cost_usd * sample_weight) filter (where priced)::DECIMAL(18, 9)    as cost_usd,
    round(coalesce(sum(sample_weight) filter (where not priced), 0))::BIGINT as unpriced_requests,
    count(distinct user_id)::BIGINT                                        as active_users
from classified
group by grouping sets ((day, tier), (day))
order by day, grouping(tier) desc, tier
