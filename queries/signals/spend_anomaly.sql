-- spend_anomaly: a feature's spend on a day of the last week far above its baseline for that kind of day (median and MAD of weekdays, or of weekends, before the last week).
-- engines: duckdb, spark
-- rank: 10
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   min_rise DOUBLE = 1.0                  the day must cost at least this much more than the baseline median (1.0: double)
--   mad_k DOUBLE = 5                       and lie this many robust deviations (1.4826 x MAD) above it
--   min_days BIGINT = 4                    baseline days of the same kind needed before a finding
--   min_impact_usd DECIMAL(18,2) = 25      excess below this is not reported
--   min_spend_share DOUBLE = 0.005         nor below this share of the weekly spend
--   medium_usd DECIMAL(18,2) = 100         impact from which a finding is medium
--   high_usd DECIMAL(18,2) = 1000          impact from which a finding is high
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: the day's spend, USD)
--   baseline DOUBLE                       what it is compared with (median spend of the same kind of day)
--   requests BIGINT                       the feature's requests that day
--   weekly_impact_usd DECIMAL(18,6)       the day's spend above the baseline median (it happened in the last week)
--   suggestion VARCHAR                    the suggested change
--
-- Seasonality is weekday against weekend (days in the time zone tz, UTC by default): traffic on a Saturday is compared with earlier
-- weekends only. The baseline is the days before the last 7, so a spike does not raise its own bar.
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
last_day as (select epoch_ms(timezone($tz::VARCHAR, until)) // 86400000 as d from win),
daily as (
    select feature, case when $tz::VARCHAR = 'UTC' then epoch_ms(ts) // 86400000 else epoch_ms(timezone($tz::VARCHAR, ts)) // 86400000 end as day, coalesce(sum(cost_usd * sample_weight) filter (where priced), 0) as cost,
           round(sum(sample_weight))::BIGINT as n
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
    group by all
),
classed as (
    -- day 0 (1970-01-01) was a Thursday: (day + 3) % 7 is 0 on Mondays, 5 and 6 on weekends
    select *, (day + 3) % 7 >= 5 as weekend, day >= (select d from last_day) - 7 as last_week from daily
),
base as (
    select feature, weekend, median(cost)::DECIMAL(38, 9) as median_cost, count(*) as days  -- DECIMAL on every engine (Spark: DOUBLE)
    from classed where not last_week group by feature, weekend
),
dev as (
    select c.feature, c.weekend, median(abs(c.cost - b.median_cost))::DECIMAL(38, 9) as mad
    from classed c join base b on b.feature is not distinct from c.feature and b.weekend = c.weekend
    where not c.last_week group by c.feature, c.weekend
),
spend as (select coalesce(sum(cost), 0) as weekly_spend from classed where last_week),
found as (
    select c.*, b.median_cost, b.days, d.mad, c.cost - b.median_cost as excess
    from classed c
    join base b on b.feature is not distinct from c.feature and b.weekend = c.weekend
    join dev d on d.feature is not distinct from c.feature and d.weekend = c.weekend
    where c.last_week and b.days >= $min_days::BIGINT
      and c.cost > b.median_cost * (1 + $min_rise::DOUBLE)
      and c.cost > b.median_cost + $mad_k::DOUBLE * 1.4826 * d.mad
)
select
    'spend_anomaly'::VARCHAR                                                    as signal,
    (case when excess >= $high_usd::DECIMAL(18,2) then 'high' when excess >= $medium_usd::DECIMAL(18,2) then 'medium' else 'low' end)::VARCHAR
                                                                                as severity,
    ('feature=' || coalesce(feature, '(none)') || ' day=' || strftime(DATE '1970-01-01' + day::INTEGER, '%Y-%m-%d'))::VARCHAR
                                                                                as segment,
    ('$' || round(cost, 2) || ' spent over ' || format('{:,}', n) || ' requests vs a median $' || round(median_cost, 2)
        || ' on the ' || days || case when weekend then ' earlier weekend days' else ' earlier weekdays' end
        || ' (MAD $' || round(mad, 2) || ')')::VARCHAR                         as evidence,
    cost::DOUBLE                                                                as observed,
    median_cost::DOUBLE                                                         as baseline,
    n::BIGINT                                                                   as requests,
    excess::DECIMAL(18,6)                                                       as weekly_impact_usd,
    ('drill into ' || coalesce(feature, '(none)') || ' that day: `costlab sql -F queries/top_requests_by_cost.sql` '
        || 'for the costliest requests, then the model, prompt size and retries')::VARCHAR as suggestion
from found
where excess >= greatest($min_impact_usd::DECIMAL(18,2), $min_spend_share::DOUBLE * (select weekly_spend from spend))
order by excess desc
