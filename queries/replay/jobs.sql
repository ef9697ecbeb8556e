-- jobs: the (request, tier) pairs of a run still to send, with the body to send and a worst-case cost.
-- params:
--   run VARCHAR                      the run
--   service_tier VARCHAR = standard  standard, or batch for --batch
--   margin DOUBLE = 1.2              prompt-token margin for tokenizer differences between models
-- returns:
--   source VARCHAR                   the request's source
--   request_id VARCHAR               the request's id
--   tier VARCHAR                     the tier to replay it on
--   model VARCHAR                    that tier's model (as priced)
--   model_id VARCHAR                 the id sent on the run's platform (global.anthropic.claude-..., claude-...@date)
--   request_json VARCHAR             the logged request body
--   geo_class VARCHAR                the price card's geo class: the tier's, or us for a Claude API body with
--                                    inference_geo "us" (to a model that takes it)
--   takes_inference_geo BOOLEAN      the model accepts inference_geo (else it is not carried over)
--   worst_usd DECIMAL(18,9)          cost if the prompt is the logged one plus the margin and every max_tokens is used
--
-- Pairs with any row in replays other than not_sent are done (ok, error) or in doubt (sending: a kill
-- during the call; it may have been billed), and are never sent again. Reads temp table _replay_tiers
-- (tier, model, model_id, platform, geo_class): the worst case is priced at the platform's rates and
-- the request's geo class (macros.sql costlab_replay_geo).
with pairs as (
    select s.source, s.request_id, t.tier, t.model, t.model_id, t.platform, p.request_json,
           costlab_replay_geo(t.model, t.platform, t.geo_class, p.request_json) as geo_class,
           ceil(coalesce(r.prompt_tokens, 0) * $margin::DOUBLE)::BIGINT as worst_prompt,
           coalesce(try_cast(json_extract(p.request_json, '$.max_tokens') as BIGINT), r.output_tokens, 0) as max_tokens
    from replay_sample s
    cross join _replay_tiers t
    join payloads p on p.source = s.source and p.request_id = s.request_id and p.request_json is not null
    left join costed_requests r on r.source = s.source and r.request_id = s.request_id
    where s.run = $run
      and not exists (select 1 from replays x where x.run = s.run and x.source = s.source
                      and x.request_id = s.request_id and x.tier = t.tier and x.status <> 'not_sent')
)
select source::VARCHAR as source, request_id::VARCHAR as request_id, tier::VARCHAR as tier,
       model::VARCHAR as model, model_id::VARCHAR as model_id, request_json::VARCHAR as request_json,
       geo_class::VARCHAR as geo_class, costlab_takes_inference_geo(model)::BOOLEAN as takes_inference_geo,
       costlab_platform_usage_cost(model, platform, geo_class, $service_tier, now(), worst_prompt, max_tokens,
                                   0, 0, 0)::DECIMAL(18,9) as worst_usd
from pairs
order by source, request_id, tier
