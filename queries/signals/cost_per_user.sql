-- cost_per_user: cost growing faster than its users: the last week's cost per active user (per active customer when the log names no users), overall, per customer and per tier, against the median of the weeks before.
-- engines: duckdb, spark
-- rank: 3
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   min_growth DOUBLE = 0.25               cost per active user must be at least this much above its baseline
--   mad_k DOUBLE = 3                       and above the baseline by this many robust deviations (1.4826 x MAD)
--   min_requests BIGINT = 200              requests a segment needs in the last week before a finding
--   min_impact_usd DECIMAL(18,2) = 25      weekly excess below this is not reported
--   min_spend_share DOUBLE = 0.005         nor below this share of the weekly spend
--   medium_usd DECIMAL(18,2) = 100         weekly impact from which a finding is medium
--   high_usd DECIMAL(18,2) = 1000          weekly impact from which a finding is high
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low; `note` for a window it cannot judge (no baseline week, no ids)
--   segment VARCHAR                       what the finding concerns: (all), customer=..., tier=...
--   evidence VARCHAR                      the figures and their baseline, in words, and which ids were counted
--   observed DOUBLE                       the measured figure (here: last week's cost per active user, USD)
--   baseline DOUBLE                       what it is compared with (median of the earlier full weeks)
--   requests BIGINT                       requests in the segment in the last week
--   weekly_impact_usd DECIMAL(18,6)       estimated dollars per week (last week's cost above baseline x users)
--   suggestion VARCHAR                    the suggested change
--
-- Weeks are 7-day buckets counted back from the window's end, so the last one is always full; a
-- partial oldest bucket is left out. Needs at least two full weeks: a shorter window, or one whose
-- requests carry neither user nor customer ids, gives one `note` row saying so instead of silence.
-- Who is "active": the user ids when at least as many requests carry one as carry a customer id,
-- else the customer ids (a log of customer ids only); the evidence names which.
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until,
           count(*) as n,
           -- which id stands for an active user
           case when count(user_id) > 0 and count(user_id) >= count(customer_id) then 'user'
                when count(customer_id) > 0 then 'customer' end as unit
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
-- weeks of wall-clock time in the time zone tz, so a change to or from summer time does not cost a week
full_weeks as (select floor(epoch(timezone($tz::VARCHAR, until) - timezone($tz::VARCHAR, since)) / 604800)::INTEGER as n from win),
-- per customer, user, tier and day (in the time zone tz) first (integer day keys are cheap to group on); weeks come from days
days as (
    select customer_id, user_id, tier, (case when $tz::VARCHAR = 'UTC' then epoch_ms(ts) // 86400000 else epoch_ms(timezone($tz::VARCHAR, ts)) // 86400000 end) as day,
           sum(cost_usd * sample_weight) filter (where priced) as cost, count(*) as n
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
    group by all
),
b as (
    select customer_id, user_id, tier, ((epoch_ms(timezone($tz::VARCHAR, (select until from win))) // 86400000) - 1 - day) // 7 as wk,
           sum(cost) as cost, sum(n) as n
    from days group by all
),
-- a tier or customer segment only where there are several: with one, it is all traffic again
spread as (select count(distinct tier) as tiers, count(distinct customer_id) as customers from days),
-- active units per segment and week: distinct users, or distinct customers where the log has no users
seg as (
    select 'all traffic' as kind, '(all)' as name, wk, sum(cost) as cost,
           case when (select unit from win) = 'user' then count(distinct user_id) else count(distinct customer_id) end as users,
           sum(n) as n
    from b where wk < (select n from full_weeks) group by wk
    union all
    select 'customer', customer_id, wk, sum(cost),
           case when (select unit from win) = 'user' then count(distinct user_id) else count(distinct customer_id) end, sum(n)
    from b where customer_id is not null and wk < (select n from full_weeks) and (select customers from spread) > 1
    group by customer_id, wk
    union all
    select 'tier', tier, wk, sum(cost),
           case when (select unit from win) = 'user' then count(distinct user_id) else count(distinct customer_id) end, sum(n)
    from b where tier is not null and wk < (select n from full_weeks) and (select tiers from spread) > 1
    group by tier, wk
),
base as (
    select kind, name, median(cost / users) as cpu, median(users) as users, median(cost) as cost,
           count(*) as weeks
    from seg where wk >= 1 and users > 0 and cost is not null group by kind, name
),
dev as (
    select s.kind, s.name, median(abs(s.cost / s.users - b.cpu)) as mad
    from seg s join base b using (kind, name) where s.wk >= 1 and s.users > 0 group by s.kind, s.name
),
cur as (
    select s.kind, s.name, s.cost, s.users, s.n, s.cost / s.users as cpu,
           b.cpu as base_cpu, b.users as base_users, b.cost as base_cost, b.weeks, d.mad,
           s.cost - b.cpu * s.users as excess
    from seg s join base b using (kind, name) join dev d using (kind, name)
    where s.wk = 0 and s.users > 0
),
spend as (select cost as weekly_spend from seg where kind = 'all traffic' and wk = 0),
found as (
    select
        'cost_per_user'::VARCHAR                                                as signal,
        (case when excess >= $high_usd::DECIMAL(18,2) then 'high' when excess >= $medium_usd::DECIMAL(18,2) then 'medium' else 'low' end)::VARCHAR
                                                                                as severity,
        (case when kind = 'all traffic' then name else kind || '=' || name end)::VARCHAR as segment,
        ('cost per active ' || (select unit from win) || ' $' || round(cpu, 4) || ' in the last week vs $' || round(base_cpu, 4)
            || ' (median of ' || weeks || ' earlier week' || case when weeks = 1 then '' else 's' end || '), +'
            || round(100 * (cpu / base_cpu - 1)) || '%; cost '
            || case when cost >= base_cost then '+' else '' end || round(100 * (cost / base_cost - 1)) || '% vs active '
            || (select unit from win) || 's '
            || case when users >= base_users then '+' else '' end || round(100 * (users / base_users - 1)) || '%'
            || case when (select unit from win) = 'customer'
                    then ' (the log names no users: active customers counted, distinct customer_id)'
                    else ' (active users: distinct user_id)' end)::VARCHAR
                                                                                as evidence,
        cpu::DOUBLE                                                             as observed,
        base_cpu::DOUBLE                                                        as baseline,
        n::BIGINT                                                               as requests,
        excess::DECIMAL(18,6)                                                   as weekly_impact_usd,
        ('find what changed for ' || case when kind = 'all traffic' then 'all traffic' else kind || ' ' || name end
            || ' (`costlab sql -F queries/cost_by_feature.sql` over the last week vs before): new features, longer prompts, a model change')::VARCHAR
                                                                                as suggestion
    from cur
    where n >= $min_requests::BIGINT
      and cpu > base_cpu * (1 + $min_growth::DOUBLE)
      and cpu > base_cpu + $mad_k::DOUBLE * 1.4826 * mad
      and cost / base_cost > users / base_users
      and excess >= greatest($min_impact_usd::DECIMAL(18,2), $min_spend_share::DOUBLE * (select weekly_spend from spend))
),
-- a window this detector cannot judge says so (a note, not silence)
note as (
    select
        'cost_per_user'::VARCHAR as signal, 'note'::VARCHAR as severity, '(all)'::VARCHAR as segment,
        (case when w.unit is null
              then 'no request in the window carries a user_id or a customer_id: cost per user cannot be counted'
              else 'the window holds ' || greatest(f.n, 0) || ' full week' || case when f.n = 1 then '' else 's' end
                   || ' (' || strftime(timezone($tz::VARCHAR, w.since), '%Y-%m-%d') || ' to ' || strftime(timezone($tz::VARCHAR, w.until), '%Y-%m-%d')
                   || '): cost per ' || w.unit || ' compares the last 7 days with the median of the full weeks before, '
                   || 'so it needs at least 14 days; not judged' end)::VARCHAR as evidence,
        null::DOUBLE as observed, null::DOUBLE as baseline, w.n::BIGINT as requests,
        null::DECIMAL(18,6) as weekly_impact_usd,
        (case when w.unit is null then 'log user_id (or customer_id) with each request to measure cost per user'
              else 'run it again when the log covers two weeks or more (or widen --since)' end)::VARCHAR as suggestion
    from win w, full_weeks f
    where w.n > 0 and (w.unit is null or f.n < 2)
)
select * from found
union all
select * from note
order by weekly_impact_usd desc nulls last
