-- cost_per_user: cost growing faster than users: the last week's cost per active user, overall and per customer, against the median of the weeks before.
-- rank: 3
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   min_growth DOUBLE = 0.25               cost per active user must be at least this much above its baseline
--   mad_k DOUBLE = 3                       and above the baseline by this many robust deviations (1.4826 x MAD)
--   min_requests BIGINT = 200              requests a segment needs in the last week before a finding
--   min_impact_usd DECIMAL(18,2) = 25      weekly excess below this is not reported
--   min_spend_share DOUBLE = 0.005         nor below this share of the weekly spend
--   medium_usd DECIMAL(18,2) = 100         weekly impact from which a finding is medium
--   high_usd DECIMAL(18,2) = 1000          weekly impact from which a finding is high
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: last week's cost per active user, USD)
--   baseline DOUBLE                       what it is compared with (median of the earlier full weeks)
--   requests BIGINT                       requests in the segment in the last week
--   weekly_impact_usd DECIMAL(18,6)       estimated dollars per week (last week's cost above baseline x users)
--   suggestion VARCHAR                    the suggested change
--
-- Weeks are 7-day buckets counted back from the window's end, so the last one is always full; a
-- partial oldest bucket is left out. Needs at least two full weeks.
with win as (
    select greatest($since::TIMESTAMPTZ, date_trunc('day', min(ts))) as since,
           least($until::TIMESTAMPTZ, date_trunc('day', max(ts)) + interval 1 day) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
full_weeks as (select floor(epoch(until - since) / 604800)::INTEGER as n from win),
-- per customer, user and day first (integer day keys are cheap to group on); weeks come from days
days as (
    select customer_id, user_id, (epoch_ms(ts) // 86400000) as day,
           sum(cost_usd * sample_weight) filter (where priced) as cost, count(*) as n
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
    group by all
),
b as (
    select customer_id, user_id, ((epoch_ms((select until from win)) // 86400000) - 1 - day) // 7 as wk,
           sum(cost) as cost, sum(n) as n
    from days group by all
),
seg as (
    select 'all traffic' as kind, '(all)' as name, wk, sum(cost) as cost,
           count(distinct user_id) filter (where user_id is not null) as users, sum(n) as n
    from b where wk < (select n from full_weeks) group by wk
    union all
    select 'customer', customer_id, wk, sum(cost), count(*) filter (where user_id is not null), sum(n)
    from b where customer_id is not null and wk < (select n from full_weeks) group by customer_id, wk
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
spend as (select cost as weekly_spend from seg where kind = 'all traffic' and wk = 0)
select
    'cost_per_user'::VARCHAR                                                    as signal,
    (case when excess >= $high_usd::DECIMAL(18,2) then 'high' when excess >= $medium_usd::DECIMAL(18,2) then 'medium' else 'low' end)::VARCHAR
                                                                                as severity,
    (case when kind = 'customer' then 'customer=' || name else name end)::VARCHAR as segment,
    ('cost per active user $' || round(cpu, 4) || ' in the last week vs $' || round(base_cpu, 4)
        || ' (median of ' || weeks || ' earlier weeks), +' || round(100 * (cpu / base_cpu - 1)) || '%; cost '
        || case when cost >= base_cost then '+' else '' end || round(100 * (cost / base_cost - 1)) || '% vs active users '
        || case when users >= base_users then '+' else '' end || round(100 * (users / base_users - 1)) || '%')::VARCHAR
                                                                                as evidence,
    cpu::DOUBLE                                                                 as observed,
    base_cpu::DOUBLE                                                            as baseline,
    n::BIGINT                                                                   as requests,
    excess::DECIMAL(18,6)                                                       as weekly_impact_usd,
    ('find what changed for ' || case when kind = 'customer' then 'customer ' || name else 'all traffic' end
        || ' (`costlab sql -F queries/cost_by_feature.sql` over the last week vs before): new features, longer prompts, a model change')::VARCHAR
                                                                                as suggestion
from cur
where n >= $min_requests::BIGINT
  and cpu > base_cpu * (1 + $min_growth::DOUBLE)
  and cpu > base_cpu + $mad_k::DOUBLE * 1.4826 * mad
  and cost / base_cost > users / base_users
  and excess >= greatest($min_impact_usd::DECIMAL(18,2), $min_spend_share::DOUBLE * (select weekly_spend from spend))
order by excess desc
