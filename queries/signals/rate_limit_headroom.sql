-- rate_limit_headroom: 429s on a tier in minutes when the next cheaper tier served traffic without a single 429, i.e. rate limits a fallback tier could have absorbed.
-- engines: duckdb, spark
-- rank: 5
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   tier_models VARCHAR = NULL             'haiku=claude-haiku-5-5,sonnet=...' ([tiers]); NULL: newest active model per tier
--   min_rate DOUBLE = 0.08                 the tier's share of requests rate-limited must be at least this
--   high_rate DOUBLE = 0.15                from this share the finding is high
--   min_servable BIGINT = 50               429s per week that the fallback tier could have taken, at least
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: 429s per week a fallback could have served)
--   baseline DOUBLE                       what it is compared with (min_servable)
--   requests BIGINT                       requests on the tier over the window
--   weekly_impact_usd DECIMAL(18,6)       NULL: a 429 is not billed; the cost is latency and failed answers
--   suggestion VARCHAR                    the suggested change
--
-- A rate limit counts when error_type is rate_limit or the HTTP status is 429. Headroom is judged
-- per minute: the cheaper tier had requests in that minute and none of them was rate-limited.
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
weeks as (select greatest(epoch(until - since) / 604800.0, 1.0 / 7) as weeks from win),
-- tiers cheapest first, with the model that stands for each (macros.sql)
tier_rank as (select tier, model, rnk from costlab_tier_ladder($tier_models::VARCHAR)),
down as (select a.tier, b.tier as to_tier from tier_rank a join tier_rank b on b.rnk = a.rnk - 1),
per_minute as (
    select tier, epoch_ms(ts) // 60000 as minute, sum(sample_weight) as requests,
           coalesce(sum(sample_weight) filter (where status = 'error' and (error_type = 'rate_limit' or http_status = 429)), 0)
               as limited
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ and tier is not null
    group by all
),
per_tier as (
    select m.tier, d.to_tier, round(sum(m.requests))::BIGINT as requests, round(sum(m.limited))::BIGINT as limited,
           round(sum(m.limited) filter (where f.requests > 0 and f.limited = 0))::BIGINT as servable,
           count(*) filter (where m.limited > 0) as limited_minutes
    from per_minute m
    join down d on d.tier = m.tier
    left join per_minute f on f.tier = d.to_tier and f.minute = m.minute
    group by m.tier, d.to_tier
)
select
    'rate_limit_headroom'::VARCHAR                                              as signal,
    (case when limited / requests >= $high_rate::DOUBLE then 'high' else 'medium' end)::VARCHAR as severity,
    ('tier=' || tier || ' fallback=' || to_tier)::VARCHAR                       as segment,
    (format('{:,}', limited) || ' of ' || format('{:,}', requests) || ' requests rate-limited (' || round(100 * limited / requests, 1)
        || '%, limit ' || round(100 * $min_rate::DOUBLE, 1) || '%) in ' || limited_minutes || ' minutes; '
        || format('{:,}', coalesce(servable, 0)) || ' of them in minutes when ' || to_tier || ' had traffic and no 429')::VARCHAR
                                                                                as evidence,
    (coalesce(servable, 0) / (select weeks from weeks))::DOUBLE                 as observed,
    $min_servable::BIGINT::DOUBLE                                               as baseline,
    requests::BIGINT                                                            as requests,
    null::DECIMAL(18,6)                                                         as weekly_impact_usd,
    ('on a 429 from ' || tier || ', fall back to ' || to_tier || ' (or raise the ' || tier
        || ' rate limit) instead of retrying the same tier')::VARCHAR          as suggestion
from per_tier
where limited / requests >= $min_rate::DOUBLE
  and coalesce(servable, 0) / (select weeks from weeks) >= $min_servable::BIGINT
order by servable desc
