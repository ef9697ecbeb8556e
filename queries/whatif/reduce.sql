-- whatif_reduce: one pass over the logs: every request of a window, once per configured tier, with the cost it would have had on that tier.
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tier_names VARCHAR[]                  the tiers, in config order (e.g. ['haiku','sonnet','opus'])
--   tier_models VARCHAR[]                 the model that stands for each tier, same order
--   tokenizer_factor DOUBLE = 1.3         tokens of a new-tokenizer model (4.7+) per token of an older one
--   warmup_minutes DOUBLE = 60            per feature, cache reads in the first minutes on a new model are writes
--   default_output_ratio DOUBLE = 1.0     output tokens on another tier per output token logged, last resort
--   min_ratio_requests BIGINT = 20        ok requests per (feature, model) before a traffic ratio is trusted
-- returns: one row per (request, tier), ti = -1 for an unpriced request (one row, no tier columns):
--   rn BIGINT                             request number, 0.. in (ts, hash(source, request_id)) order
--   ti INTEGER                            tier index into tier_names; -1: the request has no price
--   day BIGINT                            UTC day of the request, days since 1970-01-01 (ti <= 0 rows)
--   feature VARCHAR                       (only on ti <= 0 rows)
--   cur_model VARCHAR                     the model it ran on (only on ti <= 0 rows)
--   cur_tier VARCHAR                      that model's tier line (only on ti <= 0 rows)
--   actual_nusd BIGINT                    its logged cost in nano-dollars, as costed_requests (ti <= 0 rows)
--   prompt_tokens BIGINT                  complexity features (ti <= 0 rows) ...
--   web_search BIGINT
--   tool_use BOOLEAN
--   batch BOOLEAN                         ran on the Batches API
--   documents BIGINT                      documents attached (0 when no payloads are stored)
--   conditional BOOLEAN                   conditional wording in the request (if/unless/otherwise)
--   multistep BOOLEAN                     multi-step wording (first/then/step N/finally)
--   own BOOLEAN                           it ran on this tier's model
--   cost_nusd BIGINT                      cost on this tier, warm cache, nano-dollars (NULL: no price on the tier)
--   warmup_nusd BIGINT                    extra while the tier's cache warms up (reads billed as 5m writes)
--   batch_nusd BIGINT                     cost on this tier through the Batches API
--   cache_read_delta_nusd BIGINT          change in cost if every cacheable token were a read
--   cache_write_delta_nusd BIGINT         change in cost if every cacheable token were written
--   out_src TINYINT                       0 own, 1 replay, 2 feature ratio, 3 default
--   quality DOUBLE                        judged score (0..1) or logged feedback on its own tier, NULL unknown
--   q_src TINYINT                         0 none, 1 judged, 2 feedback
--   good BOOLEAN                          judged good enough (verdict/good, else score >= 0.5), NULL unknown
--
-- Money is integer femto-dollars per token from price_card, rounded once per category to the
-- nano-dollar exactly as costed_requests does, so a request's cost on its own tier is its logged cost.
-- Products are BIGINT (costed_requests uses HUGEINT): HUGEINT made this pass 2x slower, and BIGINT
-- holds 60M+ tokens in one request even at fast-mode rates; beyond that DuckDB raises, never wraps.
-- The marked blocks (filter, replays, judgements, payloads) are replaced by costlab.whatif.reduce when the
-- user gives --filter or when the replay tables exist; as shipped the file runs on any store.
with
tiers as (
    select (i - 1)::INTEGER as ti, $tier_names[i] as tier, $tier_models[i] as model
    from range(1, len($tier_names) + 1) t(i)
),
tm as (
    select t.ti, t.tier, t.model, coalesce(m.new_tokenizer, false) as new_tok,
           (select min(c.seg_from) from price_card c where c.model = t.model) as first_from
    from tiers t left join models m on m.model = t.model
),
speeds as (select distinct model, speed from price_card),
replay_rows as (
    /*replays*/ select null::VARCHAR as source, null::VARCHAR as request_id, null::VARCHAR as tier,
           null::BIGINT as output_tokens where false /*end*/
),
judged as (
    /*judgements*/ select null::VARCHAR as source, null::VARCHAR as request_id, null::VARCHAR as tier,
           null::DOUBLE as quality, null::BOOLEAN as good where false /*end*/
),
payload_flags as (
    /*payloads*/ select null::VARCHAR as source, null::VARCHAR as request_id, 0::BIGINT as documents,
           false as conditional, false as multistep where false /*end*/
),
base as materialized (
    select
        row_number() over (order by cr.ts, hash(cr.source, cr.request_id)) - 1 as rn,
        cr.source, cr.request_id, cr.ts, cr.model, cr.tier as cur_tier, cr.feature, cr.platform, cr.inference_geo,
        coalesce(cr.speed, 'standard') as speed, coalesce(cr.service_tier, 'standard') as service_tier,
        coalesce(cr.input_tokens, 0) as input_tokens, coalesce(cr.output_tokens, 0) as output_tokens,
        coalesce(cr.cache_read_tokens, 0) as cache_read_tokens,
        coalesce(cr.cache_write_5m_tokens, 0) as cache_write_5m_tokens,
        coalesce(cr.cache_write_1h_tokens, 0) as cache_write_1h_tokens,
        coalesce(cr.web_search_requests, 0) as web_search, cr.stop_reason = 'tool_use' as tool_use,
        cr.status = 'ok' as ok, cr.priced, cr.feedback_score,
        (cr.cost_usd::DECIMAL(38,9) * 1000000000)::BIGINT as actual_nusd, cr.prompt_tokens,
        coalesce(m.new_tokenizer, false) as src_new_tok,
        case
            when coalesce(cr.platform, 'anthropic') in ('bedrock', 'vertex')
                 and coalesce(cr.inference_geo, 'global') <> 'global' then 'regional'
            when cr.inference_geo = 'us' and coalesce(cr.platform, 'anthropic') in ('anthropic', 'foundry', 'claude_aws') then 'us'
            else 'global'
        end as geo_class,
        coalesce(cr.feature, '') as fkey
    from costed_requests cr
    left join models m on m.model = cr.model
    where cr.ts >= $since and cr.ts < $until and (/*filter*/ true /*end*/)
),
-- Mean output per (feature, model) over ok requests: the traffic that ran on both gives a ratio.
traffic_out as (
    select fkey as feature, model, avg(output_tokens) as mean_out, count(*) as n
    from base where ok and priced group by all having count(*) >= $min_ratio_requests
),
-- Replays of the same requests: per (feature, tier), replayed output over the output logged.
replay_ratio as (
    select b.fkey as feature, rr.tier, sum(rr.output_tokens)::DOUBLE / nullif(sum(b.output_tokens), 0) as ratio
    from replay_rows rr join base b on b.source = rr.source and b.request_id = rr.request_id
    join tm on tm.tier = rr.tier
    where b.ok and b.model <> tm.model
    group by all
),
feature_start as (select fkey, min(ts) as feature_start from base group by fkey),
expanded as (
    select
        b.*, fs.feature_start, tm.ti, tm.model as t_model, b.model = tm.model as own,
        case when b.model = tm.model then 1.0
             else (case when tm.new_tok then $tokenizer_factor else 1.0 end)
                / (case when b.src_new_tok then $tokenizer_factor else 1.0 end) end as f,
        greatest(b.ts, tm.first_from) as pts,
        case when b.model = tm.model or sp.speed is not null then b.speed else 'standard' end as t_speed,
        rp.output_tokens as replay_out,
        coalesce(rq.ratio, tt.mean_out / nullif(ts_.mean_out, 0)) as feat_ratio,
        rq.ratio is not null or (tt.mean_out is not null and ts_.mean_out > 0) as has_ratio,
        j.quality as j_quality, j.good as j_good
    from base b
    join feature_start fs on fs.fkey = b.fkey
    cross join tm
    left join speeds sp on sp.model = tm.model and sp.speed = b.speed
    left join replay_rows rp on rp.source = b.source and rp.request_id = b.request_id and rp.tier = tm.tier
    left join replay_ratio rq on rq.feature = b.fkey and rq.tier = tm.tier
    left join traffic_out tt on tt.feature = b.fkey and tt.model = tm.model
    left join traffic_out ts_ on ts_.feature = b.fkey and ts_.model = b.model
    left join judged j on j.source = b.source and j.request_id = b.request_id and j.tier = tm.tier
    where b.priced
),
tokens as (
    select
        e.*,
        case when own then input_tokens else round(input_tokens * f)::BIGINT end as t_in,
        case when own then cache_read_tokens else round(cache_read_tokens * f)::BIGINT end as t_cr,
        case when own then cache_write_5m_tokens else round(cache_write_5m_tokens * f)::BIGINT end as t_cw5,
        case when own then cache_write_1h_tokens else round(cache_write_1h_tokens * f)::BIGINT end as t_cw1h,
        case when own then output_tokens
             when replay_out is not null then replay_out
             when has_ratio then round(output_tokens * feat_ratio)::BIGINT
             else round(output_tokens * f * $default_output_ratio)::BIGINT end as t_out,
        case when own then 0 when replay_out is not null then 1 when has_ratio then 2 else 3 end::TINYINT as out_src,
        not own and cache_read_tokens > 0
            and epoch_us(ts) < epoch_us(feature_start) + ($warmup_minutes * 60000000)::BIGINT as cold
    from expanded e
),
priced as (
    select
        k.*, k.t_in + k.t_cr + k.t_cw5 + k.t_cw1h as t_prompt,
        c.input_fusd, c.output_fusd, c.cache_write_5m_fusd, c.cache_write_1h_fusd, c.cache_read_fusd,
        c.web_search_fusd, c.model is not null as matched,
        cb.input_fusd as b_in, cb.output_fusd as b_out, cb.cache_write_5m_fusd as b_cw5,
        cb.cache_write_1h_fusd as b_cw1h, cb.cache_read_fusd as b_cr, cb.web_search_fusd as b_ws
    from tokens k
    left join price_card c
      on c.model = k.t_model and c.speed = k.t_speed and c.platform = coalesce(k.platform, 'anthropic')
     and c.service_tier = k.service_tier and c.geo_class = k.geo_class
     and k.pts >= c.seg_from and (c.seg_to is null or k.pts < c.seg_to)
     and k.t_in + k.t_cr + k.t_cw5 + k.t_cw1h >= c.band_min_tokens
     and (c.band_max_tokens is null or k.t_in + k.t_cr + k.t_cw5 + k.t_cw1h < c.band_max_tokens)
    left join price_card cb
      on cb.model = k.t_model and cb.speed = 'standard' and cb.platform = coalesce(k.platform, 'anthropic')
     and cb.service_tier = 'batch' and cb.geo_class = k.geo_class
     and k.pts >= cb.seg_from and (cb.seg_to is null or k.pts < cb.seg_to)
     and k.t_in + k.t_cr + k.t_cw5 + k.t_cw1h >= cb.band_min_tokens
     and (cb.band_max_tokens is null or k.t_in + k.t_cr + k.t_cw5 + k.t_cw1h < cb.band_max_tokens)
),
-- n(x): femto-dollars to nano-dollars, half up: the rounding costlab_fusd_to_usd does.
costs as (
    select
        p.*,
        ((t_in::BIGINT * input_fusd + 500000) // 1000000)
          + ((t_out::BIGINT * output_fusd + 500000) // 1000000)
          + ((t_cw5::BIGINT * cache_write_5m_fusd + t_cw1h::BIGINT * cache_write_1h_fusd + 500000) // 1000000)
          + ((t_cr::BIGINT * cache_read_fusd + 500000) // 1000000)
          + ((web_search::BIGINT * web_search_fusd + 500000) // 1000000) as cost,
        ((t_in::BIGINT * b_in + 500000) // 1000000)
          + ((t_out::BIGINT * b_out + 500000) // 1000000)
          + ((t_cw5::BIGINT * b_cw5 + t_cw1h::BIGINT * b_cw1h + 500000) // 1000000)
          + ((t_cr::BIGINT * b_cr + 500000) // 1000000)
          + ((web_search::BIGINT * b_ws + 500000) // 1000000) as bcost,
        ((t_cw5::BIGINT * cache_write_5m_fusd + t_cw1h::BIGINT * cache_write_1h_fusd + 500000) // 1000000)
          + ((t_cr::BIGINT * cache_read_fusd + 500000) // 1000000) as cache_now,
        case when cold then ((t_cr::BIGINT * (cache_write_5m_fusd - cache_read_fusd) + 500000) // 1000000)
             else 0 end as warm
    from priced p
)
select
    rn, ti,
    case when ti <= 0 then epoch_us(ts) // 86400000000 end as day,
    case when ti <= 0 then feature end as feature,
    case when ti <= 0 then model end as cur_model,
    case when ti <= 0 then cur_tier end as cur_tier,
    case when ti <= 0 then actual_nusd end as actual_nusd,
    case when ti <= 0 then prompt_tokens end as prompt_tokens,
    case when ti <= 0 then web_search end::BIGINT as web_search,
    case when ti <= 0 then tool_use end as tool_use,
    case when ti <= 0 then service_tier = 'batch' end as batch,
    case when ti <= 0 then coalesce(pf.documents, 0) end::BIGINT as documents,
    case when ti <= 0 then coalesce(pf.conditional, false) end as conditional,
    case when ti <= 0 then coalesce(pf.multistep, false) end as multistep,
    own,
    case when matched then cost end::BIGINT as cost_nusd,
    case when matched then warm end::BIGINT as warmup_nusd,
    bcost::BIGINT as batch_nusd,
    case when matched then ((t_cr + t_cw5 + t_cw1h)::BIGINT * cache_read_fusd + 500000) // 1000000 - cache_now end::BIGINT
        as cache_read_delta_nusd,
    case when matched then ((t_cr::BIGINT * cache_write_5m_fusd + t_cw5::BIGINT * cache_write_5m_fusd
                            + t_cw1h::BIGINT * cache_write_1h_fusd + 500000) // 1000000) - cache_now end::BIGINT
        as cache_write_delta_nusd,
    out_src,
    coalesce(j_quality, case when own then feedback_score end) as quality,
    case when j_quality is not null then 1 when own and feedback_score is not null then 2 else 0 end::TINYINT as q_src,
    j_good as good
from costs
left join payload_flags pf using (source, request_id)
union all
select rn, -1, epoch_us(ts) // 86400000000, feature, model, cur_tier, null, prompt_tokens, null, null, null, null, null, null,
       null, null, null, null, null, null, null, null, null, null
from base where not priced
