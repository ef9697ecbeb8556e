-- latency_histogram: report/latency.sql's exact percentiles for a window of any size, from counts of values instead of quantile_cont (which holds every value in memory).
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
--   bin_ms DOUBLE = 16               width of the first pass's bins (milliseconds); any width gives the same result
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
--   approximate BOOLEAN              always false: these are exact
--
-- The same requests, groups and definition as report/latency.sql (quantile_cont: at rank
-- rn = (n - 1) x q, with d = rn - floor(rn), lo x (1 - d) + hi x d between the values at 0-based
-- ranks floor(rn) and ceil(rn)), in two passes that only count, so memory does not grow with the
-- window (every aggregate spills) and no log row is sorted:
--   1. requests per (tier, feature, bin of bin_ms) for each measure, summed per tier, per feature
--      and overall: the bin holding each wanted rank, and the rank inside it;
--   2. the rows in those bins only (a small share of the window): requests per exact value, and
--      the value at the rank inside the bin.
-- The ranks and values are exactly quantile_cont's. The last step, lo x (1 - d) + hi x d, is
-- DuckDB's own formula; DuckDB's compiled quantile_cont may fuse its multiply-add, so a percentile
-- between two different values can differ from quantile_cont's in the last binary digit (about
-- 1e-16 relative). The report uses quantile_cont up to [report] exact_percentiles_max measured
-- requests and this past it (docs/report.md, "Large windows").
with measured as not materialized (
    select coalesce(tier, '(unknown)') as tier, coalesce(feature, '(none)') as feature, latency_ms, ttft_ms
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
      and status = 'ok' and coalesce(service_tier, 'standard') <> 'batch'
),
-- pass 1: requests per (tier, feature, bin) of each measure; a missing value is a bin of its own
-- (NULL: counted as a request, not as a value)
cells as (
    select tier, feature, grouping(lat_bin) = 0 as is_latency,
           case when grouping(lat_bin) = 0 then lat_bin else ttft_bin end as b, count(*) as n
    from (select tier, feature, floor(latency_ms / $bin_ms::DOUBLE) as lat_bin, floor(ttft_ms / $bin_ms::DOUBLE) as ttft_bin
          from measured)
    group by grouping sets ((tier, feature, lat_bin), (tier, feature, ttft_bin))
),
rolled as (
    select grouping(tier) = 0 as by_tier, grouping(feature) = 0 as by_feature,
           coalesce(tier, feature, '(all)') as key, is_latency, b, sum(n)::BIGINT as n
    from cells
    group by grouping sets ((tier, is_latency, b), (feature, is_latency, b), (is_latency, b))
),
ranked as (
    select *,
           sum(n) over w_all                                               as measured_n,
           coalesce(sum(n) filter (where b is not null) over w_all, 0)     as n_values,
           sum(n) over (partition by by_tier, by_feature, key, is_latency order by b
                        rows between unbounded preceding and current row)  as running
    from rolled
    window w_all as (partition by by_tier, by_feature, key, is_latency)
),
groups as (
    select distinct by_tier, by_feature, key, is_latency, measured_n, n_values from ranked
),
-- the two ranks around each quantile, 0-based
wanted as (
    select g.*, q.q, (g.n_values - 1)::DOUBLE * q.q as rn
    from groups g, (select unnest([0.5::DOUBLE, 0.95::DOUBLE, 0.99::DOUBLE]) as q) q
    where g.n_values > 0
),
ranks as (
    select by_tier, by_feature, key, is_latency, q, rn, 'lo' as side, floor(rn)::BIGINT as r from wanted
    union all
    select by_tier, by_feature, key, is_latency, q, rn, 'hi' as side, ceil(rn)::BIGINT as r from wanted
),
-- the bin holding each rank (NULL values sort last, past every rank below n_values) and the rank inside it
in_bins as (
    select r.*, k.b, r.r - (k.running - k.n) as k
    from ranks r
    join ranked k
      on k.by_tier = r.by_tier and k.by_feature = r.by_feature and k.key = r.key and k.is_latency = r.is_latency
     and k.running - k.n <= r.r and k.running > r.r
),
needed as (
    select distinct by_tier, by_feature, key, is_latency, b from in_bins
),
-- pass 2: the rows of the needed bins, counted per exact value
found as (
    select n.by_tier, n.by_feature, n.key, n.is_latency, n.b, m.latency_ms as v
    from measured m
    join needed n
      on n.is_latency and n.b = floor(m.latency_ms / $bin_ms::DOUBLE)
     and (not n.by_tier or n.key = m.tier) and (not n.by_feature or n.key = m.feature)
    union all
    select n.by_tier, n.by_feature, n.key, n.is_latency, n.b, m.ttft_ms as v
    from measured m
    join needed n
      on not n.is_latency and n.b = floor(m.ttft_ms / $bin_ms::DOUBLE)
     and (not n.by_tier or n.key = m.tier) and (not n.by_feature or n.key = m.feature)
),
value_counts as (
    select by_tier, by_feature, key, is_latency, b, v, count(*) as n
    from found
    group by all
),
values_in_bins as (
    select *, sum(n) over (partition by by_tier, by_feature, key, is_latency, b order by v
                           rows between unbounded preceding and current row) as running
    from value_counts
),
-- the value at each rank: the smallest value whose running count inside its bin passes the rank
picked as (
    select i.by_tier, i.by_feature, i.key, i.is_latency, i.q, i.rn, i.side, min(v.v) as v
    from in_bins i
    join values_in_bins v
      on v.by_tier = i.by_tier and v.by_feature = i.by_feature and v.key = i.key and v.is_latency = i.is_latency
     and v.b = i.b and v.running > i.k
    group by all
),
percentiles as (
    select by_tier, by_feature, key, is_latency, q, rn,
           any_value(v) filter (where side = 'lo') as lo, any_value(v) filter (where side = 'hi') as hi
    from picked
    group by all
),
interpolated as (
    select by_tier, by_feature, key, is_latency, q,
           case when floor(rn) = ceil(rn) or lo = hi then lo
                else lo * (1.0::DOUBLE - (rn - floor(rn))) + hi * (rn - floor(rn)) end as p
    from percentiles
),
per_group as (
    select g.by_tier, g.by_feature, g.key,
           max(g.measured_n) filter (where g.is_latency)                   as requests,
           max(g.n_values) filter (where not g.is_latency)                 as with_ttft,
           max(p.p) filter (where g.is_latency and p.q = 0.5)              as p50_latency_ms,
           max(p.p) filter (where g.is_latency and p.q = 0.95)             as p95_latency_ms,
           max(p.p) filter (where g.is_latency and p.q = 0.99)             as p99_latency_ms,
           max(p.p) filter (where not g.is_latency and p.q = 0.5)          as p50_ttft_ms,
           max(p.p) filter (where not g.is_latency and p.q = 0.95)         as p95_ttft_ms,
           max(p.p) filter (where not g.is_latency and p.q = 0.99)         as p99_ttft_ms
    from groups g
    left join interpolated p
      on p.by_tier = g.by_tier and p.by_feature = g.by_feature and p.key = g.key and p.is_latency = g.is_latency
    group by g.by_tier, g.by_feature, g.key
)
select
    (case when by_tier then 'tier' when by_feature then 'feature' else 'all' end)::VARCHAR as dimension,
    key::VARCHAR                                                           as key,
    requests::BIGINT                                                       as requests,
    with_ttft::BIGINT                                                      as with_ttft,
    p50_latency_ms::DOUBLE                                                 as p50_latency_ms,
    p95_latency_ms::DOUBLE                                                 as p95_latency_ms,
    p99_latency_ms::DOUBLE                                                 as p99_latency_ms,
    p50_ttft_ms::DOUBLE                                                    as p50_ttft_ms,
    p95_ttft_ms::DOUBLE                                                    as p95_ttft_ms,
    p99_ttft_ms::DOUBLE                                                    as p99_ttft_ms,
    false                                                                  as approximate
from per_group
order by case dimension when 'all' then 0 when 'tier' then 1 else 2 end, requests desc, key
