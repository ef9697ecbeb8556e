-- macros: the replay pricing functions, created as temporary macros when a replay command opens the store.
-- params: none
-- returns: none (creates costlab_platform_usage_cost, costlab_usage_cost, costlab_takes_inference_geo and
--          costlab_replay_geo, costlab_judge_tokens)
--
-- costlab_platform_usage_cost(model, platform, geo_class, service_tier, at, input, output, cache_read,
--                             cache_write_5m, cache_write_1h):
-- what a usage of `model` costs on `platform` (anthropic, bedrock, vertex) at `geo_class` (global, us,
-- regional: Bedrock's and Vertex's regional endpoints carry the regional premium) at instant `at`, from
-- the same price_card that prices costed_requests: each part rounded to the nano-dollar, then summed.
-- NULL when no price is in force (unpriced, never $0).
-- costlab_usage_cost(model, service_tier, at, ...): the same on the Claude API, global.
-- costlab_takes_inference_geo(model): the model accepts the Claude API's `inference_geo` (models after
-- 2026-02-01; earlier ones answer 400): a price row of it has a US-only factor.
-- costlab_replay_geo(model, platform, tier_geo, request_json): the geo class a replayed body is priced
-- at: `us` when it goes to the Claude API with inference_geo "us" to a model that takes it (1.1x),
-- else the tier's class (global, or regional for Bedrock/Vertex regional endpoints).
-- costlab_judge_tokens(prompt_tokens, request_json, answer_tokens, reference_tokens, text_chars, margin):
-- the input tokens of one judge call, for the estimate and the budget: the request (its logged prompt
-- tokens, else its body's length), the answers it shows (their output tokens; 0 for a rubric call's
-- absent reference) and the judge's own text (system prompt, template and rubric, `text_chars` long),
-- text counted at 3 characters a token (English runs at about 4), all times the tokenizer margin.
create or replace temp macro costlab_platform_usage_cost(m, plat, geo, stier, at_ts, inp, outp, cr, cw5, cw1h) as (
    select costlab_fusd_to_usd(coalesce(inp, 0)::HUGEINT * c.input_fusd)
         + costlab_fusd_to_usd(coalesce(outp, 0)::HUGEINT * c.output_fusd)
         + costlab_fusd_to_usd(coalesce(cw5, 0)::HUGEINT * c.cache_write_5m_fusd
                               + coalesce(cw1h, 0)::HUGEINT * c.cache_write_1h_fusd)
         + costlab_fusd_to_usd(coalesce(cr, 0)::HUGEINT * c.cache_read_fusd)
    from price_card c
    where c.model = m and c.speed = 'standard' and c.platform = plat
      and c.service_tier = stier and c.geo_class = geo
      and at_ts >= c.seg_from and (c.seg_to is null or at_ts < c.seg_to)
      and coalesce(inp, 0) + coalesce(cr, 0) + coalesce(cw5, 0) + coalesce(cw1h, 0) >= c.band_min_tokens
      and (c.band_max_tokens is null
           or coalesce(inp, 0) + coalesce(cr, 0) + coalesce(cw5, 0) + coalesce(cw1h, 0) < c.band_max_tokens)
);
create or replace temp macro costlab_usage_cost(m, stier, at_ts, inp, outp, cr, cw5, cw1h) as
    costlab_platform_usage_cost(m, 'anthropic', 'global', stier, at_ts, inp, outp, cr, cw5, cw1h);
create or replace temp macro costlab_takes_inference_geo(m) as (
    exists (select 1 from prices p where p.model = m and p.us_geo_factor is not null)
);
create or replace temp macro costlab_replay_geo(m, plat, tier_geo, body) as (
    case when plat = 'anthropic' and json_extract_string(body, '$.inference_geo') = 'us'
              and costlab_takes_inference_geo(m) then 'us'
         else coalesce(tier_geo, 'global') end
);
create or replace temp macro costlab_judge_tokens(pt, body, ans, ref, chars, margin) as (
    ceil((coalesce(nullif(pt, 0), ceil(length(coalesce(body::VARCHAR, '')) / 3)) + coalesce(ans, 0) + coalesce(ref, 0)
          + ceil(coalesce(chars, 0) / 3)) * margin::DOUBLE)::BIGINT
);
