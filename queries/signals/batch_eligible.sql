-- batch_eligible: traffic of non-interactive features (configured, or arriving in scheduled bursts) sent at the standard tier, and what the Message Batches API would save.
-- engines: duckdb, spark
-- rank: 9
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   batch_features VARCHAR = NULL          comma-separated features that need no answer within minutes ([signals] batch_features)
--   interactive_features VARCHAR = NULL    comma-separated features that do, never read as scheduled ([signals] interactive_features)
--   latency_slo_ms VARCHAR = NULL          'feature=ms,...': a feature with a latency SLO is interactive ([signals.latency_slo_ms])
--   ttft_slo_ms VARCHAR = NULL             'feature=ms,...': likewise ([signals.ttft_slo_ms])
--   burst_minutes BIGINT = 60              a scheduled burst: the day's requests of the feature fit in this many minutes (10-minute steps)
--   burst_share DOUBLE = 0.9               at least this share of them
--   slot_minutes BIGINT = 60               and the burst starts within this many minutes of its usual time
--   min_burst_days BIGINT = 5              on at least this many days
--   min_day_share DOUBLE = 0.8             that are at least this share of the days the feature ran
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
-- Two ways a feature is found to need no answer within minutes: it is listed in batch_features, or
-- its requests arrive in scheduled bursts, most of each day's requests within one burst_minutes
-- stretch that starts at about the same time every day (a cron job; people's traffic spreads over
-- the hours they are awake). Days and times of day are in the time zone tz (UTC by default); a burst
-- across midnight is read as two short days.
-- Features listed in interactive_features or with a latency SLO are never read from their timing.
-- The saving re-prices each standard-tier request at the batch row of its own price card (same
-- model, platform, geography, time and band), so it is exact for the same tokens.
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
weeks as (select greatest(epoch(until - since) / 604800.0, 1.0 / 7) as weeks from win),
listed as (
    select distinct trim(x) as feature
    from unnest(string_split(coalesce($batch_features::VARCHAR, ''), ',')) t(x) where trim(x) <> ''
),
interactive as (
    select distinct trim(split_part(trim(x), '=', 1)) as feature
    from unnest(string_split(coalesce($interactive_features::VARCHAR, '') || ',' || coalesce($latency_slo_ms::VARCHAR, '')
                             || ',' || coalesce($ttft_slo_ms::VARCHAR, ''), ',')) t(x)
    where trim(x) <> ''
),
w as not materialized (
    select * from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
-- requests per feature and 10-minute step of wall-clock time in the time zone tz (an integer key: cheap to
-- group ten million rows on), and their cost: the spend comes from the same pass
all_steps as (
    select feature, case when $tz::VARCHAR = 'UTC' then epoch_ms(ts) // 600000 else epoch_ms(timezone($tz::VARCHAR, ts)) // 600000 end as step, sum(sample_weight) as n,
           sum(cost_usd * sample_weight) filter (where priced) as cost
    from w group by all
),
spend as (select coalesce(sum(cost), 0) / (select weeks from weeks) as weekly_spend from all_steps),
steps as (
    select feature, step, n
    from all_steps where feature is not null and feature not in (select feature from interactive)
),
-- per feature and day (in the time zone tz): the busiest burst_minutes-long stretch and when it starts
stretches as (
    select feature, step // 144 as day, step % 144 as slot,
           sum(n) over (partition by feature, step // 144 order by step
                        range between current row and ($burst_minutes::BIGINT // 10 - 1) following) as in_burst,
           sum(n) over (partition by feature, step // 144) as day_n
    from steps
),
days as (
    select feature, day, arg_max(slot, in_burst) as slot, max(in_burst) >= $burst_share::DOUBLE * max(day_n) as burst
    from stretches group by all
),
usual as (
    select feature, count(*) as days, median(slot) filter (where burst) as slot from days group by feature
),
scheduled as (
    select d.feature, u.days, count(*) as burst_days, u.slot
    from days d join usual u on u.feature = d.feature
    where d.burst and abs(d.slot - u.slot) * 10 <= $slot_minutes::BIGINT
    group by all
    having count(*) >= $min_burst_days::BIGINT and count(*) >= $min_day_share::DOUBLE * u.days
),
chosen as (
    select feature, 'listed' as why, null::BIGINT as days, null::BIGINT as burst_days, null::DOUBLE as slot from listed
    union all
    select feature, 'scheduled', days, burst_days, slot from scheduled where feature not in (select feature from listed)
),
per_feature as (
    select feature, round(sum(sample_weight))::BIGINT as requests,
           round(coalesce(sum(sample_weight) filter (where coalesce(service_tier, 'standard') <> 'batch'), 0))::BIGINT as standard
    from w semi join chosen l on l.feature = w.feature group by feature
),
repriced as (
    select w.feature, count(*) as n, sum(w.cost_usd * w.sample_weight) as cost_now,
           sum(w.sample_weight * costlab_card_cost_usd(w.input_tokens, w.output_tokens, w.cache_write_5m_tokens,
                                     w.cache_write_1h_tokens, w.cache_read_tokens, w.web_search_requests,
                                     c.input_fusd, c.output_fusd, c.cache_write_5m_fusd, c.cache_write_1h_fusd,
                                     c.cache_read_fusd, c.web_search_fusd)) as cost_batch
    from w
    semi join chosen l on l.feature = w.feature
    join price_card c
      on c.model = w.model and c.speed = coalesce(w.speed, 'standard') and c.service_tier = 'batch'
     and c.platform = coalesce(w.platform, 'anthropic')
     and c.geo_class = costlab_geo_class(w.platform, w.inference_geo)
     and w.ts >= c.seg_from and (c.seg_to is null or w.ts < c.seg_to)
     and w.prompt_tokens >= c.band_min_tokens and (c.band_max_tokens is null or w.prompt_tokens < c.band_max_tokens)
    where w.priced and coalesce(w.service_tier, 'standard') <> 'batch'
    group by w.feature
),
found as (
    select p.*, c.why, c.days, c.burst_days, c.slot, r.cost_now, (r.cost_now - r.cost_batch) / (select weeks from weeks) as weekly
    from per_feature p join repriced r on r.feature = p.feature join chosen c on c.feature = p.feature
)
select
    'batch_eligible'::VARCHAR                                                   as signal,
    (case when weekly >= $high_usd::DECIMAL(18,2) then 'high' when weekly >= $medium_usd::DECIMAL(18,2) then 'medium' else 'low' end)::VARCHAR
                                                                                as severity,
    ('feature=' || feature)::VARCHAR                                            as segment,
    (format('{:,}', standard) || ' of ' || format('{:,}', requests) || ' requests sent at the standard tier ($'
        || round(cost_now / (select weeks from weeks), 2) || ' a week) by a feature '
        || case when why = 'listed' then 'configured as non-interactive'
                else 'that runs as a scheduled job: on ' || burst_days || ' of the ' || days || ' days it ran, at least '
                     || round(100 * $burst_share::DOUBLE)::BIGINT || '% of its requests came within ' || $burst_minutes::BIGINT
                     || ' minutes from about ' || lpad(((round(slot) * 10)::BIGINT // 60)::VARCHAR, 2, '0') || ':' || lpad(((round(slot) * 10)::BIGINT % 60)::VARCHAR, 2, '0')
                     || ' ' || $tz::VARCHAR || ' (if people wait for these answers, list it in [signals] interactive_features)' end)::VARCHAR
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
