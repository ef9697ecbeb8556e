-- macros: functions the views, the ingest adapters and engineers share.
-- params: none
-- returns: none (creates macros costlab_clean_model, costlab_model, costlab_fusd_to_usd)

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
