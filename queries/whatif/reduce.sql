-- whatif_reduce: one pass over the logs: every request of a window, one wide row, with the cost it would have had on each configured tier.
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (the `day` column)
--   tier_names VARCHAR[]                  the tiers, in config order (e.g. ['haiku','sonnet','opus'])
--   tier_models VARCHAR[]                 the model that stands for each tier, same order
--   tokenizer_factor DOUBLE = 1.3         tokens of a new-tokenizer model (4.7+) per token of an older one
--   warmup_minutes DOUBLE = 60            per feature, cache reads in the first minutes on a new model are writes
--   min_ratio_requests BIGINT = 20        ok requests per (source, feature, customer, model) before an observed ratio is used
-- returns: one row per request, in no particular order (costlab.whatif.reduce orders by ts_us, h):
--   ts_us BIGINT                          request time, microseconds since 1970 (first sort key)
--   h UBIGINT                             hash(source, request_id) (second sort key: ties in ts)
--   day INTEGER                           day of the request in the time zone tz, days since 1970-01-01
--   feature VARCHAR
--   cur_tier VARCHAR                      the tier line of the model it ran on
--   priced BOOLEAN                        false: no price in force, not simulated (the tier columns are NULL)
--   actual_nusd BIGINT                    its logged cost in nano-dollars, as costed_requests
--   prompt_tokens BIGINT                  complexity features ...
--   web_search INTEGER
--   tool_use BOOLEAN
--   batch BOOLEAN                         ran on the Batches API
--   documents INTEGER                     documents attached (0 when no payloads are stored)
--   conditional BOOLEAN                   conditional wording in the request (if/unless/otherwise)
--   multistep BOOLEAN                     multi-step wording (first/then/step N/finally)
--   output_tokens BIGINT                  output tokens as logged
--   w_micro BIGINT                        sample_weight in millionths (1000000: a complete log's request), exact: DECIMAL(38,6)
--   (only when `route` is rendered: a learned policy or `route fit` asked, and payloads hold rows; the
--   columns of queries/whatif/evidence/request_features.sql, 0 / false / NULL / '' without a stored body)
--   user_turns INTEGER, images INTEGER, tools_offered BOOLEAN, structured BOOLEAN, system_hash VARCHAR,
--   cue_conditional BOOLEAN, cue_multistep BOOLEAN, and prompt_text VARCHAR only when `route_texts` is rendered
--   (a policy with words or embeddings, or a fit: the texts are the largest columns by far)
--   then, for each tier k = 1..len(tier_names) (columns suffixed _t1, _t2, ...):
--   own_t1 BOOLEAN                        it ran on this tier's model
--   cost_t1 BIGINT                        cost on this tier, warm cache, nano-dollars (NULL: no price on the tier)
--   warmup_t1 BIGINT                      extra while the tier's cache warms up (reads billed as 5m writes)
--   batch_t1 BIGINT                       cost on this tier through the Batches API
--   crd_t1 BIGINT                         change in cost if every cacheable token were a read
--   cwd_t1 BIGINT                         change in cost if every cacheable token were written
--   out_src_t1 TINYINT                    where its output tokens on the tier come from: 0 own (ran there), 1 replay
--                                         (the same request replayed there), 2 observed ratio, 3 same (as logged)
--   oadj_t1 BIGINT                        cost_t1 minus its cost with the output tokens as logged (0: not moved)
--   boadj_t1 BIGINT                       the same for batch_t1
--   quality_t1 DOUBLE                     judged score (0..1) or logged feedback on its own tier, NULL unknown
--   q_src_t1 TINYINT                      0 none, 1 judged, 2 feedback
--   good_t1 BOOLEAN                       judged good enough (verdict/good, else score >= 0.5), NULL unknown
--
-- A Jinja template (costlab.whatif.pass_sql renders it; its names are listed there): run it by hand
-- through `costlab whatif`, or render it first. One wide row per request, not one row per
-- (request, tier): the `for k in tiers` loop writes the block tier_tK once per tier K, each reading
-- the one before (tier_t1 reads tier_t0, tier_t2 reads tier_t1, ...).
-- Nothing is materialised: base is read twice (the per-feature statistics, then the stream), every
-- other join has a small build side, so DuckDB streams the rows and holds no per-request state.
-- Money is integer femto-dollars per token from price_card, rounded once per category to the
-- nano-dollar exactly as costed_requests does, so a request's cost on its own tier is its logged cost.
-- Products are BIGINT (costed_requests uses HUGEINT): HUGEINT made this pass 2x slower, and BIGINT
-- holds 60M+ tokens in one request even at fast-mode rates; beyond that DuckDB raises, never wraps.
-- Without `ids` (nothing joins on (source, request_id): no replays, judgements or payloads) the ids
-- are NULLs: ten million ids are then not carried through every join. The replays, judgements and
-- payloads blocks include queries/whatif/evidence/*.sql when the store has that evidence, else an
-- empty relation of the same columns; `filter` is --filter, `source` the relation read.
-- Output tokens on a tier a request did not run on (--output-tokens; costlab.whatif.pass_sql renders
-- `use_replays` and `observed`): its own replay on that tier when `use_replays` (paired evidence),
-- else, when `observed`, round(output * ratio) with the ratio of mean output between the two models in
-- the traffic of the same cell (source, feature, customer, else user: never pooled across them), else
-- as logged (re-tokenized like the input between tokenizer generations). oadj_tK and boadj_tK keep
-- how much that moved the cost, so the same-token figure is always at hand.
-- The tier blocks also carry own_k, own_nusd, q_own, qbits and nullbits (the first own tier, its
-- cost, its quality, bit masks of known quality / no price per tier); the final select reads none
-- of them, so DuckDB prunes them.
with
tm as (
    -- per tier (lists in tier order): the new-tokenizer flag and the first price of its model
    select list(coalesce(m.new_tokenizer, false) order by t.i) as new_tok,
           list((select min(c.seg_from) from price_card c where c.model = t.model) order by t.i) as first_from
    from (select i, $tier_models[i] as model from range(1, len($tier_models) + 1) r(i)) t
    left join models m on m.model = t.model
),
speeds as (select distinct model, speed from price_card),
replay_rows as (
{% if replays %}
{% include 'whatif/evidence/replays.sql' %}
{% else %}
    select null::VARCHAR as source, null::VARCHAR as request_id, null::VARCHAR as tier,
           null::BIGINT as output_tokens where false
{% endif %}
),
judged as (
{% if judgements %}
{% include 'whatif/evidence/judgements.sql' %}
{% else %}
    select null::VARCHAR as source, null::VARCHAR as request_id, null::VARCHAR as tier,
           null::DOUBLE as quality, null::BOOLEAN as good where false
{% endif %}
),
payload_flags as (
{% if payloads %}
{% include 'whatif/evidence/payloads.sql' %}
{% else %}
    select null::VARCHAR as source, null::VARCHAR as request_id, 0::INTEGER as documents,
           false as conditional, false as multistep where false
{% endif %}
),
{% if route %}
request_features as (
{% include 'whatif/evidence/request_features.sql' %}
),
{% endif %}
base as not materialized (
    select
        {% if ids %}cr.source, cr.request_id,{% else %}null::VARCHAR as source, null::VARCHAR as request_id,{% endif %} hash(cr.source, cr.request_id)::UBIGINT as h, cr.ts, cr.model, cr.tier as cur_tier, cr.feature, cr.platform,
        coalesce(cr.speed, 'standard') as speed, coalesce(cr.service_tier, 'standard') as service_tier,
        coalesce(cr.input_tokens, 0) as input_tokens, coalesce(cr.output_tokens, 0) as output_tokens,
        coalesce(cr.cache_read_tokens, 0) as cache_read_tokens,
        coalesce(cr.cache_write_5m_tokens, 0) as cache_write_5m_tokens,
        coalesce(cr.cache_write_1h_tokens, 0) as cache_write_1h_tokens,
        coalesce(cr.web_search_requests, 0) as web_search, cr.stop_reason = 'tool_use' as tool_use,
        cr.status = 'ok' as ok, cr.priced, cr.feedback_score,
        (cr.cost_usd::DECIMAL(38,9) * 1000000000)::BIGINT as actual_nusd, cr.prompt_tokens,
        (coalesce(cr.sample_weight, 1) * 1000000)::BIGINT as w_micro,
        costlab_geo_class(cr.platform, cr.inference_geo) as geo_class,
        coalesce(cr.feature, '') as fkey{% if observed %},
        -- the observed-ratio cell: never pooled across sources, features or customers (else users)
        coalesce(cr.source, '') as cell_source, coalesce(cr.customer_id, cr.user_id, '') as cell_customer{% endif %}

    from {{ source }} cr
    where cr.ts >= $since and cr.ts < $until and ({{ filter or 'true' }})
),
-- One scan for the per-feature statistics: when each feature's traffic starts (cache warm-up).
feature_start as (select fkey, min(ts) as feature_start from base group by fkey),
{% if observed %}
-- (output_tokens observed) mean output per model over ok priced requests of each cell: the traffic
-- of one source, feature and customer that ran on both models gives a ratio (never pooled wider).
traffic_out as (
    select cell_source, fkey, cell_customer, model, avg(output_tokens) as mean_out
    from base where ok and priced group by all having count(*) >= $min_ratio_requests
),
{% endif %}
-- The stream: one row per request with what every tier block needs. Unpriced requests keep their
-- row (counted, never simulated) with NULL tokens, so no tier arithmetic runs on them.
tier_t0 as (
    select
        b.* exclude (input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens),
        case when b.priced then b.input_tokens end as input_tokens,
        case when b.priced then b.output_tokens end as output_tokens,
        case when b.priced then b.cache_read_tokens end as cache_read_tokens,
        case when b.priced then b.cache_write_5m_tokens end as cache_write_5m_tokens,
        case when b.priced then b.cache_write_1h_tokens end as cache_write_1h_tokens,
        coalesce(m.new_tokenizer, false) as src_new_tok,
        fs.feature_start, {% if observed %}ts_.mean_out{% else %}null::DOUBLE{% endif %} as src_mean_out, tm.new_tok as tm_new_tok, tm.first_from as tm_first_from,
        coalesce(pf.documents, 0)::INTEGER as documents, coalesce(pf.conditional, false) as conditional,
        coalesce(pf.multistep, false) as multistep,
{% if route %}
        coalesce(rf.user_turns, 0)::INTEGER as user_turns, coalesce(rf.images, 0)::INTEGER as images,
        coalesce(rf.tools_offered, false) as tools_offered, coalesce(rf.structured, false) as structured,
        rf.system_hash, coalesce(rf.prompt_text, '') as prompt_text,
        coalesce(rf.cue_conditional, false) as cue_conditional, coalesce(rf.cue_multistep, false) as cue_multistep,
{% endif %}
        -- helpers for the segment pass, carried through the tier blocks (the first own tier wins)
        null::INTEGER as own_k, null::BIGINT as own_nusd, null::DOUBLE as q_own, 0::INTEGER as qbits, 0::INTEGER as nullbits
    from base b
    join feature_start fs on fs.fkey = b.fkey
    cross join tm
    left join models m on m.model = b.model
{% if observed %}
    left join traffic_out ts_ on ts_.cell_source = b.cell_source and ts_.fkey = b.fkey
         and ts_.cell_customer = b.cell_customer and ts_.model = b.model
{% endif %}
    left join payload_flags pf on pf.source = b.source and pf.request_id = b.request_id
{% if route %}
    left join request_features rf on rf.source = b.source and rf.request_id = b.request_id
{% endif %}
),
{% for k in tiers %}
tier_t{{ k }} as (
    -- n(x): femto-dollars to nano-dollars, half up: the rounding costlab_fusd_to_usd does.
    select
        p.* exclude (x_f, x_speed, x_pts, x_replay_out, x_ratio, x_has_ratio, x_j_quality, x_j_good,
                     x_in, x_cr, x_cw5, x_cw1h, x_out, x_same, x_prompt, x_cold, x_k, own_k, own_nusd, q_own, qbits, nullbits),
        case when c.model is not null then
            ((x_in * c.input_fusd + 500000) // 1000000)
          + ((x_out * c.output_fusd + 500000) // 1000000)
          + ((x_cw5 * c.cache_write_5m_fusd + x_cw1h * c.cache_write_1h_fusd + 500000) // 1000000)
          + ((x_cr * c.cache_read_fusd + 500000) // 1000000)
          + ((p.web_search::BIGINT * c.web_search_fusd + 500000) // 1000000) end::BIGINT as cost_t{{ k }},
        case when c.model is not null then
            case when x_cold then ((x_cr * (c.cache_write_5m_fusd - c.cache_read_fusd) + 500000) // 1000000)
                 else 0 end end::BIGINT as warmup_t{{ k }},
        (((x_in * cb.input_fusd + 500000) // 1000000)
          + ((x_out * cb.output_fusd + 500000) // 1000000)
          + ((x_cw5 * cb.cache_write_5m_fusd + x_cw1h * cb.cache_write_1h_fusd + 500000) // 1000000)
          + ((x_cr * cb.cache_read_fusd + 500000) // 1000000)
          + ((p.web_search::BIGINT * cb.web_search_fusd + 500000) // 1000000))::BIGINT as batch_t{{ k }},
        case when c.model is not null then
            ((x_cr + x_cw5 + x_cw1h) * c.cache_read_fusd + 500000) // 1000000
          - ((x_cw5 * c.cache_write_5m_fusd + x_cw1h * c.cache_write_1h_fusd + 500000) // 1000000)
          - ((x_cr * c.cache_read_fusd + 500000) // 1000000) end::BIGINT as crd_t{{ k }},
        case when c.model is not null then
            ((x_cr * c.cache_write_5m_fusd + x_cw5 * c.cache_write_5m_fusd + x_cw1h * c.cache_write_1h_fusd + 500000) // 1000000)
          - ((x_cw5 * c.cache_write_5m_fusd + x_cw1h * c.cache_write_1h_fusd + 500000) // 1000000)
          - ((x_cr * c.cache_read_fusd + 500000) // 1000000) end::BIGINT as cwd_t{{ k }},
        case when p.own_t{{ k }} then 0 when x_replay_out is not null then 1 when x_has_ratio then 2 else 3 end::TINYINT as out_src_t{{ k }},
{% if use_replays or observed %}
        -- the output category's change (the prompt band does not depend on output tokens)
        (case when c.model is not null then ((x_out * c.output_fusd + 500000) // 1000000)
                                          - ((x_same * c.output_fusd + 500000) // 1000000) end)::BIGINT as oadj_t{{ k }},
        (((x_out * cb.output_fusd + 500000) // 1000000) - ((x_same * cb.output_fusd + 500000) // 1000000))::BIGINT as boadj_t{{ k }},
{% else %}
        0::BIGINT as oadj_t{{ k }}, 0::BIGINT as boadj_t{{ k }},
{% endif %}
        coalesce(x_j_quality, case when p.own_t{{ k }} then p.feedback_score end)::DOUBLE as quality_t{{ k }},
        case when x_j_quality is not null then 1 when p.own_t{{ k }} and p.feedback_score is not null then 2 else 0 end::TINYINT
            as q_src_t{{ k }},
        x_j_good::BOOLEAN as good_t{{ k }},
        coalesce(p.own_k, case when p.own_t{{ k }} then x_k end)::INTEGER as own_k,
        (case when p.own_k is null and p.own_t{{ k }} then cost_t{{ k }} + warmup_t{{ k }} else p.own_nusd end)::BIGINT as own_nusd,
        (case when p.own_k is null and p.own_t{{ k }} then quality_t{{ k }} else p.q_own end)::DOUBLE as q_own,
        (p.qbits + case when quality_t{{ k }} is not null then 1 << (x_k - 1) else 0 end)::INTEGER as qbits,
        (p.nullbits + case when cost_t{{ k }} is null then 1 << (x_k - 1) else 0 end)::INTEGER as nullbits
    from (
        select
            x.*,
            x.model = $tier_models[{{ k }}] as own_t{{ k }},
            list_position($tier_names, $tier_names[{{ k }}])::INTEGER as x_k,
            case when own_t{{ k }} then 1.0
                 else (case when x.tm_new_tok[{{ k }}] then $tokenizer_factor else 1.0 end)
                    / (case when x.src_new_tok then $tokenizer_factor else 1.0 end) end as x_f,
            case when own_t{{ k }} or sp.speed is not null then x.speed else 'standard' end as x_speed,
            greatest(x.ts, x.tm_first_from[{{ k }}]) as x_pts,
            {% if use_replays %}rp.output_tokens{% else %}null::BIGINT{% endif %} as x_replay_out,
            {% if observed %}tt.mean_out / nullif(x.src_mean_out, 0){% else %}null::DOUBLE{% endif %} as x_ratio,
            {% if observed %}not own_t{{ k }} and tt.mean_out is not null and x.src_mean_out > 0{% else %}false{% endif %} as x_has_ratio,
            j.quality as x_j_quality, j.good as x_j_good,
            (case when own_t{{ k }} then x.input_tokens else round(x.input_tokens * x_f)::BIGINT end)::BIGINT as x_in,
            (case when own_t{{ k }} then x.cache_read_tokens else round(x.cache_read_tokens * x_f)::BIGINT end)::BIGINT as x_cr,
            (case when own_t{{ k }} then x.cache_write_5m_tokens else round(x.cache_write_5m_tokens * x_f)::BIGINT end)::BIGINT as x_cw5,
            (case when own_t{{ k }} then x.cache_write_1h_tokens else round(x.cache_write_1h_tokens * x_f)::BIGINT end)::BIGINT as x_cw1h,
            (case when own_t{{ k }} then x.output_tokens else round(x.output_tokens * x_f)::BIGINT end)::BIGINT as x_same,
            (case when own_t{{ k }} then x.output_tokens
                  when x_replay_out is not null then x_replay_out
                  when x_has_ratio then round(x.output_tokens * x_ratio)::BIGINT
                  else x_same end)::BIGINT as x_out,
            x_in + x_cr + x_cw5 + x_cw1h as x_prompt,
            not own_t{{ k }} and x.cache_read_tokens > 0
                and epoch_us(x.ts) < epoch_us(x.feature_start) + ($warmup_minutes * 60000000)::BIGINT as x_cold
        from tier_t{{ k - 1 }} x
        left join speeds sp on sp.model = $tier_models[{{ k }}] and sp.speed = x.speed
{% if use_replays %}
        left join replay_rows rp on rp.source = x.source and rp.request_id = x.request_id and rp.tier = $tier_names[{{ k }}]
{% endif %}
{% if observed %}
        left join traffic_out tt on tt.cell_source = x.cell_source and tt.fkey = x.fkey
             and tt.cell_customer = x.cell_customer and tt.model = $tier_models[{{ k }}]
{% endif %}
        left join judged j on j.source = x.source and j.request_id = x.request_id and j.tier = $tier_names[{{ k }}]
    ) p
    left join price_card c
      on c.model = $tier_models[{{ k }}] and c.speed = p.x_speed and c.platform = coalesce(p.platform, 'anthropic')
     and c.service_tier = p.service_tier and c.geo_class = p.geo_class
     and p.x_pts >= c.seg_from and (c.seg_to is null or p.x_pts < c.seg_to)
     and p.x_prompt >= c.band_min_tokens and (c.band_max_tokens is null or p.x_prompt < c.band_max_tokens)
    left join price_card cb
      on cb.model = $tier_models[{{ k }}] and cb.speed = 'standard' and cb.platform = coalesce(p.platform, 'anthropic')
     and cb.service_tier = 'batch' and cb.geo_class = p.geo_class
     and p.x_pts >= cb.seg_from and (cb.seg_to is null or p.x_pts < cb.seg_to)
     and p.x_prompt >= cb.band_min_tokens and (cb.band_max_tokens is null or p.x_prompt < cb.band_max_tokens)
),
{% endfor %}
last as (select * from tier_t{{ tiers[-1] }})
select
    epoch_us(ts)::BIGINT as ts_us, h,
    (case when $tz::VARCHAR = 'UTC' then epoch_us(ts) // 86400000000
          else epoch_us(timezone($tz::VARCHAR, ts)) // 86400000000 end)::INTEGER as day, feature::VARCHAR as feature, cur_tier::VARCHAR as cur_tier,
    priced::BOOLEAN as priced, actual_nusd::BIGINT as actual_nusd, prompt_tokens::BIGINT as prompt_tokens,
    web_search::INTEGER as web_search, tool_use::BOOLEAN as tool_use, (service_tier = 'batch')::BOOLEAN as batch,
    documents::INTEGER as documents, conditional::BOOLEAN as conditional, multistep::BOOLEAN as multistep,
    output_tokens::BIGINT as output_tokens, w_micro::BIGINT as w_micro,
{% if route %}
    user_turns, images, tools_offered, structured, system_hash::VARCHAR as system_hash, cue_conditional, cue_multistep,
{% if route_texts %}
    prompt_text::VARCHAR as prompt_text,
{% endif %}
{% endif %}
    columns('^(own|cost|warmup|batch|crd|cwd|out_src|oadj|boadj|quality|q_src|good)_t[0-9]+$')
from last
