-- under_modeling: upgrade candidates: long prompts on a cheap tier whose answers go wrong (low scores, re-sends, refusals, max_tokens stops) far more often than the baseline, and what moving them up a tier would cost.
-- engines: duckdb, spark
-- rank: 2
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   tier_models VARCHAR = NULL             'haiku=claude-haiku-5-5,sonnet=...' ([tiers]); NULL: newest active model per tier
--   long_prompt_tokens BIGINT = 32000      a prompt this long (input + cache, tokens) is a long or multi-document input
--   low_score DOUBLE = 0.5                 a feedback score below this is a bad answer (thumbs down is 0)
--   min_long_requests BIGINT = 200         answered long requests a segment needs before a finding
--   min_baseline_requests BIGINT = 200     answered requests the baseline needs
--   min_troubles BIGINT = 30               bad long answers needed
--   min_ratio DOUBLE = 2                   the long-prompt trouble rate must be at least this many times the baseline
--   min_z DOUBLE = 3                       and this many standard errors above it (two-proportion z)
--   high_rate DOUBLE = 0.25                a finding is high when at least this share of the long answers went wrong
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: share of the long answers that went wrong)
--   baseline DOUBLE                       what it is compared with (the same share for the baseline)
--   requests BIGINT                       answered long requests of the segment over the window
--   weekly_impact_usd DECIMAL(18,6)       the net weekly saving of the upgrade: re-sends avoided minus the dearer tier (usually negative)
--   suggestion VARCHAR                    the suggested change
--
-- A long answer "went wrong" when it stopped at max_tokens, was a refusal, got a feedback score
-- below low_score, or was re-sent (a later request names it in parent_request_id: a retry or an
-- escalation of an answer that came back). Failed requests (errors) are other detectors' business.
-- The baseline is the same feature and model on the same tier with shorter prompts; when the tier has
-- fewer than min_baseline_requests of those, the feature's long prompts on the next tier up. And
-- when the next tier up serves enough long prompts of the feature, its trouble rate must be at most
-- 1/min_ratio of this one (the upgrade measurably helps there), or there is no finding.
--
-- The dollar figure: a quality finding costs money to fix. It is the weekly re-send spend on these
-- answers (which the upgrade would avoid) minus what the same long requests would cost more on the
-- next tier's model (same tokens, platform, service tier, geography, time and band: its price_card
-- row). Negative means the upgrade costs that much a week net; the evidence gives both parts.
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
weeks as (select greatest(epoch(until - since) / 604800.0, 1.0 / 7) as weeks from win),
-- tiers cheapest first, with the model that stands for each (macros.sql)
tier_rank as (select tier, model, rnk from costlab_tier_ladder($tier_models::VARCHAR)),
up as (
    select a.tier, b.tier as to_tier, b.model as to_model
    from tier_rank a join tier_rank b on b.rnk = a.rnk + 1
),
w as not materialized (
    select * from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
-- one pass over the answers: per feature, model, tier and prompt length, how many went wrong
-- without counting re-sends (those need the join below, on the few requests that were re-sent)
shape as (
    select feature, model, tier, prompt_tokens >= $long_prompt_tokens::BIGINT as long, count(*) as n,
           count(*) filter (where stop_reason in ('max_tokens', 'refusal') or feedback_score < $low_score::DOUBLE) as bad
    from w where status = 'ok' and tier is not null
    group by all
),
-- answers that came back and were re-sent anyway, with what the re-sends cost; joined on the link
-- keys (parent_key = the parent's request_key: integers, not the id strings; costed_requests.sql)
resends as (
    select parent_key, sum(cost_usd * sample_weight) filter (where priced) as cost
    from w where parent_key is not null group by 1
),
resent as (
    select p.feature, p.model, p.tier, p.prompt_tokens >= $long_prompt_tokens::BIGINT as long,
           count(*) filter (where not coalesce(p.stop_reason in ('max_tokens', 'refusal')
                                               or p.feedback_score < $low_score::DOUBLE, false)) as extra_bad,
           sum(r.cost) as resend_cost
    from (select * from w where request_key is not null and status = 'ok') p
    join resends r on r.parent_key = p.request_key
    group by all
),
groups as (
    select s.feature, s.model, s.tier, s.long, s.n, s.bad + coalesce(r.extra_bad, 0) as bad,
           coalesce(r.resend_cost, 0) as resend_cost
    from shape s
    left join resent r on r.feature is not distinct from s.feature and r.model = s.model and r.tier = s.tier and r.long = s.long
),
-- the feature's long prompts on each tier, over its models
tier_long as (
    select feature, tier, sum(n) as n, sum(bad) as bad from groups where long group by all
),
candidates as (
    select g.feature, g.model, g.tier, u.to_tier, u.to_model, g.n, g.bad, g.bad / g.n as rate, g.resend_cost,
           s.n as short_n, s.bad as short_bad, t.n as up_n, t.bad as up_bad,
           case when s.n >= $min_baseline_requests::BIGINT then 'shorter prompts on ' || g.tier
                when t.n >= $min_baseline_requests::BIGINT then 'long prompts on ' || u.to_tier end as base_what,
           case when s.n >= $min_baseline_requests::BIGINT then s.n else t.n end as base_n,
           case when s.n >= $min_baseline_requests::BIGINT then s.bad else t.bad end as base_bad
    from groups g
    join up u on u.tier = g.tier
    left join groups s on s.feature is not distinct from g.feature and s.model = g.model and s.tier = g.tier and not s.long
    left join tier_long t on t.feature is not distinct from g.feature and t.tier = u.to_tier
    where g.long and g.n >= $min_long_requests::BIGINT and g.bad >= $min_troubles::BIGINT
),
tested as (
    select *, base_bad / base_n as base_rate,
           -- two-proportion z with the pooled rate
           (rate - base_bad / base_n)
             / nullif(sqrt(((bad + base_bad) / (n + base_n)) * (1 - (bad + base_bad) / (n + base_n)) * (1.0 / n + 1.0 / base_n)), 0) as z
    from candidates where base_n is not null
),
found as (
    select * from tested
    where rate >= $min_ratio::DOUBLE * base_rate and coalesce(z, 0) >= $min_z::DOUBLE
      and not (coalesce(up_n, 0) >= $min_baseline_requests::BIGINT and rate < $min_ratio::DOUBLE * up_bad / up_n)
),
l as not materialized (
    select r.*, f.to_model
    from w r
    join found f on f.feature is not distinct from r.feature and f.model = r.model
    where r.prompt_tokens >= $long_prompt_tokens::BIGINT and r.status = 'ok'
),
repriced as (
    select l.feature, l.model, sum(l.cost_usd * l.sample_weight) as cost_now,
           sum(l.sample_weight * costlab_card_cost_usd(l.input_tokens, l.output_tokens, l.cache_write_5m_tokens,
                                     l.cache_write_1h_tokens, l.cache_read_tokens, l.web_search_requests,
                                     c.input_fusd, c.output_fusd, c.cache_write_5m_fusd, c.cache_write_1h_fusd,
                                     c.cache_read_fusd, c.web_search_fusd)) as cost_up
    from l
    join price_card c
      on c.model = l.to_model and c.speed = 'standard'
     and c.platform = coalesce(l.platform, 'anthropic')
     and c.service_tier = coalesce(l.service_tier, 'standard')
     and c.geo_class = costlab_geo_class(l.platform, l.inference_geo)
     and l.ts >= c.seg_from and (c.seg_to is null or l.ts < c.seg_to)
     and l.prompt_tokens >= c.band_min_tokens and (c.band_max_tokens is null or l.prompt_tokens < c.band_max_tokens)
    where l.priced
    group by l.feature, l.model
),
priced as (
    select f.*, r.cost_now, r.cost_up,
           f.resend_cost / (select weeks from weeks) as weekly_resends,
           (r.cost_up - r.cost_now) / (select weeks from weeks) as weekly_upgrade
    from found f
    left join repriced r on r.feature is not distinct from f.feature and r.model = f.model
)
select
    'under_modeling'::VARCHAR                                                   as signal,
    (case when rate >= $high_rate::DOUBLE then 'high' else 'medium' end)::VARCHAR as severity,
    ('feature=' || coalesce(feature, '(none)') || ' model=' || model || ' tier=' || tier
        || ' prompt>=' || $long_prompt_tokens::BIGINT)::VARCHAR                 as segment,
    (format('{:,}', bad) || ' of ' || format('{:,}', n) || ' answers to prompts of '
        || format('{:,}', $long_prompt_tokens::BIGINT) || '+ tokens went wrong (' || round(100 * rate, 1)
        || '%: max_tokens stops, refusals, feedback below ' || $low_score::DOUBLE || ' or re-sent) vs '
        || round(100 * base_rate, 1) || '% of ' || format('{:,}', base_n) || ' on ' || base_what
        || case when coalesce(up_n, 0) >= $min_baseline_requests::BIGINT and base_what not like 'long prompts on %'
                then '; ' || round(100 * up_bad / up_n, 1) || '% on ' || to_tier || ' for the same long prompts'
                else '' end
        || '; re-sends cost $' || round(weekly_resends, 2) || ' a week, ' || to_model || ' would cost $'
        || round(coalesce(weekly_upgrade, 0), 2) || ' a week more for these requests')::VARCHAR as evidence,
    rate::DOUBLE                                                                as observed,
    base_rate::DOUBLE                                                           as baseline,
    n::BIGINT                                                                   as requests,
    (weekly_resends - weekly_upgrade)::DECIMAL(18,6)                            as weekly_impact_usd,
    ('route ' || coalesce(feature, '(none)') || ' prompts of ' || format('{:,}', $long_prompt_tokens::BIGINT)
        || '+ tokens from ' || model || ' to ' || to_model || ' (' || to_tier
        || '), keeping shorter ones where they are; confirm with `costlab replay` on a sample of them')::VARCHAR
                                                                                as suggestion
from priced
order by rate desc
