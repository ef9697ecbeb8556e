-- price_card: the resolved, non-overlapping rate card that costed_requests joins.
-- params: none
-- returns: a table price_card with one row per (model, speed, platform, service_tier, geo_class,
--   time segment [seg_from, seg_to), prompt band [band_min_tokens, band_max_tokens)), every multiplier
--   applied, rates as integer femto-dollars (1e-15 USD) per token so request cost is exact integer math;
--   list_*_fusd: the same rates before the negotiated discount (discount = 1: equal).
--
-- Resolution: time breaks at every valid_from/valid_to of a model's prices and of the discounts that
-- apply to it. In each segment the highest priority in force (config > import > built-in) takes the
-- model's whole rate card, bands included: a costlab.toml row without bands replaces the catalogue's
-- long-context band too, instead of leaving prompts above the threshold at the catalogue's rates.
-- Within that priority each band takes its latest valid_from. Rebuilt whenever prices or discounts change.
create or replace table price_card as
with
platforms(platform) as (
    values ('anthropic'), ('bedrock'), ('vertex'), ('foundry'), ('claude_aws'), ('other')
),
tiers(service_tier) as (values ('standard'), ('batch'), ('priority')),
geos(geo_class) as (values ('global'), ('us'), ('regional')),
keys as (
    select distinct p.model, p.speed, pl.platform from prices p cross join platforms pl
),
bounds as (
    select k.model, k.speed, k.platform, p.valid_from as t
    from keys k join prices p on p.model = k.model and p.speed = k.speed
    union
    select k.model, k.speed, k.platform, p.valid_to
    from keys k join prices p on p.model = k.model and p.speed = k.speed
    where p.valid_to is not null
    union
    select k.model, k.speed, k.platform, d.valid_from
    from keys k join price_discounts d on d.model in (k.model, '*') and d.platform in (k.platform, '*')
    union
    select k.model, k.speed, k.platform, d.valid_to
    from keys k join price_discounts d on d.model in (k.model, '*') and d.platform in (k.platform, '*')
    where d.valid_to is not null
),
segments as (
    select model, speed, platform, t as seg_from,
           lead(t) over (partition by model, speed, platform order by t) as seg_to
    from bounds
),
in_force as (
    select s.model, s.speed, s.platform, s.seg_from, s.seg_to, p.band_min_tokens,
           p.input, p.output, p.cache_write_5m, p.cache_write_1h, p.cache_read, p.web_search_per_1k,
           p.batch_factor, p.us_geo_factor, p.regional_factor, p.origin, p.source, p.priority, p.valid_from,
           max(p.priority) over (partition by s.model, s.speed, s.platform, s.seg_from) as top_priority
    from segments s
    join prices p
      on p.model = s.model and p.speed = s.speed
     and p.valid_from <= s.seg_from and (p.valid_to is null or p.valid_to > s.seg_from)
),
candidates as (
    select * exclude (priority, top_priority, valid_from),
           row_number() over (
               partition by model, speed, platform, seg_from, band_min_tokens
               order by valid_from desc) as rank
    from in_force
    where priority = top_priority
),
chosen as (select * exclude (rank) from candidates where rank = 1),
discounts as (
    select c.model, c.speed, c.platform, c.seg_from, c.band_min_tokens, d.factor,
           row_number() over (
               partition by c.model, c.speed, c.platform, c.seg_from, c.band_min_tokens
               order by (d.model <> '*') desc, (d.platform <> '*') desc, d.valid_from desc) as rank
    from chosen c
    join price_discounts d
      on d.model in (c.model, '*') and d.platform in (c.platform, '*')
     and d.valid_from <= c.seg_from and (d.valid_to is null or d.valid_to > c.seg_from)
),
banded as (
    select c.*, coalesce(d.factor, 1)::DECIMAL(18,9) as discount,
           lead(c.band_min_tokens) over (
               partition by c.model, c.speed, c.platform, c.seg_from order by c.band_min_tokens) as band_max_tokens
    from chosen c
    left join (select * from discounts where rank = 1) d
      using (model, speed, platform, seg_from, band_min_tokens)
),
multiplied as (
    select b.*, t.service_tier, g.geo_class,
           cast((case when t.service_tier = 'batch' then b.batch_factor else 1 end)
              * (case g.geo_class when 'us' then coalesce(b.us_geo_factor, 1)
                                  when 'regional' then b.regional_factor else 1 end)
              * b.discount as DECIMAL(18,9)) as multiplier,
           -- The same without the negotiated discount: the list price (gross), for cost_list_usd.
           cast((case when t.service_tier = 'batch' then b.batch_factor else 1 end)
              * (case g.geo_class when 'us' then coalesce(b.us_geo_factor, 1)
                                  when 'regional' then b.regional_factor else 1 end) as DECIMAL(18,9)) as list_multiplier
    from banded b cross join tiers t cross join geos g
)
select
    model, speed, platform, service_tier, geo_class,
    seg_from, seg_to, band_min_tokens, band_max_tokens,
    multiplier, discount, origin, source,
    -- $/MTok is micro-dollars per token; times 1e9 it is femto-dollars per token.
    round(cast(input * multiplier as DECIMAL(38,18)) * 1000000000)::BIGINT as input_fusd,
    round(cast(output * multiplier as DECIMAL(38,18)) * 1000000000)::BIGINT as output_fusd,
    round(cast(coalesce(cache_write_5m, input * 1.25) * multiplier as DECIMAL(38,18)) * 1000000000)::BIGINT as cache_write_5m_fusd,
    round(cast(coalesce(cache_write_1h, input * 2) * multiplier as DECIMAL(38,18)) * 1000000000)::BIGINT as cache_write_1h_fusd,
    round(cast(coalesce(cache_read, input * 0.1) * multiplier as DECIMAL(38,18)) * 1000000000)::BIGINT as cache_read_fusd,
    -- Server-tool fees are per call, untouched by batch or residency factors; discounts still apply.
    round(cast(coalesce(web_search_per_1k, 0) * discount as DECIMAL(38,18)) * 1000000000000)::BIGINT as web_search_fusd,
    -- List rates (before the negotiated discount), rounded the same way; equal to the above where
    -- discount is 1.
    round(cast(input * list_multiplier as DECIMAL(38,18)) * 1000000000)::BIGINT as list_input_fusd,
    round(cast(output * list_multiplier as DECIMAL(38,18)) * 1000000000)::BIGINT as list_output_fusd,
    round(cast(coalesce(cache_write_5m, input * 1.25) * list_multiplier as DECIMAL(38,18)) * 1000000000)::BIGINT as list_cache_write_5m_fusd,
    round(cast(coalesce(cache_write_1h, input * 2) * list_multiplier as DECIMAL(38,18)) * 1000000000)::BIGINT as list_cache_write_1h_fusd,
    round(cast(coalesce(cache_read, input * 0.1) * list_multiplier as DECIMAL(38,18)) * 1000000000)::BIGINT as list_cache_read_fusd,
    round(cast(coalesce(web_search_per_1k, 0) as DECIMAL(38,18)) * 1000000000000)::BIGINT as list_web_search_fusd
from multiplied;
