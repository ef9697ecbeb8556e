-- top_requests_by_cost: the most expensive single requests over a window, for drilling into outliers.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
--   limit BIGINT = 20                how many requests to list
-- returns:
--   request_id VARCHAR               provider request id
--   ts TIMESTAMPTZ                   request start, UTC
--   model VARCHAR                    model id as billed
--   tier VARCHAR                     the model's tier line ('(unknown)' when not in the catalogue)
--   feature VARCHAR                  the feature ('(none)' when the log had none)
--   user_id VARCHAR                  end user (NULL when the log had none)
--   status VARCHAR                   ok or error
--   input_tokens BIGINT              uncached input tokens
--   output_tokens BIGINT             output tokens (thinking included)
--   cache_read_tokens BIGINT         prompt-cache reads
--   cache_write_tokens BIGINT        prompt-cache writes, 5-minute and 1-hour
--   cost_usd DECIMAL(18,9)           the request's cost (NULL when unpriced)
--   priced BOOLEAN                   false when no price was in force; such rows sort last
--   unpriced_in_window BIGINT        how many requests in the window have no price (see unpriced_requests)
with windowed as (
    select *
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
)
select
    request_id::VARCHAR                                                    as request_id,
    ts::TIMESTAMPTZ                                                        as ts,
    model::VARCHAR                                                         as model,
    coalesce(tier, '(unknown)')::VARCHAR                                   as tier,
    coalesce(feature, '(none)')::VARCHAR                                   as feature,
    user_id::VARCHAR                                                       as user_id,
    status::VARCHAR                                                        as status,
    coalesce(input_tokens, 0)::BIGINT                                      as input_tokens,
    coalesce(output_tokens, 0)::BIGINT                                     as output_tokens,
    coalesce(cache_read_tokens, 0)::BIGINT                                 as cache_read_tokens,
    (coalesce(cache_write_5m_tokens, 0) + coalesce(cache_write_1h_tokens, 0))::BIGINT
                                                                           as cache_write_tokens,
    cost_usd::DECIMAL(18, 9)                                               as cost_usd,
    priced::BOOLEAN                                                        as priced,
    (coalesce(sum(sample_weight) filter (where not priced) over (), 0))::BIGINT
                                                                           as unpriced_in_window
from windowed
order by cost_usd desc nulls last, ts, request_id
limit $limit::BIGINT
