-- tier_ladder: the table macro costlab_tier_ladder(pairs), shared by the signal detectors.
-- params: none
-- returns: none (creates the table macro costlab_tier_ladder; it reads models and price_card, so
--   the store creates it after the price card)

-- The tier ladder the signal detectors climb: each tier with the model that stands for it and its
-- rank, cheapest first (by the list output price of that model: Claude API, standard, global, first
-- band). `pairs` is [tiers] as 'haiku=claude-haiku-5-5,sonnet=...'; a tier it does not name is the
-- newest active model of that tier in the catalogue. NULL pairs: every tier from the catalogue.
create or replace macro costlab_tier_ladder(pairs) as table
    with named as (
        select trim(split_part(x, '=', 1)) as tier, trim(split_part(x, '=', 2)) as model
        from unnest(string_split(coalesce(pairs::VARCHAR, ''), ',')) t(x)
        where x like '%=%'
    ),
    chosen as (
        select tier, model from named
        union all
        select tier, arg_max(model, released) from models
        where lifecycle = 'active' and tier is not null and tier not in (select tier from named)
        group by tier
    )
    select t.tier, t.model, row_number() over (order by c.output_fusd, t.tier) as rnk
    from chosen t
    join (select model, arg_max(output_fusd, seg_from) as output_fusd from price_card
          where platform = 'anthropic' and service_tier = 'standard' and geo_class = 'global'
            and speed = 'standard' and band_min_tokens = 0
          group by model) c on c.model = t.model;
