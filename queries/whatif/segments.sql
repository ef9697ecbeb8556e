-- whatif_segments: the what-if pass reduced to per-day totals per tier, in one GROUP BY (no per-request arrays).
-- params: those of whatif/reduce.sql (since, until, tier_names, tier_models, tokenizer_factor, warmup_minutes,
--   default_output_ratio, min_ratio_requests); the rows come from that query.
-- returns: one row per (day, status, qmask, shown):
--   day INTEGER                           UTC day, days since 1970-01-01
--   status VARCHAR                        kept (priced on every tier), unpriced (no price in force), excluded (a tier cannot price it)
--   qmask BOOLEAN[]                       per tier: the request's quality on that tier is known
--   shown INTEGER                         1-based tier under --split current: the first tier whose model it ran on, else its tier line's; NULL neither
--   nulls BOOLEAN[]                       per tier: no price on that tier (excluded rows only)
--   n BIGINT                              requests
--   n_off BIGINT                          requests on no tier model (they keep their logged cost under --split current)
--   off_actual_nusd BIGINT                their logged cost
--   actual_nusd BIGINT                    logged cost
--   current_nusd BIGINT                   cost with every request where it ran: its cost on its own tier, else its logged cost
--   current_warmup_nusd BIGINT            the warm-up part of that (0: a request's own tier is warm)
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
rows as (
    select *,
        list_value(*columns('^own_t[0-9]+$')) as owns,
        list_value(*columns('^cost_t[0-9]+$')) as costs,
        list_value(*columns('^warmup_t[0-9]+$')) as warmups,
        list_value(*columns('^quality_t[0-9]+$')) as quals
    from (
        /*rows*/ select 0::INTEGER as day, null::VARCHAR as cur_tier, false as priced, 0::BIGINT as actual_nusd,
               false as own_t1, 0::BIGINT as cost_t1, 0::BIGINT as warmup_t1, 0::BIGINT as crd_t1, 0::BIGINT as cwd_t1,
               null::DOUBLE as quality_t1 where false /*end*/
    ) r
),
classified as (
    select *,
        case when not priced then 'unpriced' when list_count(costs) < len(costs) then 'excluded' else 'kept' end as status,
        list_position(owns, true) as own_pos
    from rows
)
select
    day::INTEGER as day, status::VARCHAR as status,
    list_transform(quals, lambda q: q is not null)::BOOLEAN[] as qmask,
    coalesce(own_pos, list_position($tier_names, cur_tier))::INTEGER as shown,
    (case when status = 'excluded' then list_transform(costs, lambda c: c is null) end)::BOOLEAN[] as nulls,
    count(*)::BIGINT as n,
    count(*) filter (where own_pos is null)::BIGINT as n_off,
    coalesce(sum(actual_nusd) filter (where own_pos is null), 0)::BIGINT as off_actual_nusd,
    sum(actual_nusd)::BIGINT as actual_nusd,
    sum(case when own_pos is null then actual_nusd else costs[own_pos] + warmups[own_pos] end)::BIGINT as current_nusd,
    sum(warmups[own_pos])::BIGINT as current_warmup_nusd,
    sum(quals[own_pos])::DOUBLE as q_own_sum,
    count(quals[own_pos])::BIGINT as q_own_n,
    sum(columns('^(cost|warmup|crd|cwd)_t[0-9]+$'))::BIGINT,
    sum(columns('^quality_t[0-9]+$'))::DOUBLE
from classified
group by all
order by all
