-- reconcile: costlab's computed cost and logged tokens against what the provider or a gateway reported,
-- per day x model x service tier. Two bases:
--   admin     the Admin API usage report (tokens) and cost report (USD) in usage_buckets, against the
--             requests on the Claude API (platform anthropic), for the days the reports cover;
--   <source>  a gateway's own cost per request (reported_cost_usd, e.g. LiteLLM spend) against
--             costlab's price of the same rows.
-- A token gap means logs are missing (or duplicated); a cost gap with tokens that agree means a pricing
-- difference (rates, discounts, tier). Rows whose gap exceeds the tolerance are flagged.
-- Sampled logs: on the admin basis the logged side is weighted by sample_weight (a 1-in-1000 sample's
-- rows stand for 1000 requests each), so a sample reconciles against the full usage and cost report;
-- a sampled cell is flagged only when its gap exceeds the tolerance plus 1.96 sampling standard
-- errors (Horvitz-Thompson, Poisson sampling: var = sum((w^2 - w) * y^2); 0 for a complete log).
-- A gateway's reported cost on a sampled row is that row's own: gateway bases compare row to row,
-- unweighted.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   first day, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end, exclusive
--   tolerance DOUBLE = 0.01          relative gap beyond which a row is flagged (0.01 = 1%)
-- returns:
--   day DATE                         the UTC day
--   model VARCHAR                    normalised model id ('(none)' when the report had none)
--   service_tier VARCHAR             standard, batch, priority, ...
--   basis VARCHAR                    admin, or the source whose reported cost is compared
--   requests BIGINT                  logged requests in the cell (admin: weighted by sample_weight, the requests the rows stand for; gateway: rows)
--   logged_rows BIGINT               rows logged in the cell (unweighted; equals requests for a complete log)
--   logged_tokens BIGINT             input + output + cache read + cache write tokens in the logs (admin: weighted)
--   reported_tokens BIGINT           the same sum in the usage report (NULL for gateway bases)
--   token_gap BIGINT                 reported_tokens - logged_tokens
--   token_gap_share DOUBLE           token_gap / reported_tokens, a fraction (0.35 = 35%)
--   computed_usd DECIMAL(18,9)       costlab's price of the logged requests (admin: weighted)
--   reported_usd DECIMAL(18,9)       the cost report's amount, or the gateway's reported cost
--   cost_gap_usd DECIMAL(18,9)       reported_usd - computed_usd
--   cost_gap_share DOUBLE            cost_gap_usd / reported_usd, a fraction (0.2 = 20%)
--   token_se DOUBLE                  sampling standard error of logged_tokens (0 for a complete log and gateway bases)
--   cost_se_usd DOUBLE               sampling standard error of computed_usd (0 for a complete log and gateway bases)
--   unpriced_requests BIGINT         logged requests with no price (their cost is not in computed_usd)
--   flagged BOOLEAN                  a gap beyond the tolerance, or unpriced requests
--   finding VARCHAR                  what the gap most likely means
with logs as (
    select ts::DATE as day, coalesce(model, '(none)') as model, coalesce(service_tier, 'standard') as service_tier,
           coalesce(platform, 'anthropic') as platform, source,
           count(*) as rows_, sum(sample_weight) as requests_w,
           sum(tokens) as tokens, round(sum(tokens * sample_weight))::HUGEINT as tokens_w,
           sum(((sample_weight * sample_weight - sample_weight) * tokens * tokens)::DOUBLE) as tokens_var,
           sum(cost_usd) as computed_usd, sum(cost_usd * sample_weight)::DECIMAL(38,9) as computed_usd_w,
           coalesce(sum(((sample_weight * sample_weight - sample_weight)::DOUBLE * cost_usd::DOUBLE * cost_usd::DOUBLE)), 0)
               as cost_var,
           count(*) filter (where not priced) as unpriced,
           coalesce(sum(sample_weight) filter (where not priced), 0) as unpriced_w,
           sum(reported_cost_usd) as reported_usd,
           count(reported_cost_usd) as with_reported
    from (
        select *, coalesce(input_tokens, 0) + coalesce(output_tokens, 0) + coalesce(cache_read_tokens, 0)
                  + coalesce(cache_write_5m_tokens, 0) + coalesce(cache_write_1h_tokens, 0) as tokens
        from costed_requests
        where ts >= $since and ts < $until
    )
    group by all
),
ub as (
    select starting_at::DATE as day, coalesce(model, '(none)') as model,
           case when service_tier = 'priority_on_demand' then 'priority' else coalesce(service_tier, 'standard') end
               as service_tier,
           report,
           sum(coalesce(uncached_input_tokens, 0) + coalesce(output_tokens, 0) + coalesce(cache_read_input_tokens, 0)
               + coalesce(cache_write_5m_tokens, 0) + coalesce(cache_write_1h_tokens, 0)) as tokens,
           sum(amount_usd) as amount_usd
    from usage_buckets
    where starting_at >= $since and starting_at < $until
    group by all
),
covered as (select distinct day from ub),
cost_days as (select distinct day from ub where report = 'cost'),
usage_days as (select distinct day from ub where report = 'usage'),
admin_logs as (
    select day, model, service_tier, round(sum(requests_w))::HUGEINT as requests, sum(rows_) as logged_rows,
           sum(tokens_w) as tokens, sum(tokens_var) as tokens_var,
           sum(computed_usd_w) as computed_usd, sum(cost_var) as cost_var, round(sum(unpriced_w))::HUGEINT as unpriced
    from logs where platform = 'anthropic' and day in (select day from covered)
    group by all
),
admin as (
    select coalesce(l.day, u.day, c.day) as day, coalesce(l.model, u.model, c.model) as model,
           coalesce(l.service_tier, u.service_tier, c.service_tier) as service_tier, 'admin' as basis,
           coalesce(l.requests, 0) as requests, coalesce(l.logged_rows, 0) as logged_rows,
           coalesce(l.tokens, 0) as logged_tokens, u.tokens as reported_tokens,
           coalesce(l.tokens_var, 0) as tokens_var, coalesce(l.cost_var, 0) as cost_var,
           coalesce(l.computed_usd, 0) as computed_usd, c.amount_usd as reported_usd,
           coalesce(l.unpriced, 0) as unpriced,
           coalesce(l.day, u.day, c.day) in (select day from usage_days) as tokens_covered,
           coalesce(l.day, u.day, c.day) in (select day from cost_days) as cost_covered
    from admin_logs l
    full join (select * from ub where report = 'usage') u using (day, model, service_tier)
    full join (select * from ub where report = 'cost') c using (day, model, service_tier)
),
gateway as (
    select day, model, service_tier, source as basis, sum(rows_) as requests, sum(rows_) as logged_rows,
           sum(tokens) as logged_tokens, NULL::HUGEINT as reported_tokens, 0::DOUBLE as tokens_var, 0::DOUBLE as cost_var, sum(computed_usd) as computed_usd, sum(reported_usd) as reported_usd,
           sum(unpriced) as unpriced, false as tokens_covered, true as cost_covered
    from logs where with_reported > 0
    group by all
),
cells as (select * from admin union all select * from gateway),  -- the same columns in the same order
gaps as (
    select *,
           (reported_tokens - logged_tokens)::BIGINT as token_gap,
           case when reported_tokens <> 0 then (reported_tokens - logged_tokens) / reported_tokens end as token_gap_share,
           (reported_usd - computed_usd)::DECIMAL(18,9) as cost_gap_usd,
           case when reported_usd <> 0 then ((reported_usd - computed_usd) / reported_usd)::DOUBLE end as cost_gap_share,
           sqrt(greatest(tokens_var, 0)) as token_se, sqrt(greatest(cost_var, 0)) as cost_se_usd
    from cells
),
judged as (
    select *,
           coalesce(abs(token_gap) > $tolerance::DOUBLE * abs(reported_tokens) + 1.96 * token_se, false)
               or (reported_tokens is null and tokens_covered and logged_tokens > 0) as token_off,
           coalesce(abs(cost_gap_usd)::DOUBLE > $tolerance::DOUBLE * abs(reported_usd)::DOUBLE + 1.96 * cost_se_usd, false)
               or (reported_usd is null and cost_covered and computed_usd > 0) as cost_off
    from gaps
)
select day, model, service_tier, basis, requests::BIGINT as requests, logged_rows::BIGINT as logged_rows,
       logged_tokens::BIGINT as logged_tokens,
       reported_tokens::BIGINT as reported_tokens, token_gap, token_gap_share,
       computed_usd::DECIMAL(18,9) as computed_usd, reported_usd::DECIMAL(18,9) as reported_usd, cost_gap_usd,
       cost_gap_share, token_se, cost_se_usd, unpriced::BIGINT as unpriced_requests,
       token_off or cost_off or unpriced > 0 as flagged,
       case
           when token_off and reported_tokens is null then 'logged, but not in the usage report'
           when token_off and reported_tokens > logged_tokens then 'token gap: the provider counted more than was logged (missing logs?)'
           when token_off then 'token gap: more was logged than the provider counted (duplicates, or traffic of another organisation?)'
           when cost_off and reported_usd is null then 'no reported cost for priced requests'
           when cost_off then 'cost gap with matching tokens: a pricing difference (rates, discount, tier or geo)'
           when unpriced > 0 then 'unpriced requests: add their prices to costlab.toml'
       end as finding
from judged
order by day, basis, model, service_tier;
