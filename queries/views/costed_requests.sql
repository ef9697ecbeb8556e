-- costed_requests: every request with its tier and its cost, priced at the rate in force at its ts.
-- params: none
-- returns: every column of requests except its stored price columns, then
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
--   cost_list_usd DECIMAL(18,9)       cost_usd at list price, before negotiated discounts (gross; equal
--                                     to cost_usd where no discount applies)
--   request_key UBIGINT               a 64-bit key of request_id (costlab_request_key), for joins
--   parent_key UBIGINT                the same of parent_request_id: re-sends join parent_key = request_key
--
-- Prices are computed once and stored: ingest prices each new row (internal/price_rows.sql) into
-- the price columns of requests, tagged with the price card's version (costlab_price_version()),
-- and a read-write open of the store re-prices rows tagged with an older card. A query here reads
-- the stored columns, as cheap as reading requests itself; a row with no current price (a store
-- opened read-only after a price change, a row inserted by hand) is priced as it is read, so the
-- view is always at the current card.

-- Rows whose stored price columns are not from the current price card.
create or replace view stale_requests as
select * from requests
where price_version is null or price_version <> costlab_price_version();

-- The rows whose stored price is current, shaped as costed_requests. A command that has checked its
-- window has no stale rows shadows costed_requests with this for its connection (a temp view): the
-- planner then sees one table scan, not a union, and keeps its join estimates (a detector joining
-- the union with the price card was planned ~1e12 rows wide and ran for minutes).
create or replace macro costlab_stored_prices() as table
select
    columns(lambda c: not costlab_is_price_column(c)),
    tier,
    costlab_prompt_tokens(input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens) as prompt_tokens,
    priced, unpriced_reason, cost_input_usd, cost_output_usd, cost_cache_write_usd, cost_cache_read_usd,
    cost_tools_usd, cost_usd, price_multiplier, cost_list_usd, request_key, parent_key
from requests
where price_version = costlab_price_version();

create or replace view costed_requests as
from costlab_stored_prices()
union all by name
select *, costlab_request_key(request_id) as request_key, costlab_request_key(parent_request_id) as parent_key
from costlab_price_rows('stale_requests');
