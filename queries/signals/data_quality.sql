-- data_quality: unpriced traffic and ingest rejects, so no one trusts a partial bill.
-- engines: duckdb, spark
-- rank: 7
-- period: own
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   high_unpriced_share DOUBLE = 0.01      an unpriced share of requests from which the finding is high
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (unpriced share of requests; rejected records)
--   baseline DOUBLE                       what it is compared with (0: every request should be priced and read)
--   requests BIGINT                       requests (or rejected records) in the segment
--   weekly_impact_usd DECIMAL(18,6)       NULL: the cost of unpriced traffic is unknown, never $0
--   suggestion VARCHAR                    the suggested change
--
-- One unpriced finding per model and reason, over the days it happened (first to last, and how many):
-- a model used before its first price is one finding with its day range, not one per day. Days are
-- in the time zone tz (UTC by default).
-- `period: own`: it judges the period asked about, not a trend, so the report runs it on its own
-- period rather than on the detectors' look-back (costlab/signals/detectors.py).
-- Rejects carry no request time, so every reject of an ingest run that started before the window's
-- end is reported, per file, until the store is rebuilt without them.
with total as (
    select round(coalesce(sum(sample_weight), 0))::BIGINT as n from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
unpriced as (
    -- the reason without its day ('no price for M in force at 2026-09-28'): the days are the range
    select model, regexp_replace(unpriced_reason, ' in force at \d{4}-\d{2}-\d{2}$', ' in force then') as reason,
           round(sum(sample_weight))::BIGINT as requests,
           sum(prompt_tokens * sample_weight) as prompt_tokens,
           sum(coalesce(output_tokens, 0) * sample_weight) as output_tokens,
           timezone($tz::VARCHAR, min(ts))::DATE as first_day, timezone($tz::VARCHAR, max(ts))::DATE as last_day,
           count(distinct case when $tz::VARCHAR = 'UTC' then ts::DATE else timezone($tz::VARCHAR, ts)::DATE end) as days
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ and not priced
    group by all
),
rejected as (
    select r.file, count(*) as records, any_value(r.reason) as example, min(r.line) as first_line
    from rejects r left join ingests i on i.ingest_id = r.ingest_id
    where i.started_at is null or i.started_at < $until::TIMESTAMPTZ
    group by r.file
)
select
    'unpriced'::VARCHAR                                                         as signal,
    (case when requests >= $high_unpriced_share::DOUBLE * (select n from total) then 'high' else 'medium' end)::VARCHAR
                                                                                as severity,
    ('model=' || coalesce(model, '(none)'))::VARCHAR                            as segment,
    (format('{:,}', requests) || ' of ' || format('{:,}', (select n from total)) || ' requests '
        || case when first_day = last_day then 'on ' || strftime(first_day, '%Y-%m-%d')
                else 'on ' || days || ' days from ' || strftime(first_day, '%Y-%m-%d') || ' to ' || strftime(last_day, '%Y-%m-%d') end
        || ' have no price (' || reason || '): '
        || format('{:,}', prompt_tokens::BIGINT) || ' prompt and ' || format('{:,}', output_tokens::BIGINT) || ' output tokens of unknown cost')::VARCHAR
                                                                                as evidence,
    (requests / (select n from total))::DOUBLE                                  as observed,
    0::DOUBLE                                                                   as baseline,
    requests::BIGINT                                                            as requests,
    null::DECIMAL(18,6)                                                         as weekly_impact_usd,
    ('add a price for ' || coalesce(model, 'the model') || ' in costlab.toml ([[models]] and [[prices]]) or '
        || 'run `costlab prices import`; `costlab prices check` lists them')::VARCHAR as suggestion
from unpriced
union all
select
    'ingest_rejects'::VARCHAR, 'medium'::VARCHAR, ('file=' || file)::VARCHAR,
    (format('{:,}', records) || ' records refused, first at line ' || first_line || ': ' || example)::VARCHAR,
    records::DOUBLE, 0::DOUBLE, records::BIGINT, null::DECIMAL(18,6),
    ('fix the records and re-ingest the file; `costlab sql "select * from rejects where file = ''' || replace(file, '''', '''''')
        || '''"` lists them')::VARCHAR
from rejected
order by 2, 7 desc
