-- cost_by_tier_model_day: spend, volume and tokens per day (UTC, or the time zone tz), tier and model over a window.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
--   tz VARCHAR = UTC                 time zone whose midnights divide the days (e.g. Europe/Berlin)
-- returns:
--   day DATE                         calendar day of the request in time zone tz
--   tier VARCHAR                     the model's tier line ('(unknown)' when the model is not in the catalogue)
--   model VARCHAR                    model id as billed ('(none)' when the log had none)
--   requests BIGINT                  every request, ok or error
--   errors BIGINT                    requests with status 'error'
--   input_tokens BIGINT              uncached input tokens
--   output_tokens BIGINT             output tokens (thinking included)
--   cache_read_tokens BIGINT         prompt-cache reads
--   cache_write_tokens BIGINT        prompt-cache writes, 5-minute and 1-hour
--   cost_usd DECIMAL(18,9)           spend of the priced requests (NULL when none was priced)
--   unpriced_requests BIGINT         requests with no price in force: their cost is unknown, not in cost_usd
--
-- Every count, token and cost sum is weighted by sample_weight (how many requests a row of a sampled
-- log stands for; 1 in a complete log), so a 1-in-1,000 sample shows full-scale estimates.
select
    (ts at time zone $tz::VARCHAR)::DATE                                   as day,
    coalesce(tier, '(unknown)')::VARCHAR                                   as tier,
    coalesce(model, '(none)')::VARCHAR                                     as model,
    sum(sample_weight)::BIGINT                                             as requests,
    coalesce(sum(sample_weight) filter (where status = 'error'), 0)::BIGINT
                                                                           as errors,
    coalesce(sum(input_tokens * sample_weight), 0)::BIGINT                 as input_tokens,
    coalesce(sum(output_tokens * sample_weight), 0)::BIGINT                as output_tokens,
    coalesce(sum(cache_read_tokens * sample_weight), 0)::BIGINT            as cache_read_tokens,
    coalesce(sum((coalesce(cache_write_5m_tokens, 0) + coalesce(cache_write_1h_tokens, 0)) * sample_weight), 0)::BIGINT
                                                                           as cache_write_tokens,
    sum(cost_usd * sample_weight) filter (where priced)::DECIMAL(18, 9)    as cost_usd,
    coalesce(sum(sample_weight) filter (where not priced), 0)::BIGINT      as unpriced_requests
from costed_requests
where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
group by all
order by day, cost_usd desc nulls last, tier, model
