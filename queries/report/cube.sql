-- cube: the window and the one before it summed once per day, tier, model, feature, error class and priced; the report's spend, tier mix, efficiency, error, headline and daily figures add up from these rows.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
--   prev_since TIMESTAMPTZ = 1970-01-01  start of the previous window (it ends at since)
--   tz VARCHAR = UTC                 time zone whose midnights divide the days (e.g. Europe/Berlin)
-- returns:
--   period VARCHAR                   'current' or 'previous'
--   day DATE                         calendar day in time zone tz (UTC by default)
--   tier VARCHAR                     the model's tier line ('(unknown)' when not in the catalogue)
--   model VARCHAR                    model id as billed ('(none)' when the log had none)
--   feature VARCHAR                  the feature ('(none)' when the logs had none)
--   error_class VARCHAR              NULL for a request that did not fail; else rate_limited, overloaded, context_exceeded or other
--   priced BOOLEAN                   a price was in force (false: every USD column of the row is NULL)
--   requests BIGINT                  requests (weighted: a row stands for sample_weight requests)
--   cache_hit_requests BIGINT        requests that read from the prompt cache
--   input_tokens BIGINT              uncached input tokens
--   output_tokens BIGINT             output tokens (thinking included)
--   cache_read_tokens BIGINT         prompt-cache reads
--   cache_write_tokens BIGINT        prompt-cache writes, 5-minute and 1-hour
--   cost_usd DECIMAL(18,9)           spend (net of negotiated discounts)
--   list_usd DECIMAL(18,9)           the same requests at list price (gross: cost_list_usd); equal to cost_usd where no discount applies
--   cache_read_usd DECIMAL(18,9)     what the cache reads cost
--   cache_read_at_input_usd DECIMAL(18,9)  what the same tokens would have cost at the request's input rate
--   cache_write_usd DECIMAL(18,9)    what the cache writes cost
--   cache_write_at_input_usd DECIMAL(18,9)  what the same tokens would have cost at the request's input rate
--   logged_requests BIGINT           the rows logged (requests / logged_requests: the sample's 1-in-N)
--   cost_var DOUBLE                  sampling variance of cost_usd (USD squared): sum of w(w-1)cost^2, 0 for a complete log
--
-- Counts, tokens and dollars are weighted by sample_weight (a sampled log's rows stand for 1 / rate
-- requests each). cost_var is the Horvitz-Thompson variance estimate of a weighted total under
-- independent (Poisson) sampling at rate 1/w: sum of (1 - p) / p^2 x cost^2 = w (w - 1) cost^2.
-- One scan of costed_requests for what queries/cost_by_tier_model_day.sql, cost_by_feature.sql,
-- cache_savings.sql, error_rates_by_tier.sql and queries/report/headline.sql and daily.sql compute
-- one scan each (tests/test_report.py checks that the sums agree with them). An error is a 429 when
-- its error_type or HTTP status says so, else a 529 likewise, else context exceeded by its type, else
-- other: one class each, so the classes add up to the errors.
-- The cache counterfactual is cache_savings.sql's: the input rate of the price_card row the request
-- was priced with, rounded half up to the nano-dollar per request before it is summed.
with input_rates as (
    -- only the card's time segments that overlap the window: fewer candidate rows per request
    select distinct model, speed, platform, seg_from, seg_to, band_min_tokens, band_max_tokens,
                    multiplier, input_fusd
    from price_card
    where seg_from < $until::TIMESTAMPTZ and (seg_to is null or seg_to > $prev_since::TIMESTAMPTZ)
),
-- Per request only what must be: the group keys as stored and the cache counterfactual. Days,
-- periods and error classes are worked out on the few summed rows (a time zone conversion and a
-- CASE per request cost more than the whole sum).
priced_rows as (
    select
        w.ts >= $since::TIMESTAMPTZ                                        as is_current,
        case when $tz::VARCHAR = 'UTC' then epoch_ms(w.ts) // 86400000
             else (w.ts at time zone $tz::VARCHAR)::DATE - DATE '1970-01-01' end as day_n,
        w.tier, w.model, w.feature, w.priced, w.status = 'error' as is_error, w.error_type, w.http_status,
        w.input_tokens, w.output_tokens, w.cache_read_tokens,
        coalesce(w.cache_write_5m_tokens, 0) + coalesce(w.cache_write_1h_tokens, 0) as cache_write_tokens,
        w.cost_usd, w.cost_list_usd, w.cost_cache_read_usd, w.cost_cache_write_usd, w.sample_weight,
        -- costlab_fusd_to_usd(tokens * rate) per request as whole nano-dollars (costlab_cost_nusd): the
        -- same integer as the macro, without its DECIMAL work per row.
        case when w.priced and w.cache_read_tokens > 0 and r.input_fusd is not null then
            costlab_cost_nusd(w.cache_read_tokens, r.input_fusd) end        as read_at_input_n,
        case when w.priced and r.input_fusd is not null then
            costlab_cost_nusd(coalesce(w.cache_write_5m_tokens, 0) + coalesce(w.cache_write_1h_tokens, 0), r.input_fusd) end
                                                                           as write_at_input_n
    from costed_requests w
    left join input_rates r
      -- only a priced request with cache tokens has a counterfactual: the others probe with no key
      on r.model = case when w.priced and (w.cache_read_tokens > 0 or coalesce(w.cache_write_5m_tokens, 0) > 0
                                           or coalesce(w.cache_write_1h_tokens, 0) > 0) then w.model end
     and r.speed = coalesce(w.speed, 'standard')
     and r.platform = coalesce(w.platform, 'anthropic')
     and w.ts >= r.seg_from and (r.seg_to is null or w.ts < r.seg_to)
     and w.prompt_tokens >= r.band_min_tokens
     and (r.band_max_tokens is null or w.prompt_tokens < r.band_max_tokens)
     and r.multiplier = w.price_multiplier
    where w.ts >= $prev_since::TIMESTAMPTZ and w.ts < $until::TIMESTAMPTZ
),
-- Summed per sample_weight too, so that no per-request product with the weight (a 128-bit DECIMAL
-- multiply) is needed: sum(x * w) = w * sum(x), exactly, on the few summed rows.
raw_sums as (
    select
        is_current, day_n, tier, model, feature, priced, is_error, error_type, http_status, sample_weight,
        count(*)                                                           as logged_requests,
        count(*) filter (where cache_read_tokens > 0)                      as cache_hit_rows,
        sum(input_tokens)                                                  as input_tokens,
        sum(output_tokens)                                                 as output_tokens,
        sum(cache_read_tokens)                                             as cache_read_tokens,
        sum(cache_write_tokens)                                            as cache_write_tokens,
        sum(cost_usd)                                                      as cost_usd,
        sum(cost_list_usd)                                                 as list_usd,
        sum(cost_cache_read_usd)                                           as cache_read_usd,
        sum(read_at_input_n)                                               as read_at_input_n,
        sum(cost_cache_write_usd)                                          as cache_write_usd,
        sum(write_at_input_n)                                              as write_at_input_n,
        sum(cost_usd::DOUBLE * cost_usd::DOUBLE)                           as cost_sq
    from priced_rows
    group by all
),
weighted as (
    select
        is_current, day_n, tier, model, feature, priced, is_error, error_type, http_status,
        logged_requests * sample_weight                                    as requests,
        cache_hit_rows * sample_weight                                     as cache_hit_requests,
        input_tokens::DECIMAL(38, 0) * sample_weight                       as input_tokens,
        output_tokens::DECIMAL(38, 0) * sample_weight                      as output_tokens,
        cache_read_tokens::DECIMAL(38, 0) * sample_weight                  as cache_read_tokens,
        cache_write_tokens::DECIMAL(38, 0) * sample_weight                 as cache_write_tokens,
        cost_usd * sample_weight                                           as cost_usd,
        list_usd * sample_weight                                           as list_usd,
        cache_read_usd * sample_weight                                     as cache_read_usd,
        read_at_input_n::DECIMAL(38, 0) * sample_weight                    as read_at_input_n,
        cache_write_usd * sample_weight                                    as cache_write_usd,
        write_at_input_n::DECIMAL(38, 0) * sample_weight                   as write_at_input_n,
        logged_requests,
        coalesce((sample_weight * (sample_weight - 1))::DOUBLE * cost_sq, 0) as cost_var
    from raw_sums
),
summed as (
    select
        case when is_current then 'current' else 'previous' end            as period,
        ('1970-01-01'::DATE + day_n::INTEGER)                              as day,
        coalesce(tier, '(unknown)')                                        as tier,
        coalesce(model, '(none)')                                          as model,
        coalesce(feature, '(none)')                                        as feature,
        case when not coalesce(is_error, false) then null
             when error_type = 'rate_limit' or http_status = 429 then 'rate_limited'
             when error_type = 'overloaded' or http_status = 529 then 'overloaded'
             when error_type = 'context_exceeded' then 'context_exceeded'
             else 'other' end                                              as error_class,
        priced,
        sum(requests)                                                      as requests,
        sum(cache_hit_requests)                                            as cache_hit_requests,
        coalesce(sum(input_tokens), 0)                                     as input_tokens,
        coalesce(sum(output_tokens), 0)                                    as output_tokens,
        coalesce(sum(cache_read_tokens), 0)                                as cache_read_tokens,
        coalesce(sum(cache_write_tokens), 0)                               as cache_write_tokens,
        sum(cost_usd)                                                      as cost_usd,
        sum(list_usd)                                                      as list_usd,
        sum(cache_read_usd)                                                as cache_read_usd,
        coalesce(sum(read_at_input_n), 0)                                  as read_at_input_n,
        sum(cache_write_usd)                                               as cache_write_usd,
        coalesce(sum(write_at_input_n), 0)                                 as write_at_input_n,
        sum(logged_requests)                                               as logged_requests,
        sum(cost_var)                                                      as cost_var
    from weighted
    group by all
)
select
    period::VARCHAR                                                        as period,
    day::DATE                                                              as day,
    tier::VARCHAR                                                          as tier,
    model::VARCHAR                                                         as model,
    feature::VARCHAR                                                       as feature,
    error_class::VARCHAR                                                   as error_class,
    priced::BOOLEAN                                                        as priced,
    round(requests)::BIGINT                                                as requests,
    round(cache_hit_requests)::BIGINT                                      as cache_hit_requests,
    input_tokens::BIGINT                                                   as input_tokens,
    output_tokens::BIGINT                                                  as output_tokens,
    cache_read_tokens::BIGINT                                              as cache_read_tokens,
    cache_write_tokens::BIGINT                                             as cache_write_tokens,
    (case when priced then cost_usd end)::DECIMAL(18, 9)                   as cost_usd,
    (case when priced then list_usd end)::DECIMAL(18, 9)                   as list_usd,
    (case when priced then cache_read_usd end)::DECIMAL(18, 9)             as cache_read_usd,
    (case when priced then read_at_input_n::DECIMAL(38, 0) * 0.000000001 end)::DECIMAL(18, 9)
                                                                           as cache_read_at_input_usd,
    (case when priced then cache_write_usd end)::DECIMAL(18, 9)            as cache_write_usd,
    (case when priced then write_at_input_n::DECIMAL(38, 0) * 0.000000001 end)::DECIMAL(18, 9)
                                                                           as cache_write_at_input_usd,
    logged_requests::BIGINT                                                as logged_requests,
    cost_var::DOUBLE                                                       as cost_var
from summed
order by period, day, tier, model, feature, error_class nulls first, priced
