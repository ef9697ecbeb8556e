-- cost_by_user: the users who spent the most over a window, with their sessions and features.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
--   limit BIGINT = 50                how many users to list, most expensive first
-- returns:
--   user_id VARCHAR                  end user ('(none)' when the logs had none)
--   customers BIGINT                 distinct customer ids the user's requests carried
--   sessions BIGINT                  distinct session ids
--   features BIGINT                  distinct features used
--   requests BIGINT                  every request, ok or error
--   errors BIGINT                    requests with status 'error'
--   input_tokens BIGINT              uncached input tokens
--   output_tokens BIGINT             output tokens (thinking included)
--   cost_usd DECIMAL(18,9)           spend of the priced requests (NULL when none was priced)
--   unpriced_requests BIGINT         requests with no price in force: their cost is unknown, not in cost_usd
--
-- Requests, tokens and cost are weighted by sample_weight (a sampled log's rows stand for 1 / rate
-- requests each). The distinct counts (customers, sessions, features) are of the ids logged: in a
-- sampled log they cannot be scaled and undercount.
select
    coalesce(user_id, '(none)')::VARCHAR                                   as user_id,
    count(distinct customer_id)::BIGINT                                    as customers,
    count(distinct session_id)::BIGINT                                     as sessions,
    count(distinct feature)::BIGINT                                        as features,
    sum(sample_weight)::BIGINT                                             as requests,
    coalesce(sum(sample_weight) filter (where status = 'error'), 0)::BIGINT
                                                                           as errors,
    coalesce(sum(input_tokens * sample_weight), 0)::BIGINT                 as input_tokens,
    coalesce(sum(output_tokens * sample_weight), 0)::BIGINT                as output_tokens,
    sum(cost_usd * sample_weight) filter (where priced)::DECIMAL(18, 9)    as cost_usd,
    coalesce(sum(sample_weight) filter (where not priced), 0)::BIGINT      as unpriced_requests
from costed_requests
where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
group by 1
order by cost_usd desc nulls last, requests desc, user_id
limit $limit::BIGINT
