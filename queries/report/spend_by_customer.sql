-- spend_by_customer: spend and volume per customer in the window and the one before it.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
--   prev_since TIMESTAMPTZ = 1970-01-01  start of the previous window (it ends at since)
-- returns:
--   period VARCHAR                   'current' or 'previous'
--   customer_id VARCHAR              customer ('(none)' when the logs had none)
--   requests BIGINT                  every request, ok or error
--   cost_usd DECIMAL(18,9)           spend of the priced requests (NULL when none was priced), net of negotiated discounts
--   list_usd DECIMAL(18,9)           the same at list price (gross; equal to cost_usd where no discount applies)
--   unpriced_requests BIGINT         requests with no price in force: their cost is unknown, not in cost_usd
-- Summed per sample_weight first, so no per-request product with the weight (a 128-bit DECIMAL
-- multiply): sum(x * w) = w * sum(x), exactly, on the few summed rows.
with summed as (
    select
        ts >= $since::TIMESTAMPTZ                                          as is_current,
        customer_id, priced, sample_weight,
        count(*)                                                           as n,
        sum(cost_usd)                                                      as cost_usd,
        sum(cost_list_usd)                                                 as list_usd
    from costed_requests
    where ts >= $prev_since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
    group by all
)
select
    (case when is_current then 'current' else 'previous' end)::VARCHAR    as period,
    coalesce(customer_id, '(none)')::VARCHAR                               as customer_id,
    -- weighted by sample_weight (the requests a sampled row stands for)
    round(sum(n * sample_weight))::BIGINT                                  as requests,
    sum(cost_usd * sample_weight) filter (where priced)::DECIMAL(18, 9)    as cost_usd,
    sum(list_usd * sample_weight) filter (where priced)::DECIMAL(18, 9)    as list_usd,
    round(coalesce(sum(n * sample_weight) filter (where not priced), 0))::BIGINT as unpriced_requests
from summed
group by 1, 2
order by period, cost_usd desc nulls last, requests desc, customer_id
