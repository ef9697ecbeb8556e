-- compare_requests: the two cohorts of `costlab compare`, one row per request with what its tests read (per_request), or each cohort's exact totals (totals).
-- params:
--   since TIMESTAMPTZ = 1970-01-01        first instant either cohort holds
--   until TIMESTAMPTZ = 9999-12-31        end of the span both cohorts lie in, exclusive
--   since_a TIMESTAMPTZ = NULL            periods: cohort a starts (inclusive)
--   until_a TIMESTAMPTZ = NULL            periods: cohort a ends (exclusive)
--   since_b TIMESTAMPTZ = NULL            periods: cohort b starts
--   until_b TIMESTAMPTZ = NULL            periods: cohort b ends
--   flag_path VARCHAR = NULL              flag: the metadata key in attributes, as a JSON Pointer ('/KEY')
--   feature VARCHAR = NULL                only this feature
--   satisfactory_score DOUBLE = 0.5       a logged feedback_score at least this is a satisfactory answer
-- returns (per_request: one row per request of either cohort, in no particular order):
--   cohort VARCHAR                        a, b, or both (a row both cohorts claim: costlab refuses the comparison)
--   weight DOUBLE                         sample_weight (how many requests the row stands for)
--   priced BOOLEAN                        a price was in force (an unpriced row's cost is unknown, not 0)
--   cost DOUBLE                           cost_usd as a binary float: for the bootstrap's arithmetic only
--   error BOOLEAN                         status = 'error'
--   error_type VARCHAR                    its error type ('unknown' for an error without one)
--   answered BOOLEAN                      status = 'ok'
--   stop_reason VARCHAR
--   latency_ms DOUBLE                     answered requests only
--   ttft_ms DOUBLE                        answered requests only
--   feedback_score DOUBLE
--   good BOOLEAN                          satisfactory: judged good on its own tier (replay judgements or imports), else feedback_score >= satisfactory_score; NULL: no verdict
--   first_attempt BOOLEAN                 attempt 1 (or not recorded)
--   resent BOOLEAN                        a first attempt that a later request names as its parent (a retry or an escalation)
--   hour BIGINT                           the UTC hour it started in (hours since 1970): rates' variance is clustered by it
-- returns (totals: one row per cohort):
--   cohort VARCHAR                        a, b or both
--   requests DECIMAL(38,6)                weighted requests
--   rows BIGINT                           rows
--   priced_requests DECIMAL(38,6)         weighted requests with a price
--   cost_usd DECIMAL(38,9)                weighted cost of the priced requests, exact
--   unpriced_rows BIGINT                  rows with no price in force
--
-- A Jinja template (costlab.compare renders it; docs/architecture.md): `in_a` and `in_b` are the two
-- cohorts' conditions: periods and the flag are bound parameters; --a, --b and --where are the
-- user's own SQL expressions over costed_requests' columns, each checked to be one expression
-- (costlab.store.sqlquote.expression), as costlab.toml's mappings are. No value from the logs is
-- ever part of the text.
with scoped as (
    select cr.*, coalesce({{ in_a }}, false) as in_a, coalesce({{ in_b }}, false) as in_b
    from costed_requests cr
    where cr.ts >= $since and cr.ts < $until
      and ($feature is null or cr.feature = $feature)
{% if where %}
      and coalesce({{ where }}, false)
{% endif %}
),
cohorts as (
    select *, case when in_a and in_b then 'both' when in_a then 'a' else 'b' end as cohort
    from scoped where in_a or in_b
){% if totals %}

select cohort,
       sum(sample_weight) as requests,
       count(*) as rows,
       coalesce(sum(sample_weight) filter (where priced), 0) as priced_requests,
       coalesce(sum(cost_usd * sample_weight) filter (where priced), 0)::DECIMAL(38,9) as cost_usd,
       count(*) filter (where not priced) as unpriced_rows
from cohorts
group by cohort
{% else %},
{% if judgements %}
judged as (
{% include 'whatif/evidence/judgements.sql' %}
),
{% endif %}
parents as (
    select distinct source, parent_request_id as request_id from requests where parent_request_id is not null
)
select c.cohort,
       c.sample_weight::DOUBLE as weight,
       c.priced,
       c.cost_usd::DOUBLE as cost,
       c.status = 'error' as error,
       case when c.status = 'error' then coalesce(c.error_type, 'unknown') end as error_type,
       c.status = 'ok' as answered,
       c.stop_reason,
       case when c.status = 'ok' then c.latency_ms end as latency_ms,
       case when c.status = 'ok' then c.ttft_ms end as ttft_ms,
       c.feedback_score,
{% if judgements %}
       coalesce(j.good, c.feedback_score >= $satisfactory_score) as good,
{% else %}
       c.feedback_score >= $satisfactory_score as good,
{% endif %}
       coalesce(c.attempt, 1) <= 1 as first_attempt,
       coalesce(c.attempt, 1) <= 1 and p.request_id is not null as resent,
       epoch(date_trunc('hour', c.ts))::BIGINT // 3600 as hour
from cohorts c
left join parents p on p.source = c.source and p.request_id = c.request_id
{% if judgements %}
left join judged j on j.source = c.source and j.request_id = c.request_id and j.tier = c.tier
{% endif %}
{% endif %}
