-- cost_by_feature: spend and volume per feature over a window, with each feature's share of the spend.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
-- returns:
--   feature VARCHAR                  the feature ('(none)' when the logs had none)
--   requests BIGINT                  every request, ok or error (weighted: a row stands for sample_weight requests)
--   errors BIGINT                    requests with status 'error'
--   input_tokens BIGINT              uncached input tokens
--   output_tokens BIGINT             output tokens (thinking included)
--   cache_read_tokens BIGINT         prompt-cache reads
--   cost_usd DECIMAL(18,9)           spend of the priced requests (NULL when none was priced)
--   avg_cost_usd DECIMAL(18,6)       cost_usd per priced request
--   cost_share DOUBLE                fraction of the window's priced spend (NULL when it is zero)
--   unpriced_requests BIGINT         requests with no price in force: their cost is unknown, not in cost_usd
--
-- Every count, token and cost sum is weighted by sample_weight (how many requests a row of a sampled
-- log stands for; 1 in a complete log), so a 1-in-1,000 sample shows full-scale estimates.
with per_feature as (
    select
        coalesce(feature, '(none)')                                        as feature,
        sum(sample_weight)                                                 as requests,
        coalesce(sum(sample_weight) filter (where status = 'error'), 0)    as errors,
        coalesce(sum(input_tokens * sample_weight), 0)                     as input_tokens,
        coalesce(sum(output_tokens * sample_weight), 0)                    as output_tokens,
        coalesce(sum(cache_read_tokens * sample_weight), 0)                as cache_read_tokens,
        sum(cost_usd * sample_weight) filter (where priced)                as cost_usd,
        coalesce(sum(sample_weight) filter (where priced), 0)              as priced_requests,
        coalesce(sum(sample_weight) filter (where not priced), 0)          as unpriced_requests
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
    group by 1
)
select
    feature::VARCHAR                                                       as feature,
    requests::BIGINT                                                       as requests,
    errors::BIGINT                                                         as errors,
    input_tokens::BIGINT                                                   as input_tokens,
    output_tokens::BIGINT                                                  as output_tokens,
    cache_read_tokens::BIGINT                                              as cache_read_tokens,
    cost_usd::DECIMAL(18, 9)                                               as cost_usd,
    -- Exact, not via DOUBLE (which is what DECIMAL / BIGINT gives in DuckDB): integer nano-dollars
    -- over the (weighted, 6-place) count in millionths, rounded half up to the micro-dollar.
    (case when priced_requests > 0 then
        ((round(cost_usd * 1000000000)::HUGEINT * 1000000 + 500 * (priced_requests * 1000000)::HUGEINT)
         // (1000 * (priced_requests * 1000000)::HUGEINT))::DECIMAL(18, 0)
        * 0.000001
     end)::DECIMAL(18, 6)                                                  as avg_cost_usd,
    (cost_usd / nullif(sum(cost_usd) over (), 0))::DOUBLE                  as cost_share,
    unpriced_requests::BIGINT                                              as unpriced_requests
from per_feature
order by cost_usd desc nulls last, requests desc, feature
