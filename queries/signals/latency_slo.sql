-- latency_slo: features whose p95 latency or time to first token on a tier is over the feature's SLO (configured), and which tier meets it.
-- engines: duckdb, spark
-- rank: 12
-- needs: latency_slo_ms or ttft_slo_ms
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   latency_slo_ms VARCHAR = NULL          'feature=ms,...': p95 total latency each feature must meet ([signals.latency_slo_ms])
--   ttft_slo_ms VARCHAR = NULL             'feature=ms,...': p95 time to first token each feature must meet ([signals.ttft_slo_ms])
--   min_requests BIGINT = 200              answered requests a feature x tier needs before a finding
--   high_ratio DOUBLE = 1.5                a p95 this many times the SLO makes the finding high
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: the p95 in ms)
--   baseline DOUBLE                       what it is compared with (the SLO in ms)
--   requests BIGINT                       answered requests of the feature on the tier
--   weekly_impact_usd DECIMAL(18,6)       NULL: a latency finding, not a dollar one
--   suggestion VARCHAR                    the suggested change
--
-- Only answered (ok), non-batch requests count; the p95 is over the window.
with slo as (
    select trim(split_part(x, '=', 1)) as feature, 'latency' as metric, trim(split_part(x, '=', 2))::DOUBLE as ms
    from unnest(string_split(coalesce($latency_slo_ms::VARCHAR, ''), ',')) t(x) where x like '%=%'
    union all
    select trim(split_part(x, '=', 1)), 'time to first token', trim(split_part(x, '=', 2))::DOUBLE
    from unnest(string_split(coalesce($ttft_slo_ms::VARCHAR, ''), ',')) t(x) where x like '%=%'
),
p95 as (
    select feature, tier, count(*) as logged, round(sum(sample_weight))::BIGINT as requests,
           quantile_cont(latency_ms, 0.95) as latency, quantile_cont(ttft_ms, 0.95) as ttft
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ and status = 'ok'
      and coalesce(service_tier, 'standard') <> 'batch' and tier is not null
      and feature in (select feature from slo)
    group by feature, tier
),
measured as (
    select p.feature, p.tier, p.logged, p.requests, s.metric, s.ms as slo,
           case when s.metric = 'latency' then p.latency else p.ttft end as p95
    from p95 p join slo s on s.feature = p.feature
),
meeting as (
    select feature, metric, string_agg(tier, ', ' order by p95) as tiers
    from measured where p95 <= slo and logged >= $min_requests::BIGINT group by feature, metric
)
select
    'latency_slo'::VARCHAR                                                      as signal,
    (case when m.p95 >= $high_ratio::DOUBLE * m.slo then 'high' else 'medium' end)::VARCHAR as severity,
    ('feature=' || m.feature || ' tier=' || m.tier)::VARCHAR                    as segment,
    ('p95 ' || m.metric || ' ' || format('{:,}', round(m.p95)::BIGINT) || ' ms over '
        || format('{:,}', m.requests) || ' answers vs an SLO of ' || format('{:,}', round(m.slo)::BIGINT) || ' ms; '
        || coalesce('met on ' || g.tiers, 'no tier observed for this feature meets it'))::VARCHAR as evidence,
    m.p95::DOUBLE                                                               as observed,
    m.slo::DOUBLE                                                               as baseline,
    m.requests::BIGINT                                                          as requests,
    null::DECIMAL(18,6)                                                         as weekly_impact_usd,
    (coalesce('route ' || m.feature || ' to ' || g.tiers || ' (check quality with `costlab replay`), or stream the answer',
              'stream the answer, shorten the prompt or the output, or revisit the SLO'))::VARCHAR as suggestion
from measured m left join meeting g on g.feature = m.feature and g.metric = m.metric
where m.logged >= $min_requests::BIGINT and m.p95 > m.slo
order by m.p95 / m.slo desc
