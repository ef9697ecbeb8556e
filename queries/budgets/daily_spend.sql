-- daily_spend: one budget's spend per UTC day over a window: exact, weighted by sample_weight, unpriced counted apart.
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
--   scope VARCHAR = org              org (everything), feature, customer, tier or model
--   value VARCHAR = NULL             the feature, customer id, tier or model the budget covers (unused for org)
-- returns:
--   day DATE                         the UTC day (only days with a request in scope)
--   cost_usd DECIMAL(38,9)           priced spend that day, each row's cost times its sample_weight
--   requests BIGINT                  requests that day (weighted, rounded)
--   unpriced_requests BIGINT         requests with no price in force: their cost is unknown, not in cost_usd
--
-- `costlab budget` reads this for spend to date and for the history its forecast rests on; run it by
-- hand to see a budget's days: costlab sql -F queries/budgets/daily_spend.sql -p scope=feature -p value=chat.
select
    (ts at time zone 'UTC')::DATE                                              as day,
    coalesce(sum(cost_usd * sample_weight) filter (where priced), 0)::DECIMAL(38, 9) as cost_usd,
    round(sum(sample_weight))::BIGINT                                         as requests,
    round(coalesce(sum(sample_weight) filter (where not priced), 0))::BIGINT  as unpriced_requests
from costed_requests
where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
  and ($scope::VARCHAR = 'org'
       or (case $scope::VARCHAR when 'feature' then feature when 'customer' then customer_id
                                when 'tier' then tier when 'model' then model end) = $value::VARCHAR)
group by 1
order by 1
