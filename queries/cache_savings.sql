-- cache_savings: per model, what prompt-cache reads saved against paying the input rate, and what cache writes cost on top of it.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
-- returns:
--   model VARCHAR                    model id as billed ('(none)' when the log had none)
--   tier VARCHAR                     the model's tier line ('(unknown)' when not in the catalogue)
--   requests BIGINT                  every request, ok or error
--   cache_hit_requests BIGINT        requests that read from the prompt cache
--   cache_read_tokens BIGINT         prompt-cache reads
--   cache_write_tokens BIGINT        prompt-cache writes, 5-minute and 1-hour
--   cache_read_usd DECIMAL(18,9)     what the cache reads cost
--   cache_read_at_input_usd DECIMAL(18,9)  what the same tokens would have cost at the request's input rate
--   read_savings_usd DECIMAL(18,9)   cache_read_at_input_usd - cache_read_usd
--   cache_write_usd DECIMAL(18,9)    what the cache writes cost
--   cache_write_at_input_usd DECIMAL(18,9)  what the same tokens would have cost at the request's input rate
--   write_premium_usd DECIMAL(18,9)  cache_write_usd - cache_write_at_input_usd
--   net_savings_usd DECIMAL(18,9)    read_savings_usd - write_premium_usd (negative: caching cost money)
--   unpriced_requests BIGINT         requests with no price in force: left out of every USD column
--
-- The counterfactual uses the same price card as costed_requests: the input rate of the row each
-- request was priced with, multipliers (batch, residency, discounts) included, rounded to the
-- nano-dollar per request like the view. USD columns are NULL when none of the model's requests was priced.
-- Counts, tokens and dollars are weighted by sample_weight (the requests a sampled row stands for).
with windowed as (
    select *
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
-- Within one (model, speed, platform, time segment, prompt band), price_card rows differ across
-- service tier and geography only by their multiplier, so that key plus the request's
-- price_multiplier names the rate it was priced at without repeating the view's geography rule.
input_rates as (
    select distinct model, speed, platform, seg_from, seg_to, band_min_tokens, band_max_tokens,
                    multiplier, input_fusd
    from price_card
),
rated as (
    select
        w.*,
        case when w.priced then coalesce(costlab_fusd_to_usd(coalesce(w.cache_read_tokens, 0) * r.input_fusd), 0) end
            as read_at_input,
        case when w.priced then coalesce(costlab_fusd_to_usd(
                 (coalesce(w.cache_write_5m_tokens, 0) + coalesce(w.cache_write_1h_tokens, 0)) * r.input_fusd), 0) end
            as write_at_input
    from windowed w
    left join input_rates r
      on r.model = w.model
     and r.speed = coalesce(w.speed, 'standard')
     and r.platform = coalesce(w.platform, 'anthropic')
     and w.ts >= r.seg_from and (r.seg_to is null or w.ts < r.seg_to)
     and w.prompt_tokens >= r.band_min_tokens
     and (r.band_max_tokens is null or w.prompt_tokens < r.band_max_tokens)
     and r.multiplier = w.price_multiplier
),
per_model as (
    select
        coalesce(model, '(none)')                                          as model,
        coalesce(tier, '(unknown)')                                        as tier,
        sum(sample_weight)                                                 as requests,
        coalesce(sum(sample_weight) filter (where cache_read_tokens > 0), 0) as cache_hit_requests,
        coalesce(sum(cache_read_tokens * sample_weight), 0)                as cache_read_tokens,
        coalesce(sum((coalesce(cache_write_5m_tokens, 0) + coalesce(cache_write_1h_tokens, 0)) * sample_weight), 0)
                                                                           as cache_write_tokens,
        sum(cost_cache_read_usd * sample_weight) filter (where priced)     as read_usd,
        sum(read_at_input * sample_weight) filter (where priced)           as read_at_input_usd,
        sum(cost_cache_write_usd * sample_weight) filter (where priced)    as write_usd,
        sum(write_at_input * sample_weight) filter (where priced)          as write_at_input_usd,
        coalesce(sum(sample_weight) filter (where not priced), 0)          as unpriced_requests
    from rated
    group by 1, 2
)
select
    model::VARCHAR                                                         as model,
    tier::VARCHAR                                                          as tier,
    requests::BIGINT                                                       as requests,
    cache_hit_requests::BIGINT                                             as cache_hit_requests,
    cache_read_tokens::BIGINT                                              as cache_read_tokens,
    cache_write_tokens::BIGINT                                             as cache_write_tokens,
    read_usd::DECIMAL(18, 9)                                               as cache_read_usd,
    read_at_input_usd::DECIMAL(18, 9)                                      as cache_read_at_input_usd,
    (read_at_input_usd - read_usd)::DECIMAL(18, 9)                         as read_savings_usd,
    write_usd::DECIMAL(18, 9)                                              as cache_write_usd,
    write_at_input_usd::DECIMAL(18, 9)                                     as cache_write_at_input_usd,
    (write_usd - write_at_input_usd)::DECIMAL(18, 9)                       as write_premium_usd,
    ((read_at_input_usd - read_usd) - (write_usd - write_at_input_usd))::DECIMAL(18, 9)
                                                                           as net_savings_usd,
    unpriced_requests::BIGINT                                              as unpriced_requests
from per_model
order by net_savings_usd desc nulls last, requests desc, model
