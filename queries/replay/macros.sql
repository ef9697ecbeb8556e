-- macros: the replay pricing function, created as temporary macros when a replay command opens the store.
-- params: none
-- returns: none (creates costlab_usage_cost)
--
-- costlab_usage_cost(model, service_tier, at, input, output, cache_read, cache_write_5m, cache_write_1h):
-- what a usage of `model` costs on the Claude API (global, standard speed) at instant `at`, from the
-- same price_card that prices costed_requests: each part rounded to the nano-dollar, then summed.
-- NULL when no price is in force (unpriced, never $0).
create or replace temp macro costlab_usage_cost(m, stier, at_ts, inp, outp, cr, cw5, cw1h) as (
    select costlab_fusd_to_usd(coalesce(inp, 0)::HUGEINT * c.input_fusd)
         + costlab_fusd_to_usd(coalesce(outp, 0)::HUGEINT * c.output_fusd)
         + costlab_fusd_to_usd(coalesce(cw5, 0)::HUGEINT * c.cache_write_5m_fusd
                               + coalesce(cw1h, 0)::HUGEINT * c.cache_write_1h_fusd)
         + costlab_fusd_to_usd(coalesce(cr, 0)::HUGEINT * c.cache_read_fusd)
    from price_card c
    where c.model = m and c.speed = 'standard' and c.platform = 'anthropic'
      and c.service_tier = stier and c.geo_class = 'global'
      and at_ts >= c.seg_from and (c.seg_to is null or at_ts < c.seg_to)
      and coalesce(inp, 0) + coalesce(cr, 0) + coalesce(cw5, 0) + coalesce(cw1h, 0) >= c.band_min_tokens
      and (c.band_max_tokens is null
           or coalesce(inp, 0) + coalesce(cr, 0) + coalesce(cw5, 0) + coalesce(cw1h, 0) < c.band_max_tokens)
);
