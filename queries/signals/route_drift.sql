-- route_drift: the traffic a fitted routing policy ([routing] policy) routes has moved away from the traffic it was fitted on: an input's distribution shifted past the refit threshold.
-- engines: duckdb, spark
-- rank: 15
-- needs: route_policy
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive (its last 7 days are "now")
--   route_policy VARCHAR = NULL           the policy file's name ([routing] policy), for the segment and the suggestion
--   route_reference VARCHAR = NULL        the file's reference distributions as JSON, one object a bin (costlab.signals.params.route_params)
--   route_reference_n BIGINT = 0          requests the reference was taken from
--   psi_refit DOUBLE = 0.25               population stability index from which an input has moved enough to refit
--   psi_high DOUBLE = 0.5                 and from which the finding is high
--   min_requests BIGINT = 200             requests in the last 7 days before the distributions are compared
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high or medium; note when there is nothing to compare
--   segment VARCHAR                       policy=FILE input=NAME
--   evidence VARCHAR                      the PSI and the bins that moved most, reference -> now
--   observed DOUBLE                       the PSI
--   baseline DOUBLE                       the refit threshold it crossed
--   requests BIGINT                       requests in the last 7 days
--   weekly_impact_usd DECIMAL(18,6)       NULL: a drift finding, not a dollar one
--   suggestion VARCHAR                    check the policy, replay a fresh sample, refit
--
-- The inputs the logs carry as columns: log prompt tokens (deciles of the fit window), tool use,
-- web search, and the feature names the policy one-hot encodes (the rest "(other)"). Documents and
-- wording cues come from stored bodies and the tier shares from the policy itself: `costlab route
-- check` compares those too (costlab.whatif.routecheck, the same PSI from the same reference; a test
-- checks the two agree). PSI = sum over bins of (now - ref) * ln(now / ref), shares floored at 1e-4.
-- Requests are counted once each (not by sample_weight), as the reference was.
with ref as (
    -- one row per bin (costlab.signals.params.route_params flattens the file's reference); lo is the
    -- edge a value must reach to be in bin k or above, so k = the number of the input's bins with lo <= v
    select r.input, r.k, r.share as e, r.lo, r.hi, r.name, r.match_name, r.is_last, r.is_flag
    from (select unnest(from_json(coalesce($route_reference::VARCHAR, '[]'),
                                  '[{"input":"VARCHAR","k":"BIGINT","share":"DOUBLE","lo":"DOUBLE","hi":"DOUBLE","name":"VARCHAR","match_name":"VARCHAR","is_last":"BOOLEAN","is_flag":"BOOLEAN"}]')) as r)
),
now_rows as (
    select ln(1 + greatest(coalesce(prompt_tokens, 0), 0)::DOUBLE) as log_prompt_tokens,
           coalesce(stop_reason = 'tool_use', false)::DOUBLE as tool_use,
           (coalesce(web_search_requests, 0) > 0)::DOUBLE as web_search,
           coalesce(feature, '') as feature
    from costed_requests
    where ts >= greatest($since::TIMESTAMPTZ, $until::TIMESTAMPTZ - INTERVAL 7 DAY) and ts < $until::TIMESTAMPTZ
),
total as (select count(*) as n from now_rows),
-- each input's distinct values counted first, then placed in their bins
long as (
    select 'log_prompt_tokens' as input, log_prompt_tokens as v, null::VARCHAR as name, count(*) as c
    from now_rows group by log_prompt_tokens
    union all select 'tool_use', tool_use, null, count(*) from now_rows group by tool_use
    union all select 'web_search', web_search, null, count(*) from now_rows group by web_search
    union all select 'feature', null, feature, count(*) from now_rows group by feature
),
counted as (
    select input, k, sum(c) as c
    from (select l.input, count(*) filter (where r.lo <= l.v) as k, l.c
          from long l join ref r on r.input = l.input
          where l.input <> 'feature'
          group by l.input, l.v, l.c
          union all
          -- a feature named in the reference (but the last, "(other)"), else the last bin
          select l.input, coalesce(m.k, o.k) as k, l.c
          from long l join ref o on o.input = l.input and o.is_last
          left join ref m on m.input = l.input and m.match_name = l.name
          where l.input = 'feature') x
    group by input, k
),
compared as (
    select b.input, b.k, b.e, coalesce(c.c, 0)::DOUBLE / greatest(t.n, 1) as a, t.n,
           case when b.input = 'feature' then b.name
                when b.is_flag then b.input || '=' || b.k
                when b.k = 0 then 'prompt <' || format('{:,}', round(exp(b.hi) - 1)::BIGINT) || ' tokens'
                when b.is_last then 'prompt >' || format('{:,}', round(exp(b.lo) - 1)::BIGINT) || ' tokens'
                else 'prompt ' || format('{:,}', round(exp(b.lo) - 1)::BIGINT) || '-'
                     || format('{:,}', round(exp(b.hi) - 1)::BIGINT) || ' tokens' end as label
    from ref b cross join total t
    left join counted c on c.input = b.input and c.k = b.k
),
drift as (
    select input, any_value(n) as n,
           sum((greatest(a, 1e-4) - greatest(e, 1e-4)) * ln(greatest(a, 1e-4) / greatest(e, 1e-4))) as psi,
           string_agg(label || ' ' || format('{:.1f}', 100 * e) || '% -> ' || format('{:.1f}', 100 * a) || '%', '; '
                      order by abs(a - e) desc, k) filter (where moved_rank <= 3) as moved
    from (select *, row_number() over (partition by input order by abs(a - e) desc, k) as moved_rank from compared)
    group by input
)
select 'route_drift'::VARCHAR as signal,
       case when psi >= $psi_high then 'high' else 'medium' end::VARCHAR as severity,
       ('policy=' || $route_policy || ' input=' || input)::VARCHAR as segment,
       ('the last 7 days'' ' || input || ' has moved from the window the policy was fitted on ('
        || format('{:,}', $route_reference_n::BIGINT) || ' requests): PSI ' || format('{:.3f}', psi)
        || ' (refit from ' || $psi_refit || '); moved most: ' || moved)::VARCHAR as evidence,
       psi::DOUBLE as observed, $psi_refit::DOUBLE as baseline, n::BIGINT as requests,
       null::DECIMAL(18,6) as weekly_impact_usd,
       ('the routing policy ' || $route_policy || ' was fitted on other traffic: check it (`costlab route check '
        || $route_policy || '`), replay a fresh sample on every tier and refit (`costlab route fit`)')::VARCHAR as suggestion
from drift
where n >= $min_requests and psi >= $psi_refit
union all
select 'route_drift', 'note', 'policy=' || $route_policy,
       case when (select count(*) from ref) = 0
            then 'the policy file carries no reference distributions (format costlab.route/1)'
            else 'the last 7 days hold ' || (select n from total) || ' requests (fewer than ' || $min_requests || ')' end,
       null, null, (select n from total), null,
       case when (select count(*) from ref) = 0 then 'refit it with `costlab route fit` to check it for drift'
            else 'not judged' end
where (select count(*) from ref) = 0 or (select n from total) < $min_requests
