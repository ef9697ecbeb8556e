-- admin_report: the results of Admin API usage and cost report pages, one row each, checked.
-- params: none
-- returns: none (creates the temp tables _ub, one row per result with its reason to reject it, and
--   _ub2, the same with the normalised model and the bucket_key a bucket is replaced by)
--
-- Reads the temp view _admin_pages (page BIGINT, d: one bucket of a page), which
-- costlab/ingest/formats/admin.py creates over the report file. Results with an `amount` are cost
-- rows (a decimal string in cents), the others usage rows (token counts).
create or replace temp table _ub as
with r as (select page, d.starting_at, d.ending_at, unnest(d.results) as x from _admin_pages),
t as (
    select page, starting_at, ending_at, x,
           case when x->>'amount' is not null or x->>'cost_type' is not null then 'cost' else 'usage' end as report,
           coalesce(x->>'model',
                    lower(replace(replace(regexp_extract(x->>'description', '^(Claude [A-Za-z]+ [0-9.]+)', 1), ' ', '-'), '.', '-')))
               as model_raw
    from r
)
select page, report,
       try_cast(starting_at as TIMESTAMPTZ) as starting_at, try_cast(ending_at as TIMESTAMPTZ) as ending_at,
       nullif(model_raw, '') as model_raw,
       x->>'service_tier' as service_tier, x->>'context_window' as context_window,
       nullif(x->>'inference_geo', 'not_available') as inference_geo,
       x->>'api_key_id' as api_key_id, x->>'workspace_id' as workspace_id, x->>'description' as description,
       x->>'cost_type' as cost_type, x->>'token_type' as token_type,
       try_cast(x->>'uncached_input_tokens' as BIGINT) as uncached_input_tokens,
       try_cast(x->>'output_tokens' as BIGINT) as output_tokens,
       try_cast(x->>'cache_read_input_tokens' as BIGINT) as cache_read_input_tokens,
       try_cast(x->>'$.cache_creation.ephemeral_5m_input_tokens' as BIGINT) as cache_write_5m_tokens,
       try_cast(x->>'$.cache_creation.ephemeral_1h_input_tokens' as BIGINT) as cache_write_1h_tokens,
       try_cast(x->>'$.server_tool_use.web_search_requests' as BIGINT) as web_search_requests,
       try_cast(x->>'amount' as DECIMAL(38,9)) * 0.01 as amount_usd,
       x->>'currency' as currency,
       nullif(concat_ws('; ',
           case when try_cast(starting_at as TIMESTAMPTZ) is null then 'starting_at is not a timestamp: ' || coalesce(starting_at, 'missing') end,
           case when report = 'cost' and try_cast(x->>'amount' as DECIMAL(38,9)) is null
                then 'amount is not a decimal string: ' || coalesce(x->>'amount', 'missing') end,
           case when report = 'cost' and coalesce(x->>'currency', 'USD') <> 'USD' then 'currency is not USD: ' || (x->>'currency') end,
           case when report = 'usage' and coalesce(x->>'uncached_input_tokens', x->>'output_tokens') is null
                then 'a usage result with no token counts' end,
           case when report = 'usage' and (x->>'uncached_input_tokens' is not null and try_cast(x->>'uncached_input_tokens' as BIGINT) is null
                                           or x->>'output_tokens' is not null and try_cast(x->>'output_tokens' as BIGINT) is null)
                then 'a token count is not a whole number' end), '') as _reject,
       x::VARCHAR as _raw
from t;

-- The normalised model, and the key a bucket pulled again replaces its earlier copy by.
create or replace temp table _ub2 as
select *, costlab_model(model_raw) as model,
       md5(concat_ws('|', report, starting_at, model_raw, service_tier, context_window, inference_geo,
                     api_key_id, workspace_id, description, cost_type, token_type)) as bucket_key
from _ub;
