-- price_requests: the rows of requests_to_price with their price, in SQL both engines run: the portable twin of internal/price_rows.sql.
-- engines: duckdb, spark
-- params: none
-- returns:
--   *                                 every column of requests_to_price (the canonical request columns), then
--   tier VARCHAR                      the model's tier line (haiku, sonnet, opus, ...) or NULL if unknown
--   prompt_tokens BIGINT              input + cache reads + cache writes (what bands are judged on)
--   priced BOOLEAN                    false when no price was in force: the cost is unknown, not zero
--   unpriced_reason VARCHAR           why, when priced is false
--   cost_input_usd DECIMAL(18,9)      uncached input
--   cost_output_usd DECIMAL(18,9)     output (thinking included)
--   cost_cache_write_usd DECIMAL(18,9) 5-minute and 1-hour cache writes
--   cost_cache_read_usd DECIMAL(18,9) cache reads
--   cost_tools_usd DECIMAL(18,9)      server-tool fees (web search)
--   price_multiplier DECIMAL(18,9)    batch x residency x regional x discount applied to the rates
--   discounted_list_usd DECIMAL(18,9) a helper: the list price where a negotiated discount applies (the caller
--                                     selects the columns it writes, by name, and leaves this one out)
--   cost_usd DECIMAL(18,9)            the sum of the five parts
--   cost_list_usd DECIMAL(18,9)       cost_usd at list price, before negotiated discounts
--
-- Reads requests_to_price (a view the caller defines: the canonical columns of docs/schema.md, with
-- their types), price_card, models and prices: the lake's small tables, or the store's. The same
-- arithmetic as costlab_price_rows, written without DuckDB's table macros, COLUMNS(...), `* EXCLUDE`
-- or correlated subqueries, so it runs on Spark (costlab.engine.portable): integer femto-dollar
-- rates times token counts, each part rounded half up to the nano-dollar (costlab_cost_usd; the two
-- cache writes together), money built as CAST(n AS DECIMAL(18,0)) * 0.000000001, never through `/`
-- or a DOUBLE; the total is the sum of the rounded parts. tests/lake/test_lake_pricing.py holds it
-- equal to price_rows.sql on rows with every pricing feature, on DuckDB and on Spark.
with parts as (
    select
        r.*,
        m.tier as tier,
        costlab_prompt_tokens(r.input_tokens, r.cache_read_tokens, r.cache_write_5m_tokens,
                              r.cache_write_1h_tokens) as prompt_tokens,
        (c.model is not null or (coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0)
            + coalesce(r.cache_read_tokens, 0) + coalesce(r.cache_write_5m_tokens, 0)
            + coalesce(r.cache_write_1h_tokens, 0) + coalesce(r.web_search_requests, 0)) = 0) as priced,
        case
            when c.model is not null or (coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0)
                 + coalesce(r.cache_read_tokens, 0) + coalesce(r.cache_write_5m_tokens, 0)
                 + coalesce(r.cache_write_1h_tokens, 0) + coalesce(r.web_search_requests, 0)) = 0 then null
            when r.model is null then 'no model id in the log'
            when pm.model is null then 'no price for model ' || r.model
            when coalesce(r.speed, 'standard') <> 'standard' and ps.model is null
                then 'no ' || r.speed || '-mode price for ' || r.model
            when pp.platform is null then 'unknown platform ' || r.platform
            else 'no price for ' || r.model || ' in force at ' || strftime(r.ts, '%Y-%m-%d')
        end as unpriced_reason,
        cast(case when c.model is not null then costlab_cost_usd(coalesce(r.input_tokens, 0), c.input_fusd)
                  when (coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0) + coalesce(r.cache_read_tokens, 0)
                        + coalesce(r.cache_write_5m_tokens, 0) + coalesce(r.cache_write_1h_tokens, 0)
                        + coalesce(r.web_search_requests, 0)) = 0 then 0 end as DECIMAL(18, 9)) as cost_input_usd,
        cast(case when c.model is not null then costlab_cost_usd(coalesce(r.output_tokens, 0), c.output_fusd)
                  when (coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0) + coalesce(r.cache_read_tokens, 0)
                        + coalesce(r.cache_write_5m_tokens, 0) + coalesce(r.cache_write_1h_tokens, 0)
                        + coalesce(r.web_search_requests, 0)) = 0 then 0 end as DECIMAL(18, 9)) as cost_output_usd,
        cast(case when c.model is not null then costlab_cost2_usd(coalesce(r.cache_write_5m_tokens, 0), c.cache_write_5m_fusd,
                                                                  coalesce(r.cache_write_1h_tokens, 0), c.cache_write_1h_fusd)
                  when (coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0) + coalesce(r.cache_read_tokens, 0)
                        + coalesce(r.cache_write_5m_tokens, 0) + coalesce(r.cache_write_1h_tokens, 0)
                        + coalesce(r.web_search_requests, 0)) = 0 then 0 end as DECIMAL(18, 9)) as cost_cache_write_usd,
        cast(case when c.model is not null then costlab_cost_usd(coalesce(r.cache_read_tokens, 0), c.cache_read_fusd)
                  when (coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0) + coalesce(r.cache_read_tokens, 0)
                        + coalesce(r.cache_write_5m_tokens, 0) + coalesce(r.cache_write_1h_tokens, 0)
                        + coalesce(r.web_search_requests, 0)) = 0 then 0 end as DECIMAL(18, 9)) as cost_cache_read_usd,
        cast(case when c.model is not null then costlab_cost_usd(coalesce(r.web_search_requests, 0), c.web_search_fusd)
                  when (coalesce(r.input_tokens, 0) + coalesce(r.output_tokens, 0) + coalesce(r.cache_read_tokens, 0)
                        + coalesce(r.cache_write_5m_tokens, 0) + coalesce(r.cache_write_1h_tokens, 0)
                        + coalesce(r.web_search_requests, 0)) = 0 then 0 end as DECIMAL(18, 9)) as cost_tools_usd,
        cast(c.multiplier as DECIMAL(18, 9)) as price_multiplier,
        -- At list price: each part rounded the same way, only where a discount applies.
        cast(case when c.model is not null and c.discount <> 1 then
                      costlab_cost_usd(coalesce(r.input_tokens, 0), c.list_input_fusd)
                    + costlab_cost_usd(coalesce(r.output_tokens, 0), c.list_output_fusd)
                    + costlab_cost2_usd(coalesce(r.cache_write_5m_tokens, 0), c.list_cache_write_5m_fusd,
                                        coalesce(r.cache_write_1h_tokens, 0), c.list_cache_write_1h_fusd)
                    + costlab_cost_usd(coalesce(r.cache_read_tokens, 0), c.list_cache_read_fusd)
                    + costlab_cost_usd(coalesce(r.web_search_requests, 0), c.list_web_search_fusd)
             end as DECIMAL(18, 9)) as discounted_list_usd
    from requests_to_price r
    left join price_card c
      on c.model = r.model
     and c.speed = coalesce(r.speed, 'standard')
     and c.platform = coalesce(r.platform, 'anthropic')
     and c.service_tier = coalesce(r.service_tier, 'standard')
     and c.geo_class = costlab_geo_class(r.platform, r.inference_geo)
     and r.ts >= c.seg_from and (c.seg_to is null or r.ts < c.seg_to)
     and costlab_prompt_tokens(r.input_tokens, r.cache_read_tokens, r.cache_write_5m_tokens,
                               r.cache_write_1h_tokens) >= c.band_min_tokens
     and (c.band_max_tokens is null
          or costlab_prompt_tokens(r.input_tokens, r.cache_read_tokens, r.cache_write_5m_tokens,
                                   r.cache_write_1h_tokens) < c.band_max_tokens)
    left join models m on m.model = r.model
    -- What the unpriced reasons ask, as joins to small distinct sets (no correlated subqueries).
    left join (select distinct model from prices) pm on pm.model = r.model
    left join (select distinct model, speed from prices) ps on ps.model = r.model and ps.speed = r.speed
    left join (select distinct platform from price_card) pp on pp.platform = coalesce(r.platform, 'anthropic')
)
select
    parts.*,
    cast(cost_input_usd + cost_output_usd + cost_cache_write_usd + cost_cache_read_usd + cost_tools_usd
         as DECIMAL(18, 9)) as cost_usd,
    cast(coalesce(discounted_list_usd, cost_input_usd + cost_output_usd + cost_cache_write_usd
                                       + cost_cache_read_usd + cost_tools_usd) as DECIMAL(18, 9)) as cost_list_usd
from parts
