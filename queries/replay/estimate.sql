-- estimate: what a run's replays and judge calls should cost, before anything is sent.
-- params:
--   run VARCHAR                      the run
--   service_tier VARCHAR = standard  standard, or batch for --batch (judge calls are always standard)
--   margin DOUBLE = 1.2              prompt-token margin for tokenizer differences between models
--   judge VARCHAR = NULL             the judge tier (NULL: no judge calls)
--   judge_model VARCHAR = NULL       the catalogue model it is priced as
--   judge_platform VARCHAR = anthropic  where the judge runs
--   judge_geo VARCHAR = global       the judge's geo class
--   reference_tier VARCHAR = NULL    the pairwise reference when a request has no logged answer (the run's last tier)
--   rubric_judge BOOLEAN = false     also one rubric call per answer
--   pairwise_chars BIGINT = 0        length of a pairwise call's own text (system prompt and template)
--   rubric_chars BIGINT = 0          length of a rubric call's own text
--   judge_max_tokens BIGINT = 16     the judge's max_tokens (the worst case counts every reply at it)
--   judge_reply_tokens BIGINT = 4    a judge reply's expected length (one word, or SCORE: n)
-- returns:
--   kind VARCHAR                     replay, or judge
--   tier VARCHAR                     the tier; for judge lines the judge (pairwise:TIER, rubric:TIER)
--   model VARCHAR                    the model standing for it
--   requests BIGINT                  sampled requests concerned
--   calls BIGINT                     API calls (replay: one per request; pairwise: two orders per compared
--                                    answer; rubric: one per answer)
--   prompt_tokens BIGINT             expected prompt tokens of those calls
--   expected_usd DECIMAL(18,9)       replay: at the logged prompt and output token counts; judge: at the
--                                    logged prompt plus answers of the logged output length
--   worst_usd DECIMAL(18,9)          with the margin and every max_tokens used (the judged answers too)
--   unpriced BIGINT                  calls whose model has no price (estimate unknown)
--
-- Reads the temporary tables _replay_tiers (tier, model, model_id, platform, geo_class) and
-- _replay_rubrics (feature, rubric; the NULL feature is the default). Replays are priced at the run's
-- platform and each request's geo class (a regional endpoint carries the regional premium, a Claude
-- API body with inference_geo "us" the US-only factor); the prompt is billed as uncached input (a
-- replay does not reuse the original's cache). Judge calls: every answer is assumed to arrive; a pair
-- already judged is not counted, an incomplete pairwise verdict counts its one missing order.
with todo as (
    select s.source, s.request_id, t.tier, t.model, t.platform,
           costlab_replay_geo(t.model, t.platform, t.geo_class, p.request_json) as geo_class,
           coalesce(r.prompt_tokens, 0) as prompt_tokens, coalesce(r.output_tokens, 0) as output_tokens,
           coalesce(try_cast(json_extract(p.request_json, '$.max_tokens') as BIGINT), r.output_tokens, 0) as max_tokens
    from replay_sample s
    cross join _replay_tiers t
    left join costed_requests r on r.source = s.source and r.request_id = s.request_id
    left join payloads p on p.source = s.source and p.request_id = s.request_id
    where s.run = $run
      and not exists (select 1 from replays x where x.run = s.run and x.source = s.source
                      and x.request_id = s.request_id and x.tier = t.tier and x.status <> 'not_sent')
),
priced as (
    select *,
           costlab_platform_usage_cost(model, platform, geo_class, $service_tier, now(), prompt_tokens, output_tokens,
                                       0, 0, 0) as expected,
           costlab_platform_usage_cost(model, platform, geo_class, $service_tier, now(),
                                       ceil(prompt_tokens * $margin::DOUBLE)::BIGINT, max_tokens, 0, 0, 0) as worst
    from todo
),
replay_lines as (
    select 'replay' as kind, tier, model, count(*) as requests, count(*) as calls, sum(prompt_tokens) as prompt_tokens,
           coalesce(sum(expected), 0) as expected_usd, coalesce(sum(worst), 0) as worst_usd,
           count(*) filter (where expected is null) as unpriced
    from priced
    group by tier, model
),
-- Every (request, tier) answer the judge will see: the ones replayed already (their status decides)
-- and the ones still to send (assumed answered).
answers as (
    select s.source, s.request_id, t.tier, q.feature, p.request_json, p.response_text is not null as has_original,
           coalesce(r.prompt_tokens, 0) as prompt_tokens, coalesce(r.output_tokens, 0) as output_tokens,
           coalesce(try_cast(json_extract(p.request_json, '$.max_tokens') as BIGINT), r.output_tokens, 0) as max_tokens
    from replay_sample s
    cross join _replay_tiers t
    join payloads p on p.source = s.source and p.request_id = s.request_id and p.request_json is not null
    left join costed_requests r on r.source = s.source and r.request_id = s.request_id
    left join requests q on q.source = s.source and q.request_id = s.request_id
    where s.run = $run and $judge is not null
      and not exists (select 1 from replays x where x.run = s.run and x.source = s.source
                      and x.request_id = s.request_id and x.tier = t.tier and x.status in ('error', 'sending'))
),
with_rubric as (
    select a.*, coalesce(g.rubric, (select d.rubric from _replay_rubrics d where d.feature is null), '') as rubric
    from answers a left join _replay_rubrics g on g.feature = a.feature
),
judge_calls as (
    -- pairwise: against the logged answer, else the reference tier's (which is not judged against itself)
    select w.*, 'pairwise:' || $judge as judge,
           2 - (j.details->>'incomplete' is not null)::INTEGER as calls,
           costlab_judge_tokens(w.prompt_tokens, w.request_json, w.output_tokens, w.output_tokens,
                                $pairwise_chars + length(w.rubric), 1.0) as expected_tokens,
           costlab_judge_tokens(w.prompt_tokens, w.request_json, w.max_tokens,
                                case when w.has_original then w.output_tokens else w.max_tokens end,
                                $pairwise_chars + length(w.rubric), $margin) as worst_tokens
    from with_rubric w
    left join judgements j on j.run = $run and j.source = w.source and j.request_id = w.request_id
         and j.tier = w.tier and j.judge = 'pairwise:' || $judge
    where (w.has_original or w.tier <> $reference_tier)
      and (j.judge is null or j.details->>'incomplete' is not null)
    union all
    select w.*, 'rubric:' || $judge, 1,
           costlab_judge_tokens(w.prompt_tokens, w.request_json, w.output_tokens, 0, $rubric_chars + length(w.rubric), 1.0),
           costlab_judge_tokens(w.prompt_tokens, w.request_json, w.max_tokens, 0, $rubric_chars + length(w.rubric), $margin)
    from with_rubric w
    where $rubric_judge
      and not exists (select 1 from judgements j where j.run = $run and j.source = w.source and j.request_id = w.request_id
                      and j.tier = w.tier and j.judge = 'rubric:' || $judge)
),
judge_priced as (
    select *,
           calls * costlab_platform_usage_cost($judge_model, $judge_platform, $judge_geo, 'standard', now(),
                                               expected_tokens, $judge_reply_tokens, 0, 0, 0) as expected,
           calls * costlab_platform_usage_cost($judge_model, $judge_platform, $judge_geo, 'standard', now(),
                                               worst_tokens, $judge_max_tokens, 0, 0, 0) as worst
    from judge_calls
),
judge_lines as (
    select 'judge' as kind, judge as tier, $judge_model as model, count(distinct (source, request_id)) as requests,
           sum(calls) as calls, sum(calls * expected_tokens) as prompt_tokens,
           coalesce(sum(expected), 0) as expected_usd, coalesce(sum(worst), 0) as worst_usd,
           count(*) filter (where expected is null) as unpriced
    from judge_priced
    group by judge
)
select kind::VARCHAR as kind, tier::VARCHAR as tier, model::VARCHAR as model, requests::BIGINT as requests,
       calls::BIGINT as calls, prompt_tokens::BIGINT as prompt_tokens, expected_usd::DECIMAL(18,9) as expected_usd,
       worst_usd::DECIMAL(18,9) as worst_usd, unpriced::BIGINT as unpriced
from (select * from replay_lines union all by name select * from judge_lines)
order by kind desc, tier
