-- escalation_spike: the share of requests re-sent to a higher tier in the last week, per feature, above its daily baseline (median and MAD).
-- engines: duckdb, spark
-- rank: 4
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   tier_models VARCHAR = NULL             'haiku=claude-haiku-5-5,sonnet=...' ([tiers]); NULL: newest active model per tier
--   within_minutes BIGINT = 5              a move up a tier in the same session or trace counts when it comes this soon after
--   min_rise DOUBLE = 0.5                  the last week's rate must be at least this much above the baseline
--   mad_k DOUBLE = 3                       and above the baseline by this many robust deviations of the daily rates
--   min_excess BIGINT = 30                 escalations above baseline needed in the last week
--   min_impact_usd DECIMAL(18,2) = 25      weekly impact below this is not reported
--   min_spend_share DOUBLE = 0.005         nor below this share of the weekly spend
--   medium_usd DECIMAL(18,2) = 100         weekly impact from which a finding is medium
--   high_usd DECIMAL(18,2) = 1000          weekly impact from which a finding is high
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: escalations per first attempt, last week)
--   baseline DOUBLE                       what it is compared with (median daily rate before the last week)
--   requests BIGINT                       first attempts of the feature in the last week
--   weekly_impact_usd DECIMAL(18,6)       last week's escalation spend minus the baseline's spend per first attempt x first attempts
--   suggestion VARCHAR                    the suggested change
--
-- An escalation is a request whose parent_request_id points at a request on a cheaper tier (tiers
-- ranked by the list output price of the model that stands for each). A feature that records no such
-- link in the window (its app re-asks with a fresh request) is read through its sessions and traces
-- instead: a request with no parent whose previous request of the same feature in the same session
-- (or trace) was on a cheaper tier at most within_minutes before. Features that do record links keep
-- to them, so one escalation is not counted twice and a user who happens to use two tiers of a
-- feature in one session is not read as an escalation where the links say otherwise; it also keeps the
-- session pass (a sort of the feature's rows) off the logs that do not need it. The session
-- escalations are not first attempts. Needs two weeks: one for the baseline, the last for the rate
-- compared with it.
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
-- tiers cheapest first, with the model that stands for each (macros.sql)
tier_rank as (select tier, model, rnk from costlab_tier_ladder($tier_models::VARCHAR)),
w as not materialized (
    select * from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
linked as materialized (
    select c.feature, c.ts, c.cost_usd, c.priced, c.sample_weight
    from (select * from w where parent_key is not null) c
    join (select request_key, tier from w where request_key is not null) p on p.request_key = c.parent_key
    join tier_rank tc on tc.tier = c.tier
    join tier_rank tp on tp.tier = p.tier
    where tc.rnk > tp.rnk
),
-- integer day keys (days in the time zone tz): cheap to group ten million rows on
-- one pass over every request per feature and day: first attempts, and the cost for the week's spend
feature_days as materialized (
    select feature, (case when $tz::VARCHAR = 'UTC' then epoch_ms(ts) // 86400000 else epoch_ms(timezone($tz::VARCHAR, ts)) // 86400000 end) as day, sum(sample_weight) filter (where coalesce(attempt, 1) = 1) as firsts,
           count(*) filter (where coalesce(attempt, 1) = 1) as first_rows,
           sum(cost_usd * sample_weight) filter (where priced) as cost
    from w group by all
),
days as materialized (select feature, day, firsts from feature_days where first_rows > 0),
unlinked as (
    select distinct feature from days
    where feature is not null and feature not in (select feature from linked where feature is not null)
),
-- the previous request of the same feature in the same session, and in the same trace: one sort of
-- (key, time) each, with the tier packed into the low bits of the time (a window partitioned by
-- session and feature costs several times more on ten million rows)
keyed as (
    select case when w.session_id is not null then hash(w.session_id, w.feature) end as s_key,
           case when w.trace_id is not null then hash(w.trace_id, w.feature) end as t_key,
           epoch_ms(w.ts) * 64 + r.rnk as packed,
           -- what the result needs, narrow: the sorts carry every column of this relation
           w.cost_usd, w.priced, w.sample_weight, coalesce(w.attempt, 1) = 1 as first_try, w.parent_key is null as no_parent,
           w.feature
    from w join tier_rank r on r.tier = w.tier
    where w.feature in (select feature from unlinked) and (w.session_id is not null or w.trace_id is not null)
),
moves as (
    select *,
           lag(s_key) over (order by s_key, packed) as s_prev_key, lag(packed) over (order by s_key, packed) as s_prev,
           lag(t_key) over (order by t_key, packed) as t_prev_key, lag(packed) over (order by t_key, packed) as t_prev
    from keyed
),
moved as (
    select feature, case when $tz::VARCHAR = 'UTC' then (packed // 64) // 86400000
                         else epoch_ms(timezone($tz::VARCHAR, timezone('UTC', epoch_ms(packed // 64)))) // 86400000 end as day, cost_usd, priced, sample_weight, first_try as counted_first from moves
    where no_parent
      and ((s_prev_key = s_key and s_prev % 64 < packed % 64 and packed // 64 - s_prev // 64 <= $within_minutes::BIGINT * 60000)
           or (t_prev_key = t_key and t_prev % 64 < packed % 64 and packed // 64 - t_prev // 64 <= $within_minutes::BIGINT * 60000))
),
esc as (
    select feature, (case when $tz::VARCHAR = 'UTC' then epoch_ms(ts) // 86400000 else epoch_ms(timezone($tz::VARCHAR, ts)) // 86400000 end) as day, cost_usd, priced, sample_weight, false as moved, false as counted_first from linked
    union all
    select feature, day, cost_usd, priced, sample_weight, true as moved, counted_first from moved
),
esc_days as (
    select feature, day, sum(sample_weight) as escalations, coalesce(sum(sample_weight) filter (where moved), 0) as moved,
           coalesce(sum(sample_weight) filter (where counted_first), 0) as moved_firsts,
           sum(cost_usd * sample_weight) filter (where priced) as cost
    from esc group by all
),
daily as (
    select d.feature, d.day, d.firsts - coalesce(e.moved_firsts, 0) as firsts, coalesce(e.escalations, 0) as escalations,
           coalesce(e.moved, 0) as moved, coalesce(e.cost, 0) as cost,
           d.day >= (epoch_ms(timezone($tz::VARCHAR, (select until from win))) // 86400000) - 7 as last_week
    from days d left join esc_days e on e.feature is not distinct from d.feature and e.day = d.day
),
base as (
    select feature, median(escalations / nullif(firsts, 0)) as rate, sum(cost) / sum(firsts) as cost_per_first,
           count(*) as n_days
    from daily where not last_week group by feature having count(*) >= 7
),
dev as (
    select d.feature, median(abs(d.escalations / nullif(d.firsts, 0) - b.rate)) as mad
    from daily d join base b on b.feature is not distinct from d.feature where not last_week group by d.feature
),
cur as (
    select feature, sum(firsts) as firsts, sum(escalations) as escalations, sum(moved) as moved, sum(cost) as cost,
           sum(escalations) / nullif(sum(firsts), 0) as rate
    from daily where last_week group by feature
),
found as (
    select c.*, b.rate as base_rate, b.n_days, d.mad,
           c.escalations - b.rate * c.firsts as excess,
           c.cost - b.cost_per_first * c.firsts as impact
    from cur c join base b on b.feature is not distinct from c.feature join dev d on d.feature is not distinct from c.feature
    where c.rate > 0 and c.firsts > 0
),
spend as (
    select coalesce(sum(cost) filter (where day >= (epoch_ms(timezone($tz::VARCHAR, (select until from win))) // 86400000) - 7), 0) as weekly_spend
    from feature_days
)
select
    'escalation_spike'::VARCHAR                                                 as signal,
    (case when impact >= $high_usd::DECIMAL(18,2) then 'high' when impact >= $medium_usd::DECIMAL(18,2) then 'medium' else 'low' end)::VARCHAR
                                                                                as severity,
    ('feature=' || coalesce(feature, '(none)'))::VARCHAR                        as segment,
    (format('{:,}', round(escalations)::BIGINT) || ' escalations to a higher tier per ' || format('{:,}', round(firsts)::BIGINT) || ' first attempts in the last week ('
        || round(100 * rate, 2) || '%'
        || case when moved > 0 then ', ' || format('{:,}', round(moved)::BIGINT) || ' of them the same session or trace moving up within '
                || $within_minutes::BIGINT || ' minutes' else '' end
        || ') vs a median daily ' || round(100 * base_rate, 2) || '% over the '
        || n_days || ' days before; ' || format('{:,}', round(excess)::BIGINT) || ' more than baseline')::VARCHAR as evidence,
    rate::DOUBLE                                                                as observed,
    base_rate::DOUBLE                                                           as baseline,
    round(firsts)::BIGINT                                                       as requests,
    impact::DECIMAL(18,6)                                                       as weekly_impact_usd,
    ('look at why ' || coalesce(feature, '(none)') || ' answers on the cheaper tier started failing (errors, '
        || 'low scores, prompt change); if it lasts, route it to the higher tier directly')::VARCHAR as suggestion
from found
where rate > base_rate * (1 + $min_rise::DOUBLE)
  and rate > base_rate + $mad_k::DOUBLE * 1.4826 * mad
  and excess >= $min_excess::BIGINT
  and impact >= greatest($min_impact_usd::DECIMAL(18,2), $min_spend_share::DOUBLE * (select weekly_spend from spend))
order by impact desc
