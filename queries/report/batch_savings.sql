-- batch_savings: per feature, what the Message Batches tier saved and what moving the rest of a batch-capable feature's traffic would save.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
-- returns:
--   feature VARCHAR                  the feature ('(none)' when the logs had none)
--   requests BIGINT                  every request, ok or error
--   batch_requests BIGINT            requests sent at service_tier 'batch'
--   cost_usd DECIMAL(18,9)           spend of the feature's priced requests
--   batch_cost_usd DECIMAL(18,9)     spend of its priced batch requests
--   batch_at_standard_usd DECIMAL(18,9)  what the same batch requests would have cost at the standard tier
--   batch_saved_usd DECIMAL(18,9)    batch_at_standard_usd - batch_cost_usd
--   batch_eligible BOOLEAN           the feature sent batch traffic in the window, so its jobs can wait
--   movable_requests BIGINT          ok, priced, non-batch requests of a batch-eligible feature
--   movable_cost_usd DECIMAL(18,9)   what they cost
--   move_savings_usd DECIMAL(18,9)   what they would save at the batch tier (movable_cost_usd minus their batch price)
--   unpriced_requests BIGINT         requests with no price in force: left out of every USD column
--
-- Both counterfactuals use the price card the view priced with. Requests are first summed per
-- (feature, tier of service, model, speed, platform, price_multiplier); a request's multiplier and its
-- card's multipliers for the standard and batch tiers of the same model, platform and geography give
-- the other tier's price: cost x other multiplier / own multiplier, rounded half up to the nano-dollar
-- once per group (every token rate scales by the multiplier, so this is exact before rounding).
with card as (
    select distinct s.model, s.speed, s.platform,
           (s.multiplier::DECIMAL(38, 9) * 1000000000)::HUGEINT as std_n,
           (b.multiplier::DECIMAL(38, 9) * 1000000000)::HUGEINT as batch_n
    from price_card s
    join price_card b
      on b.service_tier = 'batch' and s.service_tier = 'standard'
     and b.model = s.model and b.speed = s.speed and b.platform = s.platform and b.geo_class = s.geo_class
     and b.seg_from = s.seg_from and b.band_min_tokens = s.band_min_tokens
),
-- weighted (sample_weight): summed per weight first, so no per-request 128-bit DECIMAL multiply
-- (sum(x * w) = w * sum(x), exactly)
raw_groups as (
    select feature, service_tier, status, priced, model, speed, platform, price_multiplier,
           sum(n * sample_weight) as requests, sum(cost_usd * sample_weight) as cost_usd
    from (select feature, service_tier, status, priced, model, speed, platform, price_multiplier, sample_weight,
                 count(*) as n, sum(cost_usd) as cost_usd
          from costed_requests
          where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
          group by all) by_weight
    group by all
),
-- The casts run on the few groups, not on every request.
grouped as (
    select coalesce(feature, '(none)') as feature,
           coalesce(service_tier, 'standard') = 'batch' as is_batch,
           coalesce(status = 'ok', false) as is_ok,
           priced, model, coalesce(speed, 'standard') as speed, coalesce(platform, 'anthropic') as platform,
           (price_multiplier::DECIMAL(38, 9) * 1000000000)::HUGEINT as own_n,
           sum(requests) as requests,
           sum(cost_usd) as cost_usd
    from raw_groups
    group by all
),
-- One other-tier multiplier per group; where two card rows disagree (a batch factor that changed
-- during the window with the same multiplier), the smaller saving is taken.
rated as (
    select g.*, max(c.std_n) as std_n_max, min(c.batch_n) as batch_n_min
    from grouped g
    left join card c
      on g.priced and c.model = g.model and c.speed = g.speed and c.platform = g.platform
     and g.own_n = case when g.is_batch then c.batch_n else c.std_n end
    group by all
),
per_group as (
    select *,
        -- No card row (an error with no tokens, priced at 0): the other tier costs the same.
        case when priced then coalesce(((2 * (cost_usd::DECIMAL(38, 9) * 1000000000)::HUGEINT
                                         * (case when is_batch then std_n_max else batch_n_min end) + own_n)
                                        // (2 * own_n)), (cost_usd::DECIMAL(38, 9) * 1000000000)::HUGEINT) end as other_n_usd
    from rated
),
per_feature as (
    select
        feature,
        sum(requests)                                                                  as requests,
        sum(requests) filter (where is_batch)                                          as batch_requests,
        sum(cost_usd) filter (where priced)                                            as cost_usd,
        coalesce(sum(cost_usd) filter (where priced and is_batch), 0)                  as batch_cost_usd,
        coalesce(sum(other_n_usd) filter (where priced and is_batch), 0)               as at_standard_n,
        coalesce(sum(requests) filter (where is_batch), 0) > 0                         as batch_eligible,
        coalesce(sum(requests) filter (where not is_batch and priced and is_ok), 0)    as movable_requests,
        coalesce(sum(cost_usd) filter (where not is_batch and priced and is_ok), 0)    as movable_cost_usd,
        coalesce(sum(other_n_usd) filter (where not is_batch and priced and is_ok), 0) as at_batch_n,
        coalesce(sum(requests) filter (where not priced), 0)                           as unpriced_requests
    from per_group
    group by feature
)
select
    feature::VARCHAR                                                        as feature,
    requests::BIGINT                                                        as requests,
    coalesce(batch_requests, 0)::BIGINT                                     as batch_requests,
    cost_usd::DECIMAL(18, 9)                                                as cost_usd,
    batch_cost_usd::DECIMAL(18, 9)                                          as batch_cost_usd,
    (at_standard_n::DECIMAL(38, 0) * 0.000000001)::DECIMAL(18, 9)            as batch_at_standard_usd,
    ((at_standard_n::DECIMAL(38, 0) * 0.000000001) - batch_cost_usd)::DECIMAL(18, 9) as batch_saved_usd,
    batch_eligible::BOOLEAN                                                 as batch_eligible,
    (case when batch_eligible then movable_requests else 0 end)::BIGINT     as movable_requests,
    (case when batch_eligible then movable_cost_usd else 0 end)::DECIMAL(18, 9) as movable_cost_usd,
    (case when batch_eligible then movable_cost_usd - at_batch_n::DECIMAL(38, 0) * 0.000000001 else 0 end)::DECIMAL(18, 9)
                                                                            as move_savings_usd,
    unpriced_requests::BIGINT                                               as unpriced_requests
from per_feature
order by batch_saved_usd desc, move_savings_usd desc, feature
