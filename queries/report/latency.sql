-- latency: p50/p95/p99 total latency and time to first token per tier and per feature, over ok requests not sent through batch.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
--   approx BOOLEAN = false           approximate percentiles (DuckDB's approx_quantile) instead of exact ones
-- returns:
--   dimension VARCHAR                'tier', 'feature' or 'all'
--   key VARCHAR                      the tier or feature ('(unknown)' / '(none)' when missing; '(all)' for everything)
--   requests BIGINT                  ok, non-batch requests measured
--   with_ttft BIGINT                 of those, the ones whose log carried a time to first token
--   p50_latency_ms DOUBLE            median total latency
--   p95_latency_ms DOUBLE            95th percentile total latency
--   p99_latency_ms DOUBLE            99th percentile total latency
--   p50_ttft_ms DOUBLE               median time to first token
--   p95_ttft_ms DOUBLE               95th percentile time to first token
--   p99_ttft_ms DOUBLE               99th percentile time to first token
--   approximate BOOLEAN              true when the percentiles are DuckDB's approx_quantile ($approx)
--
-- Batch requests are left out: their latency is the batch's turnaround, not the model's.
--
-- Exact percentiles (quantile_cont) hold every value of a group in memory, and do not spill: a
-- 100M-request week ran out of a 1.3 GiB limit. With $approx (the report sets it past [report]
-- exact_percentiles_max measured requests: report/latency_measured.sql) they are DuckDB's
-- approx_quantile (a t-digest: a few KB per group, within about 1% of rank at these quantiles), and
-- `approximate` says so; the report says so beside the tables.
with measured as (
    select coalesce(tier, '(unknown)') as tier, coalesce(feature, '(none)') as feature, latency_ms, ttft_ms
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
      and status = 'ok' and coalesce(service_tier, 'standard') <> 'batch'
),
-- One sort per column and group: the three percentiles come from one quantile_cont call. Only one of
-- the two pairs of aggregates gets values: the other sees NULLs only and keeps an empty state.
percentiles as (
    select
        grouping(tier)                                                     as g_tier,
        grouping(feature)                                                  as g_feature,
        tier, feature,
        count(*)                                                           as requests,
        count(ttft_ms)                                                     as with_ttft,
        quantile_cont(case when not $approx::BOOLEAN then latency_ms end, [0.5, 0.95, 0.99]) as lat_exact,
        quantile_cont(case when not $approx::BOOLEAN then ttft_ms end, [0.5, 0.95, 0.99])    as ttft_exact,
        approx_quantile(case when $approx::BOOLEAN then latency_ms end, [0.5, 0.95, 0.99])  as lat_approx,
        approx_quantile(case when $approx::BOOLEAN then ttft_ms end, [0.5, 0.95, 0.99])     as ttft_approx
    from measured
    group by grouping sets ((tier), (feature), ())
)
select
    (case when g_tier = 0 then 'tier' when g_feature = 0 then 'feature' else 'all' end)::VARCHAR as dimension,
    (case when g_tier = 0 then tier when g_feature = 0 then feature else '(all)' end)::VARCHAR  as key,
    requests::BIGINT                                                       as requests,
    with_ttft::BIGINT                                                      as with_ttft,
    lat[1]::DOUBLE                                                         as p50_latency_ms,
    lat[2]::DOUBLE                                                         as p95_latency_ms,
    lat[3]::DOUBLE                                                         as p99_latency_ms,
    ttft[1]::DOUBLE                                                        as p50_ttft_ms,
    ttft[2]::DOUBLE                                                        as p95_ttft_ms,
    ttft[3]::DOUBLE                                                        as p99_ttft_ms,
    $approx::BOOLEAN                                                       as approximate
from (select *, case when $approx::BOOLEAN then lat_approx else lat_exact end as lat,
             case when $approx::BOOLEAN then ttft_approx else ttft_exact end as ttft from percentiles)
order by case dimension when 'all' then 0 when 'tier' then 1 else 2 end, requests desc, key
