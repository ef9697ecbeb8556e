-- cache_underuse: features that send large, stable prompts without prompt caching, and what a 5-minute cache on the stable prefix would save.
-- engines: duckdb, spark
-- rank: 8
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   min_prefix_tokens BIGINT = 2048        the estimated stable prefix must be at least this long (above every model's cacheable minimum)
--   min_stability DOUBLE = 0.6             p10 / median prompt size at least this (prompts share most of their length)
--   max_cached_share DOUBLE = 0.05         at most this share of the segment's requests read or write the cache today
--   min_requests BIGINT = 200              requests a segment needs before a finding
--   min_impact_usd DECIMAL(18,2) = 25      weekly saving below this is not reported
--   min_spend_share DOUBLE = 0.005         nor below this share of the weekly spend
--   medium_usd DECIMAL(18,2) = 100         weekly impact from which a finding is medium
--   high_usd DECIMAL(18,2) = 1000          weekly impact from which a finding is high
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: the estimated stable prefix, tokens)
--   baseline DOUBLE                       what it is compared with (min_prefix_tokens)
--   requests BIGINT                       requests in the segment over the window
--   weekly_impact_usd DECIMAL(18,6)       the estimated weekly saving
--   suggestion VARCHAR                    the suggested change
--
-- Logs do not say which tokens repeat, so the stable prefix is estimated as the 10th-percentile
-- prompt of the segment. The saving assumes one 5-minute cache write per segment and 5-minute
-- bucket with traffic (the first request), and reads for every other request, at each request's
-- own rates (price_card: platform, service tier, geography, time, band).
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
weeks as (select greatest(epoch(until - since) / 604800.0, 1.0 / 7) as weeks from win),
w as not materialized (
    select * from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ and status = 'ok' and priced
),
shape as (
    -- cheap counts over every request first; the percentiles only for the segments that pass them
    select feature, model, count(*) as logged, round(sum(sample_weight))::BIGINT as requests,
           sum(sample_weight * (coalesce(cache_read_tokens, 0) + coalesce(cache_write_5m_tokens, 0)
                + coalesce(cache_write_1h_tokens, 0) > 0)::INTEGER) / sum(sample_weight) as cached_share,
           sum(sample_weight * (prompt_tokens < $min_prefix_tokens::BIGINT)::INTEGER) / sum(sample_weight) as small_share,
           sum(cost_usd * sample_weight) as cost
    from w group by feature, model
),
-- the spend from the same pass (a sum of the segments' exact sums)
spend as (select coalesce(sum(cost), 0) / (select weeks from weeks) as weekly_spend from shape),
pre as (
    select * from shape
    where logged >= $min_requests::BIGINT and cached_share <= $max_cached_share::DOUBLE and small_share <= 0.1
),
candidates as (
    select pre.*, q.p10, q.p50
    from pre
    join (select feature, model, quantile_cont(prompt_tokens, 0.1) as p10, quantile_cont(prompt_tokens, 0.5) as p50
          from w semi join pre on pre.feature is not distinct from w.feature and pre.model = w.model
          group by feature, model) q
      on q.feature is not distinct from pre.feature and q.model = pre.model
    where q.p10 >= $min_prefix_tokens::BIGINT and q.p10 >= $min_stability::DOUBLE * q.p50
),
rows as (
    select w.feature, w.model, w.sample_weight, k.p10::BIGINT as prefix, c.input_fusd, c.cache_read_fusd, c.cache_write_5m_fusd,
           row_number() over (partition by w.feature, w.model, epoch_ms(w.ts) // 300000 order by w.ts) = 1
               as writes
    from (select * from w where model in (select model from candidates)) w  -- implied by the join below; filters first
    join candidates k on k.feature is not distinct from w.feature and k.model = w.model
    join price_card c
      on c.model = w.model and c.speed = coalesce(w.speed, 'standard')
     and c.platform = coalesce(w.platform, 'anthropic')
     and c.service_tier = coalesce(w.service_tier, 'standard')
     and c.geo_class = costlab_geo_class(w.platform, w.inference_geo)
     and w.ts >= c.seg_from and (c.seg_to is null or w.ts < c.seg_to)
     and w.prompt_tokens >= c.band_min_tokens and (c.band_max_tokens is null or w.prompt_tokens < c.band_max_tokens)
),
saving as (
    -- A sampled row stands for sample_weight requests: the first in its bucket for the write and
    -- sample_weight - 1 reads, the others for reads only (the buckets with traffic are those seen).
    select feature, model, any_value(prefix) as prefix, count(*) filter (where writes) as writes,
           round(sum(sample_weight) - count(*) filter (where writes))::BIGINT as reads,
           sum(case when writes then -costlab_fusd_to_usd(prefix::HUGEINT * (cache_write_5m_fusd - input_fusd))
                                     + (sample_weight - 1) * costlab_fusd_to_usd(prefix::HUGEINT * (input_fusd - cache_read_fusd))
                    else sample_weight * costlab_fusd_to_usd(prefix::HUGEINT * (input_fusd - cache_read_fusd)) end) as saved
    from rows group by feature, model
),
found as (
    select k.*, s.prefix, s.writes, s.reads, s.saved / (select weeks from weeks) as weekly
    from candidates k join saving s on s.feature is not distinct from k.feature and s.model = k.model
)
select
    'cache_underuse'::VARCHAR                                                   as signal,
    (case when weekly >= $high_usd::DECIMAL(18,2) then 'high' when weekly >= $medium_usd::DECIMAL(18,2) then 'medium' else 'low' end)::VARCHAR
                                                                                as severity,
    ('feature=' || coalesce(feature, '(none)') || ' model=' || model)::VARCHAR  as segment,
    (format('{:,}', requests) || ' requests, ' || round(100 * cached_share, 1) || '% cached; prompts p10 ' || format('{:,}', round(p10)::BIGINT)
        || ' / median ' || format('{:,}', round(p50)::BIGINT) || ' tokens; a cached ' || format('{:,}', prefix) || '-token prefix: '
        || format('{:,}', writes) || ' writes, ' || format('{:,}', reads) || ' reads')::VARCHAR                 as evidence,
    prefix::DOUBLE                                                              as observed,
    $min_prefix_tokens::BIGINT::DOUBLE                                          as baseline,
    requests::BIGINT                                                            as requests,
    weekly::DECIMAL(18,6)                                                       as weekly_impact_usd,
    ('put a cache_control breakpoint after the stable part of the ' || coalesce(feature, '(none)')
        || ' prompt (system prompt, instructions, shared context)')::VARCHAR  as suggestion
from found
where weekly >= greatest($min_impact_usd::DECIMAL(18,2), $min_spend_share::DOUBLE * (select weekly_spend from spend))
order by weekly desc
