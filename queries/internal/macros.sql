-- macros: functions the views, the ingest adapters and engineers share.
-- params: none
-- returns: none (creates macros costlab_clean_model, costlab_model, costlab_fusd_to_usd,
--   costlab_cost_nusd, costlab_cost_usd, costlab_cost2_usd, costlab_card_cost_usd, costlab_geo_class,
--   costlab_prompt_tokens)

-- The spelling of a model id with platform decorations removed: Bedrock ARNs, cross-region
-- prefixes (global. us. eu. apac. ...), the anthropic. prefix, -v1:0 version suffixes, gateway
-- prefixes (anthropic/ bedrock/ vertex_ai/), Claude Code's [1m] suffix, Vertex's @ before a date.
-- Longer gateway prefixes come first: RE2 alternation is leftmost-first, so with 'bedrock' ahead of
-- 'bedrock/converse' the id 'bedrock/converse/us.anthropic.claude-opus-5-v1:0' kept 'converse/...'.
create or replace macro costlab_clean_model(raw) as
    replace(
        regexp_replace(
        regexp_replace(
        regexp_replace(
        regexp_replace(
        regexp_replace(
        regexp_replace(lower(trim(raw)),
            '^arn:aws:bedrock:[^:]*:[^:]*:(foundation-model|inference-profile|system-defined-inference-profile)/', ''),
            '\[[^\]]*\]$', ''),
            '^(bedrock/converse|bedrock/invoke|anthropic|bedrock|vertex_ai|vertex|claude)/', ''),
            '^(global|us|eu|apac|jp|au|ca|us-gov)\.', ''),
            '^anthropic\.', ''),
            '-v\d+(:\d+)?$', ''),
        '@', '-');

-- The catalogue id a raw model string bills as: an alias (or the id itself), else the same id
-- without a trailing -YYYYMMDD snapshot date when that is known, else the cleaned spelling.
create or replace macro costlab_model(raw) as
    coalesce(
        (select a.model from model_aliases a where a.alias = costlab_clean_model(raw)),
        (select a.model from model_aliases a where a.alias = regexp_replace(costlab_clean_model(raw), '-\d{8}$', '')),
        costlab_clean_model(raw));

-- Integer femto-dollars (1e-15 USD) to USD as DECIMAL(18,9), rounded half up to the nano-dollar.
create or replace macro costlab_fusd_to_usd(f) as
    cast(cast((f + 500000) // 1000000 as DECIMAL(18,0)) * 0.000000001 as DECIMAL(18,9));

-- tokens x rate (femto-dollars per token) in USD, rounded half up to the nano-dollar: exactly
-- costlab_fusd_to_usd(n * f), without the BIGINT overflow of n * f past ~9.2e18 fUSD (123M tokens at
-- $75/MTok), which would make every query over costed_requests fail. When n * f provably fits
-- (n < 4e6 and f < 2e12: < 8e18) it is used as is; otherwise the rate is split into whole
-- nano-dollars and a femto remainder, which for n, f >= 0 gives the same integer:
--   (n*f + 5e5) // 1e6 = n*(f // 1e6) + (n*(f % 1e6) + 5e5) // 1e6
-- with no term overflowing below ~9e12 tokens (DECIMAL(18,9) caps a cost at $1e9 before that).
-- The guard keeps the common case one multiply: the split alone cost ~25% on 5M rows, HUGEINT ~3.5x.
-- Arguments are cast to BIGINT: with INTEGER ones (web_search_requests) DuckDB would stay in INT32.
-- costlab_cost_nusd is the split form as whole nano-dollars (BIGINT), for sums that stay integer.
create or replace macro costlab_cost_nusd(n, f) as
    n::BIGINT * (f::BIGINT // 1000000) + (n::BIGINT * (f::BIGINT % 1000000) + 500000) // 1000000;

create or replace macro costlab_cost_usd(n, f) as
    case when n::BIGINT < 4000000 and f::BIGINT < 2000000000000
         then costlab_fusd_to_usd(n::BIGINT * f::BIGINT)
         else cast(cast(costlab_cost_nusd(n, f) as DECIMAL(18,0)) * 0.000000001 as DECIMAL(18,9))
    end;

-- The same for two categories rounded once together (5-minute and 1-hour cache writes).
create or replace macro costlab_cost2_usd(n1, f1, n2, f2) as
    case when n1::BIGINT < 2000000 and n2::BIGINT < 2000000
              and f1::BIGINT < 2000000000000 and f2::BIGINT < 2000000000000
         then costlab_fusd_to_usd(n1::BIGINT * f1::BIGINT + n2::BIGINT * f2::BIGINT)
         else cast(cast(n1::BIGINT * (f1::BIGINT // 1000000) + n2::BIGINT * (f2::BIGINT // 1000000)
                        + (n1::BIGINT * (f1::BIGINT % 1000000) + n2::BIGINT * (f2::BIGINT % 1000000) + 500000)
                          // 1000000 as DECIMAL(18,0))
                   * 0.000000001 as DECIMAL(18,9))
    end;

-- A request's cost in USD at one price_card row: each category rounded half up to the nano-dollar
-- (the two cache writes together), then summed, as costlab_price_rows prices it. For what-ifs that
-- re-price a request at another model or service tier (the detectors, replay results). HUGEINT
-- products: these run on a few rows, where the overflow guard of costlab_cost_usd buys nothing.
create or replace macro costlab_card_cost_usd(input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
                                              cache_read_tokens, web_search_requests,
                                              input_fusd, output_fusd, cache_write_5m_fusd, cache_write_1h_fusd,
                                              cache_read_fusd, web_search_fusd) as
    costlab_fusd_to_usd(coalesce(input_tokens, 0)::HUGEINT * input_fusd)
    + costlab_fusd_to_usd(coalesce(output_tokens, 0)::HUGEINT * output_fusd)
    + costlab_fusd_to_usd(coalesce(cache_write_5m_tokens, 0)::HUGEINT * cache_write_5m_fusd
                          + coalesce(cache_write_1h_tokens, 0)::HUGEINT * cache_write_1h_fusd)
    + costlab_fusd_to_usd(coalesce(cache_read_tokens, 0)::HUGEINT * cache_read_fusd)
    + costlab_fusd_to_usd(coalesce(web_search_requests, 0)::HUGEINT * web_search_fusd);

-- The price card's geography class of a request: 'regional' for a Bedrock or Vertex regional
-- endpoint (the 10% premium), 'us' for US-only inference on the Claude API (and Foundry, Claude on
-- AWS), else 'global'. A request without a platform is priced as the Claude API.
create or replace macro costlab_geo_class(platform, inference_geo) as
    case
        when coalesce(platform, 'anthropic') in ('bedrock', 'vertex')
             and coalesce(inference_geo, 'global') <> 'global' then 'regional'
        when inference_geo = 'us' and coalesce(platform, 'anthropic') in ('anthropic', 'foundry', 'claude_aws') then 'us'
        else 'global'
    end;

-- The prompt a request sent: uncached input + cache reads + cache writes (input_tokens excludes the
-- cache, as in Anthropic's usage object). Prompt bands are judged on it.
create or replace macro costlab_prompt_tokens(input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens) as
    (coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0)
        + coalesce(cache_write_5m_tokens, 0) + coalesce(cache_write_1h_tokens, 0))::BIGINT;
