-- cost_by_user: the users who spent the most over a window, with their sessions and features.
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
select
    coalesce(user_id, '(none)')::VARCHAR                                   as user_id,
    count(distinct customer_id)::BIGINT                                    as customers,
    count(distinct session_id)::BIGINT                                     as sessions,
    count(distinct feature)::BIGINT                                        as features,
    count(*)::BIGINT                                                       as requests,
    count(*) filter (where status = 'error')::BIGINT                       as errors,
    coalesce(sum(input_tokens), 0)::BIGINT                                 as input_tokens,
    coalesce(sum(output_tokens), 0)::BIGINT                                as output_tokens,
    sum(cost_usd) filter (where priced)::DECIMAL(18, 9)                    as cost_usd,
    count(*) filter (where not priced)::BIGINT                             as unpriced_requests
from costed_requests
where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
group by 1
order by cost_usd desc nulls last, requests desc, user_id
limit $limit::BIGINT
