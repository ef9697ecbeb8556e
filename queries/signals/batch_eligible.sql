-- batch_eligible: traffic of non-interactive features (configured) sent at the standard tier, and what the Message Batches API would save.
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   batch_features VARCHAR = NULL          comma-separated features that need no answer within minutes ([signals] batch_features)
--   min_impact_usd DECIMAL(18,2) = 25      weekly saving below this is not reported
--   min_spend_share DOUBLE = 0.005         nor below this share of the weekly spend
--   medium_usd DECIMAL(18,2) = 100         weekly impact from which a finding is medium
--   high_usd DECIMAL(18,2) = 1000          weekly impact from which a finding is high
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: share of the feature's requests at standard tier)
--   baseline DOUBLE                       what it is compared with (0: all of it could be batch)
--   requests BIGINT                       standard-tier requests of the feature over the window
--   weekly_impact_usd DECIMAL(18,6)       the weekly saving at the batch rates
--   suggestion VARCHAR                    the suggested change
--
-- The saving re-prices each standard-tier request at the batch row of its own price card (same
-- model, platform, geography, time and band), so it is exact for the same tokens.
with win as (
    select greatest($since::TIMESTAMPTZ, date_trunc('day', min(ts))) as since,
           least($until::TIMESTAMPTZ, date_trunc('day', max(ts)) + interval 1 day) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
weeks as (select greatest(epoch(until - since) / 604800.0, 1.0 / 7) as weeks from win),
listed as (
    select distinct trim(x) as feature
    from unnest(string_split(coalesce($batch_features::VARCHAR, ''), ',')) t(x) where trim(x) <> ''
),
w as not materialized (
    select * from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
spend as (select coalesce(sum(cost_usd) filter (where priced), 0) / (select weeks from weeks) as weekly_spend from w),
per_feature as (
    select feature, count(*) as requests, count(*) filter (where coalesce(service_tier, 'standard') <> 'batch') as standard
    from w semi join listed l on l.feature = w.feature group by feature
),
repriced as (
    select w.feature, count(*) as n, sum(w.cost_usd) as cost_now,
           sum(costlab_fusd_to_usd(coalesce(w.input_tokens, 0)::HUGEINT * c.input_fusd)
             + costlab_fusd_to_usd(coalesce(w.output_tokens, 0)::HUGEINT * c.output_fusd)
             + costlab_fusd_to_usd(coalesce(w.cache_write_5m_tokens, 0)::HUGEINT * c.cache_write_5m_fusd
                                   + coalesce(w.cache_write_1h_tokens, 0)::HUGEINT * c.cache_write_1h_fusd)
             + costlab_fusd_to_usd(coalesce(w.cache_read_tokens, 0)::HUGEINT * c.cache_read_fusd)
             + costlab_fusd_to_usd(coalesce(w.web_search_requests, 0)::HUGEINT * c.web_search_fusd)) as cost_batch
    from w
    semi join listed l on l.feature = w.feature
    join price_card c
      on c.model = w.model and c.speed = coalesce(w.speed, 'standard') and c.service_tier = 'batch'
     and c.platform = coalesce(w.platform, 'anthropic')
     and c.geo_class = case
            when coalesce(w.platform, 'anthropic') in ('bedrock', 'vertex')
                 and coalesce(w.inference_geo, 'global') <> 'global' then 'regional'
            when w.inference_geo = 'us' and coalesce(w.platform, 'anthropic') in ('anthropic', 'foundry', 'claude_aws') then 'us'
            else 'global' end
     and w.ts >= c.seg_from and (c.seg_to is null or w.ts < c.seg_to)
     and w.prompt_tokens >= c.band_min_tokens and (c.band_max_tokens is null or w.prompt_tokens < c.band_max_tokens)
    where w.priced and coalesce(w.service_tier, 'standard') <> 'batch'
    group by w.feature
),
found as (
    select p.*, r.cost_now, (r.cost_now - r.cost_batch) / (select weeks from weeks) as weekly
    from per_feature p join repriced r on r.feature = p.feature
)
select
    'batch_eligible'::VARCHAR                                                   as signal,
    (case when weekly >= $high_usd::DECIMAL(18,2) then 'high' when weekly >= $medium_usd::DECIMAL(18,2) then 'medium' else 'low' end)::VARCHAR
                                                                                as severity,
    ('feature=' || feature)::VARCHAR                                            as segment,
    (format('{:,}', standard) || ' of ' || format('{:,}', requests) || ' requests sent at the standard tier ($'
        || round(cost_now / (select weeks from weeks), 2) || ' a week) by a feature configured as non-interactive')::VARCHAR
                                                                                as evidence,
    (standard / requests)::DOUBLE                                               as observed,
    0::DOUBLE                                                                   as baseline,
    standard::BIGINT                                                            as requests,
    weekly::DECIMAL(18,6)                                                       as weekly_impact_usd,
    ('send ' || feature || ' through the Message Batches API (results within 24 hours, every token at the batch rate)')::VARCHAR
                                                                                as suggestion
from found
where weekly >= greatest($min_impact_usd::DECIMAL(18,2), $min_spend_share::DOUBLE * (select weekly_spend from spend))
order by weekly desc
