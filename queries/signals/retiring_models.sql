-- retiring_models: traffic still sent to deprecated, retired or soon-retiring models (from the models catalogue), with the date and the replacement.
-- engines: duckdb, spark
-- rank: 6
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   horizon_days BIGINT = 90               a retirement date this many days after the window's end or sooner counts
--   urgent_days BIGINT = 30                a retirement this close (or already past) makes the finding high
--   min_requests BIGINT = 1                requests a model needs before a finding
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: days from the window's end to retirement)
--   baseline DOUBLE                       what it is compared with (here: horizon_days)
--   requests BIGINT                       requests in the segment over the window
--   weekly_impact_usd DECIMAL(18,6)       estimated dollars per week (here: the weekly spend that has to move)
--   suggestion VARCHAR                    the suggested change
--
-- Any traffic on a retiring model is a finding, however small: when the date passes, the requests
-- fail. Severity is by date, not by dollars.
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
weeks as (select greatest(epoch(until - since) / 604800.0, 1.0 / 7) as weeks from win),
per_model as (
    select model, round(sum(sample_weight))::BIGINT as requests, sum(cost_usd * sample_weight) filter (where priced) as cost,
           round(coalesce(sum(sample_weight) filter (where not priced), 0))::BIGINT as unpriced, max(ts) as last_seen
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
    group by model
),
retiring as (
    select p.*, m.lifecycle, m.retirement_date, m.replacement, m.tier,
           datediff('day', timezone($tz::VARCHAR, (select until from win))::DATE, m.retirement_date) as days_left
    from per_model p join models m on m.model = p.model
    where p.requests >= $min_requests::BIGINT
      and (m.lifecycle in ('deprecated', 'retired')
           or m.retirement_date <= timezone($tz::VARCHAR, (select until from win))::DATE + $horizon_days::BIGINT::INTEGER)
)
select
    'retiring_models'::VARCHAR                                                  as signal,
    (case when lifecycle = 'retired' or days_left <= $urgent_days::BIGINT then 'high' else 'medium' end)::VARCHAR
                                                                                as severity,
    ('model=' || model || ' tier=' || coalesce(tier, '(unknown)'))::VARCHAR     as segment,
    (format('{:,}', requests) || ' requests, last on ' || strftime(timezone($tz::VARCHAR, last_seen), '%Y-%m-%d') || '; ' || lifecycle
        || coalesce(case when days_left < 0 then ', retired on ' else ', retires on ' end
                    || strftime(retirement_date, '%Y-%m-%d') || ' (' || days_left || ' days after the window)', ', no retirement date yet')
        || case when unpriced > 0 then '; ' || unpriced || ' requests unpriced' else '' end)::VARCHAR
                                                                                as evidence,
    days_left::DOUBLE                                                           as observed,
    $horizon_days::BIGINT::DOUBLE                                               as baseline,
    requests::BIGINT                                                            as requests,
    (coalesce(cost, 0) / (select weeks from weeks))::DECIMAL(18,6)              as weekly_impact_usd,
    ('move this traffic to ' || coalesce(replacement, 'a current model of the ' || coalesce(tier, 'same') || ' tier')
        || coalesce(' before ' || strftime(retirement_date, '%Y-%m-%d'), '') || ', then re-run the signals')::VARCHAR
                                                                                as suggestion
from retiring
order by days_left nulls last, cost desc
