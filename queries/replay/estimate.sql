-- estimate: what replaying a run's sample on each tier should cost, before anything is sent.
-- params:
--   run VARCHAR                      the run
--   service_tier VARCHAR = standard  standard, or batch for --batch
--   margin DOUBLE = 1.2              prompt-token margin for tokenizer differences between models
-- returns:
--   tier VARCHAR                     the tier
--   model VARCHAR                    the model standing for it
--   requests BIGINT                  sampled requests not yet answered on this tier
--   prompt_tokens BIGINT             logged prompt tokens of those requests
--   expected_usd DECIMAL(18,9)       at the logged prompt and output token counts
--   worst_usd DECIMAL(18,9)          at the prompt with the margin and every max_tokens used
--   unpriced BIGINT                  requests whose tier model has no price (estimate unknown)
--
-- Reads the temporary table _replay_tiers (tier, model, model_id, platform, geo_class): priced at the
-- run's platform and geo class (a Bedrock regional endpoint carries the regional premium). The prompt
-- is billed as uncached input (a replay does not reuse the original's cache).
with todo as (
    select s.source, s.request_id, t.tier, t.model, t.platform, t.geo_class,
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
)
select tier::VARCHAR as tier, model::VARCHAR as model, count(*)::BIGINT as requests,
       sum(prompt_tokens)::BIGINT as prompt_tokens,
       coalesce(sum(expected), 0)::DECIMAL(18,9) as expected_usd,
       coalesce(sum(worst), 0)::DECIMAL(18,9) as worst_usd,
       count(*) filter (where expected is null)::BIGINT as unpriced
from priced
group by tier, model
order by tier
