-- whatif_segments: the what-if pass reduced to per-day totals per tier, in one GROUP BY (no per-request arrays).
-- params: those of whatif/reduce.sql (since, until, tier_names, tier_models, tokenizer_factor, warmup_minutes,
--   default_output_ratio, min_ratio_requests); the rows come from that query.
-- returns: one row per (day, status, qbits, shown, nullbits):
--   day INTEGER                           UTC day, days since 1970-01-01
--   status VARCHAR                        kept (priced on every tier), unpriced (no price in force), excluded (a tier cannot price it)
--   qbits INTEGER                         bit k-1 set: the request's quality on tier k is known
--   shown INTEGER                         1-based tier under --split current: the first tier whose model it ran on, else its tier line's; NULL neither
--   nullbits INTEGER                      bit k-1 set: no price on tier k (excluded rows only)
--   n BIGINT                              requests
--   n_off BIGINT                          requests on no tier model (they keep their logged cost under --split current)
--   off_actual_nusd BIGINT                their logged cost
--   actual_nusd BIGINT                    logged cost
--   current_nusd BIGINT                   cost with every request where it ran: its cost on its own tier, else its logged cost
--   q_own_sum DOUBLE                      quality on its own tier, summed where known
--   q_own_n BIGINT                        requests whose quality on their own tier is known
--   then per tier k (suffix _t1, _t2, ...; sums over the group):
--   cost_t1 BIGINT
--   warmup_t1 BIGINT
--   crd_t1 BIGINT
--   cwd_t1 BIGINT
--   quality_t1 DOUBLE                     sum of known quality on the tier (NULL when qmask says unknown)
--
-- For the proportional policy a split's expected cost is linear in per-tier totals, and the day-block
-- bootstrap resamples whole days, so these few hundred rows give the same point and intervals as the
-- per-request arrays (tests/test_whatif_segments.py). Money sums are exact BIGINT nano-dollars.
with
classified as (
    select *,
        case when not priced then 'unpriced' when nullbits <> 0 then 'excluded' else 'kept' end as status
    from (
        /*rows*/ select 0::INTEGER as day, null::VARCHAR as cur_tier, false as priced, 0::BIGINT as actual_nusd,
               0::BIGINT as cost_t1, 0::BIGINT as warmup_t1, 0::BIGINT as crd_t1, 0::BIGINT as cwd_t1,
               null::DOUBLE as quality_t1, null::INTEGER as own_k, null::BIGINT as own_nusd, null::DOUBLE as q_own,
               0::INTEGER as qbits, 0::INTEGER as nullbits where false /*end*/
    ) r
)
select
    day::INTEGER as day, status::VARCHAR as status, qbits::INTEGER as qbits,
    coalesce(own_k, list_position($tier_names, cur_tier))::INTEGER as shown,
    (case when status = 'excluded' then nullbits end)::INTEGER as nullbits,
    count(*)::BIGINT as n,
    count(*) filter (where own_k is null)::BIGINT as n_off,
    coalesce(sum(actual_nusd) filter (where own_k is null), 0)::BIGINT as off_actual_nusd,
    sum(actual_nusd)::BIGINT as actual_nusd,
    sum(coalesce(own_nusd, case when own_k is null then actual_nusd end))::BIGINT as current_nusd,
    sum(q_own)::DOUBLE as q_own_sum,
    count(q_own)::BIGINT as q_own_n,
    sum(columns('^(cost|warmup|crd|cwd)_t[0-9]+$'))::BIGINT,
    sum(columns('^quality_t[0-9]+$'))::DOUBLE
from classified
group by all
order by all
