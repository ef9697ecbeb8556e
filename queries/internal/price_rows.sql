-- price_rows: the table macro costlab_price_rows(t) that prices the rows of a table or view.
-- params: none
-- returns: none (creates the macros costlab_is_price_column and costlab_price_rows; they read
--   price_card, models and prices, so the store creates them after the price card)
--
-- costlab_price_rows('name') returns every column of `name` except the stored price columns of
-- requests (costlab_is_price_column), then the columns costed_requests adds:
--   tier VARCHAR                      the model's tier line (haiku, sonnet, opus, ...) or NULL if unknown
--   prompt_tokens BIGINT              input + cache reads + cache writes (what bands are judged on)
--   priced BOOLEAN                    false when no price was in force: the cost is unknown, not zero
--   unpriced_reason VARCHAR           why, when priced is false
--   cost_input_usd DECIMAL(18,9)      uncached input
--   cost_output_usd DECIMAL(18,9)     output (thinking included)
--   cost_cache_write_usd DECIMAL(18,9) 5-minute and 1-hour cache writes
--   cost_cache_read_usd DECIMAL(18,9) cache reads
--   cost_tools_usd DECIMAL(18,9)      server-tool fees (web search)
--   cost_usd DECIMAL(18,9)            the sum of the five parts above
--   price_multiplier DECIMAL(18,9)    batch x residency x regional x discount applied to the rates
--   cost_list_usd DECIMAL(18,9)       cost_usd at list price: the same without the negotiated discount
--
-- costlab_store_rows('name') is what a writer appends to requests: costlab_price_rows' columns but
-- prompt_tokens, the price version and the link keys (request_key, parent_key). Ingest, the generator
-- and re-pricing all append through it.
--
-- This is the one definition of a request's price. Ingest writes its result into the stored price
-- columns of requests, the store re-prices rows priced under an older price card with it
-- (costlab.pricing.reprice), and costed_requests uses it for any row not priced yet.
-- Each part is rounded to the nano-dollar from exact integer femto-dollar arithmetic; the total is
-- the sum of the rounded parts, so breakdowns always add up.

-- The columns of requests that costlab derives from the others and the price card (costlab/schema.py
-- STORED_PRICE_COLUMNS), plus the card they were priced under and the link keys written with them.
create or replace macro costlab_is_price_column(c) as
    c in ('tier', 'priced', 'unpriced_reason', 'cost_input_usd', 'cost_output_usd', 'cost_cache_write_usd',
          'cost_cache_read_usd', 'cost_tools_usd', 'cost_usd', 'price_multiplier', 'cost_list_usd', 'price_version',
          'request_key', 'parent_key');

-- The link keys of a request (m013): a 64-bit hash of its request_id and of its parent_request_id, so
-- the detectors that follow re-sends (a request naming another in parent_request_id) join integers
-- instead of decoding every 30-byte id. Written with the stored price (costlab_store_rows) and current
-- exactly when the price is (price_version): the version includes hash()'s value on a fixed string, so
-- a DuckDB whose hash() differs re-prices (and re-keys) every row. Two ids sharing a key: ~1e-5 for 100M
-- requests against a few million parents (docs/scale.md, "Link keys").
create or replace macro costlab_request_key(id) as case when id is not null then hash(id) end;

