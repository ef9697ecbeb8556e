-- over_modeling: downgrade candidates: traffic on a tier whose shape (short outputs, short bounded prompts, no tool use) says the next cheaper tier suffices, and what moving it would save.
-- engines: duckdb, spark
-- rank: 1
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   tier_models VARCHAR = NULL             'haiku=claude-haiku-5-5,sonnet=...' ([tiers]); NULL: newest active model per tier
--   max_output_p90 BIGINT = 200            the segment's 90th-percentile output tokens must be at most this
--   max_prompt_p90 BIGINT = 8000           and its 90th-percentile prompt tokens at most this
--   max_tool_share DOUBLE = 0.02           and at most this share of its answers may stop for tool use
--   max_quality_drop DOUBLE = 0.05         when the cheaper tier serves the feature too, its mean feedback may be at most this much lower
--   min_feedback BIGINT = 30               scored requests needed on each tier before feedback counts as evidence
--   min_replays BIGINT = 30                judged replays of the feature on the cheaper tier before they count as evidence
--   min_replay_pass DOUBLE = 0.9           and the share of them that must be satisfactory, or the downgrade is not suggested
--   min_requests BIGINT = 200              requests a segment needs before a finding
--   min_impact_usd DECIMAL(18,2) = 25      weekly saving below this is not reported
--   min_spend_share DOUBLE = 0.005         nor below this share of the weekly spend
--   medium_usd DECIMAL(18,2) = 100         weekly impact from which a finding is medium
--   high_usd DECIMAL(18,2) = 1000          weekly impact from which a finding is high
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: p90 output tokens)
--   baseline DOUBLE                       what it is compared with (here: max_output_p90)
--   requests BIGINT                       requests in the segment over the window
--   weekly_impact_usd DECIMAL(18,6)       estimated dollars per week (here: the saving)
--   suggestion VARCHAR                    the suggested change
--
-- The saving re-prices every priced request of the segment at the cheaper tier's model with the
-- same tokens, platform, service tier, geography and time (its price_card row), so it is exact
-- for the same token counts; a cheaper model may write more or fewer tokens in practice.
--
-- Replays (`costlab replay`, `costlab replay import`) measure the cheaper tier on the feature's own
-- requests: a replayed answer is satisfactory when every judgement of it is good (checks, the
-- pairwise judge against the original answer, a rubric; for imports the recorded outcome). Its
-- feature is the logged request's, or for imports the sample's stratum, as in replay results. With
-- at least min_replays judged on the cheaper tier, a pass rate below min_replay_pass drops the
-- finding, and a pass rate at or above it is shown as the evidence (with its Wilson 95% interval).
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
weeks as (select greatest(epoch(until - since) / 604800.0, 1.0 / 7) as weeks from win),
-- tiers cheapest first, with the model that stands for each (macros.sql)
tier_rank as (select tier, model, rnk from costlab_tier_ladder($tier_models::VARCHAR)),
down as (
    select a.tier, b.tier as to_tier, b.model as to_model
    from tier_rank a join tier_rank b on b.rnk = a.rnk - 1
),
-- one pass over every request: the shape of each feature x model, its feedback and its cost
segments as (
    select feature, model, tier, count(*) as logged, round(sum(sample_weight))::BIGINT as requests,
           -- p90 <= limit exactly when at most 10% of the answers exceed the limit: a count, not a sort
           -- (weighted: the share of the requests the rows stand for)
           sum(sample_weight * (output_tokens > $max_output_p90::BIGINT)::INTEGER) filter (where status = 'ok')
               / nullif(sum(sample_weight) filter (where status = 'ok'), 0) as long_out,
           sum(sample_weight * (prompt_tokens > $max_prompt_p90::BIGINT)::INTEGER) filter (where status = 'ok')
               / nullif(sum(sample_weight) filter (where status = 'ok'), 0) as long_prompt,
           coalesce(sum(sample_weight * (stop_reason = 'tool_use')::INTEGER) filter (where status = 'ok')
               / nullif(sum(sample_weight) filter (where status = 'ok'), 0), 0) as tool_share,
           sum(feedback_score) as fb_sum, count(feedback_score) as fb_n,
           sum(cost_usd * sample_weight) filter (where priced) as cost
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
    group by feature, model, tier
),
-- the week's spend from the same pass (a sum of the segments' exact sums)
spend as (select coalesce(sum(cost), 0) / (select weeks from weeks) as weekly_spend from segments),
tier_feedback as (
    select feature, tier, sum(fb_sum) / nullif(sum(fb_n), 0) as fb, sum(fb_n) as fb_n
    from segments group by feature, tier
),
-- replayed answers per feature and tier: judged, and satisfactory by every judgement
replayed as (
    select coalesce(r.feature, s.stratum) as feature, j.tier, count(*) as judged, count(*) filter (where j.ok) as good
    from (select run, source, request_id, tier, bool_and(good) as ok
          from judgements where good is not null group by all) j
    join replays x on x.run = j.run and x.source = j.source and x.request_id = j.request_id and x.tier = j.tier
    left join replay_sample s on s.run = j.run and s.source = j.source and s.request_id = j.request_id
    left join requests r on r.source = j.source and r.request_id = j.request_id
    where x.status = 'ok' and not exists (select 1 from replay_runs_ignored i where i.run = j.run)  -- test, excluded runs
    group by all
),
candidates as (
    select s.feature, s.model, s.tier, d.to_tier, d.to_model, s.requests, s.tool_share,
           s.fb_sum / nullif(s.fb_n, 0) as fb, s.fb_n, lower_fb.fb as to_fb, lower_fb.fb_n as to_fb_n,
           coalesce(rp.judged, 0) as replays, rp.good as replays_good
    from segments s
    join down d on d.tier = s.tier
    left join tier_feedback lower_fb on lower_fb.feature is not distinct from s.feature and lower_fb.tier = d.to_tier
    left join replayed rp on rp.feature = s.feature and rp.tier = d.to_tier
    where s.logged >= $min_requests::BIGINT and s.long_out <= 0.1 and s.long_prompt <= 0.1
      and s.tool_share <= $max_tool_share::DOUBLE
      and not (coalesce(s.fb_n, 0) >= $min_feedback::BIGINT and coalesce(lower_fb.fb_n, 0) >= $min_feedback::BIGINT
               and lower_fb.fb < s.fb_sum / s.fb_n - $max_quality_drop::DOUBLE)
      and not (coalesce(rp.judged, 0) >= $min_replays::BIGINT and rp.good / rp.judged < $min_replay_pass::DOUBLE)
),
w as not materialized (
    select r.*, k.to_model
    from costed_requests r
    join candidates k on k.feature is not distinct from r.feature and k.model = r.model
    where r.ts >= $since::TIMESTAMPTZ and r.ts < $until::TIMESTAMPTZ
      and r.model in (select model from candidates)  -- implied by the join; filters the rows before the price join
),
repriced as (
    select w.feature, w.model,
           quantile_cont(w.output_tokens, 0.9) filter (where w.status = 'ok') as out_p90,
           quantile_cont(w.prompt_tokens, 0.9) filter (where w.status = 'ok') as prompt_p90,
           sum(w.cost_usd * w.sample_weight) as cost_now,
           sum(w.sample_weight * costlab_card_cost_usd(w.input_tokens, w.output_tokens, w.cache_write_5m_tokens,
                                     w.cache_write_1h_tokens, w.cache_read_tokens, w.web_search_requests,
                                     c.input_fusd, c.output_fusd, c.cache_write_5m_fusd, c.cache_write_1h_fusd,
                                     c.cache_read_fusd, c.web_search_fusd)) as cost_then
    from w
    join price_card c
      on c.model = w.to_model and c.speed = 'standard'
     and c.platform = coalesce(w.platform, 'anthropic')
     and c.service_tier = coalesce(w.service_tier, 'standard')
     and c.geo_class = costlab_geo_class(w.platform, w.inference_geo)
     and w.ts >= c.seg_from and (c.seg_to is null or w.ts < c.seg_to)
     and w.prompt_tokens >= c.band_min_tokens and (c.band_max_tokens is null or w.prompt_tokens < c.band_max_tokens)
    where w.priced
    group by w.feature, w.model
),
findings as (
    select k.*, r.out_p90, r.prompt_p90, (r.cost_now - r.cost_then) / (select weeks from weeks) as weekly,
           k.replays >= $min_replays::BIGINT as replay_held,
           -- Wilson 95% interval of the replay pass rate
           k.replays_good / nullif(k.replays, 0) as rp,
           1.959963984540054 as z
    from candidates k
    join repriced r on r.feature is not distinct from k.feature and r.model = k.model
)
select
    'over_modeling'::VARCHAR                                                    as signal,
    (case when weekly >= $high_usd::DECIMAL(18,2) then 'high' when weekly >= $medium_usd::DECIMAL(18,2) then 'medium' else 'low' end)::VARCHAR
                                                                                as severity,
    ('feature=' || coalesce(feature, '(none)') || ' model=' || model || ' tier=' || tier)::VARCHAR as segment,
    ('p90 output ' || round(out_p90)::BIGINT || ' tokens (limit ' || $max_output_p90::BIGINT || '), p90 prompt '
        || format('{:,}', round(prompt_p90)::BIGINT) || ' tokens, ' || round(100 * tool_share, 1) || '% tool use over '
        || format('{:,}', requests) || ' requests'
        || case when to_fb_n >= $min_feedback::BIGINT and fb_n >= $min_feedback::BIGINT
                then '; feedback ' || round(fb, 2) || ' here vs ' || round(to_fb, 2) || ' on ' || to_tier
                when not replay_held then '; no feedback to compare' else '' end
        || case when replay_held
                then '; replayed on ' || to_tier || ': ' || format('{:,}', replays_good) || ' of ' || format('{:,}', replays)
                     || ' answers satisfactory (' || round(100 * rp, 1) || '%, 95% interval '
                     || round(100 * greatest(0.0, (rp + z * z / (2 * replays) - z * sqrt(rp * (1 - rp) / replays + z * z / (4 * replays * replays))) / (1 + z * z / replays)), 1)
                     || '-' || round(100 * least(1.0, (rp + z * z / (2 * replays) + z * sqrt(rp * (1 - rp) / replays + z * z / (4 * replays * replays))) / (1 + z * z / replays)), 1)
                     || '%)'
                when replays > 0 then '; only ' || replays || ' judged replays on ' || to_tier || ' (' || $min_replays::BIGINT
                     || ' needed): replay more before moving'
                else '; replay a sample on ' || to_tier || ' before moving' end)::VARCHAR
                                                                                as evidence,
    out_p90::DOUBLE                                                             as observed,
    $max_output_p90::DOUBLE                                                     as baseline,
    requests::BIGINT                                                            as requests,
    weekly::DECIMAL(18,6)                                                       as weekly_impact_usd,
    ('route ' || coalesce(feature, '(none)') || ' from ' || model || ' to ' || to_model || ' (' || to_tier || ')'
        || case when replay_held then ': the replays on ' || to_tier || ' held'
                else '; check quality with `costlab replay` on a sample first' end)::VARCHAR as suggestion
from findings
where weekly >= greatest($min_impact_usd::DECIMAL(18,2), $min_spend_share::DOUBLE * (select weekly_spend from spend))
order by weekly desc
