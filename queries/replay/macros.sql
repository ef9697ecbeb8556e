-- macros: the replay pricing functions, created as temporary macros when a replay command opens the store.
-- params: none
-- returns: none (creates costlab_platform_usage_cost and costlab_usage_cost)
--
-- costlab_platform_usage_cost(model, platform, geo_class, service_tier, at, input, output, cache_read,
--                             cache_write_5m, cache_write_1h):
-- what a usage of `model` costs on `platform` (anthropic, bedrock, vertex) at `geo_class` (global, us,
-- regional: Bedrock's and Vertex's regional endpoints carry the regional premium) at instant `at`, from
-- the same price_card that prices costed_requests: each part rounded to the nano-dollar, then summed.
-- NULL when no price is in force (unpriced, never $0).
-- costlab_usage_cost(model, service_tier, at, ...): the same on the Claude API, global.
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