create or replace macro costlab_price_rows(t) as table
with r as (
    select
        columns(lambda c: not costlab_is_price_column(c)),
        costlab_prompt_tokens(input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens) as prompt_tokens,
        -- A request without a platform is priced as the Claude API (the join below says so too).
        costlab_geo_class(platform, inference_geo) as geo_class,
        (coalesce(input_tokens, 0) + coalesce(output_tokens, 0) + coalesce(cache_read_tokens, 0)
            + coalesce(cache_write_5m_tokens, 0) + coalesce(cache_write_1h_tokens, 0)
            + coalesce(web_search_requests, 0)) = 0 as nothing_billable
    from query_table(t)
),
joined as (
    select r.*, c.input_fusd, c.output_fusd, c.cache_write_5m_fusd, c.cache_write_1h_fusd,
           c.cache_read_fusd, c.web_search_fusd, c.multiplier, c.discount, c.model is not null as matched,
           c.list_input_fusd, c.list_output_fusd, c.list_cache_write_5m_fusd, c.list_cache_write_1h_fusd,
           c.list_cache_read_fusd, c.list_web_search_fusd
    from r
    left join price_card c
      on c.model = r.model
     and c.speed = coalesce(r.speed, 'standard')
     and c.platform = coalesce(r.platform, 'anthropic')
     and c.service_tier = coalesce(r.service_tier, 'standard')
     and c.geo_class = r.geo_class
     and r.ts >= c.seg_from and (c.seg_to is null or r.ts < c.seg_to)
     and r.prompt_tokens >= c.band_min_tokens
     and (c.band_max_tokens is null or r.prompt_tokens < c.band_max_tokens)
),
-- costlab_cost_usd is costlab_fusd_to_usd(tokens * rate) without the BIGINT overflow of the product
-- (internal/macros.sql): one absurd row would otherwise make every query over the result fail.
costed as (
    select
        j.*,
        matched or nothing_billable as priced,
        case when matched then costlab_cost_usd(coalesce(input_tokens, 0), input_fusd)
             when nothing_billable then 0 end as c_in,
        case when matched then costlab_cost_usd(coalesce(output_tokens, 0), output_fusd)
             when nothing_billable then 0 end as c_out,
        case when matched then costlab_cost2_usd(coalesce(cache_write_5m_tokens, 0), cache_write_5m_fusd,
                                                 coalesce(cache_write_1h_tokens, 0), cache_write_1h_fusd)
             when nothing_billable then 0 end as c_cw,
        case when matched then costlab_cost_usd(coalesce(cache_read_tokens, 0), cache_read_fusd)
             when nothing_billable then 0 end as c_cr,
        case when matched then costlab_cost_usd(coalesce(web_search_requests, 0), web_search_fusd)
             when nothing_billable then 0 end as c_tools,
        -- At list price: each part rounded the same way, only where a discount applies.
        case when matched and discount <> 1 then
                 costlab_cost_usd(coalesce(input_tokens, 0), list_input_fusd)
               + costlab_cost_usd(coalesce(output_tokens, 0), list_output_fusd)
               + costlab_cost2_usd(coalesce(cache_write_5m_tokens, 0), list_cache_write_5m_fusd,
                                   coalesce(cache_write_1h_tokens, 0), list_cache_write_1h_fusd)
               + costlab_cost_usd(coalesce(cache_read_tokens, 0), list_cache_read_fusd)
               + costlab_cost_usd(coalesce(web_search_requests, 0), list_web_search_fusd)
        end as c_list
    from joined j
)
select
    costed.* exclude (geo_class, nothing_billable, matched, priced, input_fusd, output_fusd,
                      cache_write_5m_fusd, cache_write_1h_fusd, cache_read_fusd, web_search_fusd,
                      multiplier, discount, c_in, c_out, c_cw, c_cr, c_tools, c_list, prompt_tokens,
                      list_input_fusd, list_output_fusd, list_cache_write_5m_fusd, list_cache_write_1h_fusd,
                      list_cache_read_fusd, list_web_search_fusd),
    m.tier,
    prompt_tokens::BIGINT as prompt_tokens,
    priced,
    case
        when priced then null
        when costed.model is null then 'no model id in the log'
        when not exists (select 1 from prices p where p.model = costed.model)
            then 'no price for model ' || costed.model
        when coalesce(costed.speed, 'standard') <> 'standard'
             and not exists (select 1 from prices p where p.model = costed.model and p.speed = costed.speed)
            then 'no ' || costed.speed || '-mode price for ' || costed.model
        when coalesce(costed.platform, 'anthropic') not in (select distinct platform from price_card)
            then 'unknown platform ' || costed.platform
        else 'no price for ' || costed.model || ' in force at ' || strftime(costed.ts, '%Y-%m-%d')
    end as unpriced_reason,
    c_in::DECIMAL(18,9) as cost_input_usd,
    c_out::DECIMAL(18,9) as cost_output_usd,
    c_cw::DECIMAL(18,9) as cost_cache_write_usd,
    c_cr::DECIMAL(18,9) as cost_cache_read_usd,
    c_tools::DECIMAL(18,9) as cost_tools_usd,
    (c_in + c_out + c_cw + c_cr + c_tools)::DECIMAL(18,9) as cost_usd,
    multiplier::DECIMAL(18,9) as price_multiplier,
    coalesce(c_list, c_in + c_out + c_cw + c_cr + c_tools)::DECIMAL(18,9) as cost_list_usd
from costed
left join models m on m.model = costed.model;

create or replace macro costlab_store_rows(t) as table
select * exclude (prompt_tokens), costlab_price_version() as price_version,
       costlab_request_key(request_id) as request_key, costlab_request_key(parent_request_id) as parent_key
from costlab_price_rows(t);
