-- whatif_daily_totals: the what-if headline aggregate-first: group the window's requests (no price joins), then price the small cube on every tier.
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tier_names VARCHAR[]                  the tiers, in config order (e.g. ['haiku','sonnet','opus'])
--   tier_models VARCHAR[]                 the model that stands for each tier, same order
--   tokenizer_factor DOUBLE = 1.3         tokens of a new-tokenizer model (4.7+) per token of an older one
--   warmup_minutes DOUBLE = 60            per feature, cache reads in the first minutes on a new model are writes
--   salt INTEGER = 0                      mixed into the 64-bit key of the string columns (another salt after a collision)
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (the `day` column)
-- returns: one row per (day, status, qbits, shown, nullbits):
--   day INTEGER                           day of the request in the time zone tz, days since 1970-01-01
--   status VARCHAR                        kept (priced on every tier), unpriced (no price in force), excluded (a tier cannot price it)
--   qbits INTEGER                         bit k-1 set: the requests' quality on tier k is known
--   shown INTEGER                         1-based tier under --split current: the first tier whose model it ran on, else its tier line's; NULL neither
--   nullbits INTEGER                      bit k-1 set: no price on tier k (excluded rows only)
--   n BIGINT                              requests (weighted by sample_weight, to the nearest request)
--   n_off BIGINT                          requests on no tier model (they keep their logged cost under --split current)
--   off_actual_nusd BIGINT                their logged cost
--   actual_nusd BIGINT                    logged cost
--   current_nusd BIGINT                   cost with every request where it ran (= actual_nusd: a request's own tier prices it at its logged cost)
--   q_own_sum DOUBLE                      quality on its own tier, summed where known
--   q_own_n BIGINT                        requests whose quality on their own tier is known
--   out_tokens BIGINT                     output tokens as logged
--   then per tier k (suffix _t1, _t2, ...; sums over the group):
--   cost_t1 BIGINT                        cost on the tier, warm cache, nano-dollars
--   warmup_t1 BIGINT                      extra while the tier's cache warms up (reads billed as 5m writes)
--   crd_t1 BIGINT                         change in cost if every cacheable token were a read
--   cwd_t1 BIGINT                         change in cost if every cacheable token were written
--   quality_t1 DOUBLE                     sum of known quality on the tier (NULL when qbits says unknown)
--   oadj_t1 BIGINT                        cost_t1 minus its cost with output tokens as logged (replayed requests' output)
--   nown_t1 BIGINT                        requests that ran on the tier's model (output as logged there)
--   town_t1 BIGINT                        their output tokens as logged
--   npair_t1 BIGINT                       requests on another model replayed on the tier (paired evidence)
--   tpair_t1 BIGINT                       their output tokens as logged
--   collisions BIGINT                     string-key combinations sharing a 64-bit key (must be 0: rerun with another salt)
--
-- The per-request pass (reduce.sql) prices every request on every tier: three range joins on the
-- price card per request. Here the window is read twice with no price join at all, and costs are
-- linear in token counts within one price-card row:
--   1. `stat`: a GROUP BY over the columns that pick a request's own price-card row (model, speed,
--      platform, service tier, geography, time-segment class, prompt-band class, nothing billable):
--      its priced flag and each feature's first request (cache warm-up), as reduce.sql computes them.
--   2. `cube`: a GROUP BY over everything a request's cost on any tier depends on: day, feature,
--      model, speed, platform, service tier, geography, time-segment class, the prompt-band class of
--      its tokens as logged and as re-tokenized, cache warm-up (a cache read in its feature's first
--      warmup_minutes), nothing billable, which tiers hold a judged quality or replay. The
--      non-linear per-request steps happen in this scan, per request, exactly as reduce.sql does
--      them: tokens re-tokenized with round(tokens * factor), output tokens from the request's own
--      replay on the tier (`use_replays`: --output-tokens replay) else as logged; only sums leave it.
--      The observed ratios of --output-tokens observed need the per-request pass (reduce.sql).
--   3. the few thousand cube rows are priced on each tier with the integer femto-dollar card
--      (HUGEINT: the sums are large), summed per output row and rounded once to the nano-dollar.
-- A Jinja template (costlab.whatif.pass_sql renders it; its names are listed there). The class
-- expressions come from costlab.whatif.daily_totals, from the card: seg is the number of card
-- time boundaries inside the window at or before the request (same class, same card row for any
-- model), band_raw / band_sc the number of band thresholds at or below the prompt (band_rep[class + 1]
-- is a prompt of that class). Each `for k in tiers` loop writes its block once per tier K (columns _tK).
-- Exactness (docs/whatif.md): the per-request pass rounds each request's categories to the
-- nano-dollar; this sums femto-dollars first, so a tier total differs from it by less than 0.5
-- nano-dollar per request and rounded category (none at all when every rate is whole nano-dollars).
-- A request's cost on its own tier is its logged cost, priced here the same way (its own card row).
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
base as not materialized (
    select
        {% if ids %}cr.source, cr.request_id,{% else %}null::VARCHAR as source, null::VARCHAR as request_id,{% endif %} cr.ts, epoch_us(cr.ts) as ts_us, cr.model,
        coalesce(cr.feature, '') as fkey, coalesce(cr.platform, 'anthropic') as platform,
        coalesce(cr.speed, 'standard') as speed, coalesce(cr.service_tier, 'standard') as service_tier,
        cr.inference_geo,
        coalesce(cr.input_tokens, 0)::BIGINT as t_in, coalesce(cr.output_tokens, 0)::BIGINT as t_out,
        coalesce(cr.cache_read_tokens, 0)::BIGINT as t_cr, coalesce(cr.cache_write_5m_tokens, 0)::BIGINT as t_cw5,
        coalesce(cr.cache_write_1h_tokens, 0)::BIGINT as t_cw1h, coalesce(cr.web_search_requests, 0)::BIGINT as t_web,
        cr.status = 'ok' as ok, cr.feedback_score,
        -- sample_weight in millionths (exact: DECIMAL(38,6)); every sum below is weighted by it, so
        -- counts, tokens and femto-dollars leave the cube in millionths (divided out once at the end)
        (coalesce(cr.sample_weight, 1) * 1000000)::BIGINT as w
    from {{ source }} cr
    where cr.ts >= $since and cr.ts < $until and ({{ filter or 'true' }})
),
keyed as not materialized (
    select *,
        -- the strings that pick a price-card row, as one 64-bit key (collisions are detected: combos)
        hash(fkey, model, speed, platform, service_tier, inference_geo, $salt) as h,
        ({{ seg }})::INTEGER as seg,
        ({{ band_raw }})::INTEGER as band_raw,
        (t_in + t_out + t_cr + t_cw5 + t_cw1h + t_web) = 0 as nb
    from base
),
-- Scan 1: the request's own price-card row is a function of these columns.
stat as materialized (
    select fkey, model, speed, platform, service_tier, inference_geo, seg, band_raw, nb,
           min(ts) as min_ts
    from keyed group by all
),
combos as (
    select distinct fkey, model, speed, platform, service_tier, inference_geo,
        hash(fkey, model, speed, platform, service_tier, inference_geo, $salt) as h,
        costlab_geo_class(platform, inference_geo) as geo_class
    from stat
),
collisions as (select count(*) - count(distinct h) as collisions from combos),
stat_priced as (
    select s.*, c.model is not null or s.nb as priced
    from (select st.*, co.geo_class from stat st join combos co on co.fkey = st.fkey and coalesce(co.model, '') = coalesce(st.model, '') and co.speed = st.speed
          and co.platform = st.platform and co.service_tier = st.service_tier
          and coalesce(co.inference_geo, '') = coalesce(st.inference_geo, '')) s
    left join price_card c
      on c.model = s.model and c.speed = s.speed and c.platform = s.platform
     and c.service_tier = s.service_tier and c.geo_class = s.geo_class
     and s.min_ts >= c.seg_from and (c.seg_to is null or s.min_ts < c.seg_to)
     and ({{ band_rep }})[s.band_raw + 1] >= c.band_min_tokens
     and (c.band_max_tokens is null or ({{ band_rep }})[s.band_raw + 1] < c.band_max_tokens)
),
feature_model as (
    select fkey, model, min(min_ts) as first_ts
    from stat_priced group by all
),
feature_start as (select fkey, epoch_us(min(first_ts)) as start_us from feature_model group by fkey),
-- Per (feature, model): what every tier does with such a request (own tier, token factor).
fm as (
    select f.fkey, f.model, fs.start_us, m.tier as cur_tier, coalesce(m.new_tokenizer, false) as src_new_tok,
           case when coalesce(m.new_tokenizer, false) then 1.0 / $tokenizer_factor else $tokenizer_factor / 1.0 end as g,
           {% for k in tiers %}
           coalesce(f.model = $tier_models[{{ k }}], false) as own_t{{ k }},
           (case when tm.new_tok[{{ k }}] then $tokenizer_factor else 1.0 end)
             / (case when coalesce(m.new_tokenizer, false) then $tokenizer_factor else 1.0 end) as f_t{{ k }},
           {% endfor %}
           true as _fm
    from feature_model f
    join feature_start fs on fs.fkey = f.fkey
    cross join tm
    left join models m on m.model = f.model
    {% for k in tiers %}
    {% endfor %}
),
-- Scan 2: the cube. Per request only arithmetic (and, when replays or judgements exist, their joins).
cube as materialized (
    select
        (case when $tz::VARCHAR = 'UTC' then b.ts_us // 86400000000
              else epoch_us(timezone($tz::VARCHAR, b.ts)) // 86400000000 end)::INTEGER as day, b.h, b.seg, b.band_raw, b.nb,
        ({{ band_sc }})::INTEGER as band_sc,
        b.t_cr > 0 and b.ts_us < b.start_us + ($warmup_minutes * 60000000)::BIGINT as cold,
        b.feedback_score is not null as fb,
        (0 {% for k in tiers %} + case when j_t{{ k }}.quality is not null then 1 << (list_position($tier_names, $tier_names[{{ k }}]) - 1) else 0 end {% endfor %})::INTEGER as jbits,
        -- weighted after each request's own band, re-tokenization and replay are chosen (never before)
        sum(b.w) as n, min(b.ts) as min_ts,
        sum(b.t_in * b.w) as s_in, sum(b.t_out * b.w) as s_out, sum(b.t_cr * b.w) as s_cr, sum(b.t_cw5 * b.w) as s_cw5,
        sum(b.t_cw1h * b.w) as s_cw1h, sum(b.t_web * b.w) as s_web,
        sum(b.g_in * b.w) as g_in, sum(b.g_cr * b.w) as g_cr, sum(b.g_cw5 * b.w) as g_cw5, sum(b.g_cw1h * b.w) as g_cw1h,
        sum(b.feedback_score * b.w) as fb_sum,
        {% for k in tiers %}
{% if use_replays %}
        sum((case when b.own_t{{ k }} then b.t_out
                 when rp_t{{ k }}.output_tokens is not null then rp_t{{ k }}.output_tokens
                 else round(b.t_out * b.f_t{{ k }})::BIGINT end) * b.w) as out_t{{ k }},
        sum((case when b.own_t{{ k }} then b.t_out else round(b.t_out * b.f_t{{ k }})::BIGINT end) * b.w) as same_t{{ k }},
        sum(b.w) filter (where not b.own_t{{ k }} and rp_t{{ k }}.output_tokens is not null) as np_t{{ k }},
        sum(b.t_out * b.w) filter (where not b.own_t{{ k }} and rp_t{{ k }}.output_tokens is not null) as tp_t{{ k }},
{% else %}
        sum((case when b.own_t{{ k }} then b.t_out else round(b.t_out * b.f_t{{ k }})::BIGINT end) * b.w) as out_t{{ k }},
{% endif %}
        sum(j_t{{ k }}.quality * b.w) as j_t{{ k }},
        {% endfor %}
    from (
        select k.*, fm.* exclude (fkey, model),
               round(k.t_in * fm.g)::BIGINT as g_in, round(k.t_cr * fm.g)::BIGINT as g_cr,
               round(k.t_cw5 * fm.g)::BIGINT as g_cw5, round(k.t_cw1h * fm.g)::BIGINT as g_cw1h
        from keyed k join fm on fm.fkey = k.fkey and coalesce(fm.model, '') = coalesce(k.model, '')
    ) b
    {% for k in tiers %}
{% if use_replays %}
    left join replay_rows rp_t{{ k }} on rp_t{{ k }}.source = b.source and rp_t{{ k }}.request_id = b.request_id and rp_t{{ k }}.tier = $tier_names[{{ k }}]
{% endif %}
    left join judged j_t{{ k }} on j_t{{ k }}.source = b.source and j_t{{ k }}.request_id = b.request_id and j_t{{ k }}.tier = $tier_names[{{ k }}]
    {% endfor %}
    group by all
),
-- Price the cube: its own row (priced?, logged cost when the source has none), then each tier.
own as (
    select q.*, co.fkey, co.model, co.speed, co.platform, co.service_tier, co.geo_class, fm.cur_tier, fm.src_new_tok,
           c.model is not null or q.nb as priced,
           -- the logged cost in femto-dollars (costed_requests' price, summed before rounding)
           coalesce(q.s_in::HUGEINT * c.input_fusd + q.s_out::HUGEINT * c.output_fusd
                    + q.s_cw5::HUGEINT * c.cache_write_5m_fusd + q.s_cw1h::HUGEINT * c.cache_write_1h_fusd
                    + q.s_cr::HUGEINT * c.cache_read_fusd + q.s_web::HUGEINT * c.web_search_fusd, 0) as act_f,
           {% for k in tiers %} fm.own_t{{ k }}, {% endfor %}
           true as _own
    from cube q
    join combos co on co.h = q.h
    join fm on fm.fkey = co.fkey and coalesce(fm.model, '') = coalesce(co.model, '')
    left join price_card c
      on c.model = co.model and c.speed = co.speed and c.platform = co.platform
     and c.service_tier = co.service_tier and c.geo_class = co.geo_class
     and q.min_ts >= c.seg_from and (c.seg_to is null or q.min_ts < c.seg_to)
     and ({{ band_rep }})[q.band_raw + 1] >= c.band_min_tokens
     and (c.band_max_tokens is null or ({{ band_rep }})[q.band_raw + 1] < c.band_max_tokens)
),
tiers_priced as (
    select
        o.*,
        {% for k in tiers %}
        c_t{{ k }}.model is null as null_t{{ k }},
        -- own tier: the logged cost (reduce.sql's own-tier price is the logged cost exactly)
        case when o.own_t{{ k }} then o.act_f
             else x_in_t{{ k }} * c_t{{ k }}.input_fusd + o.out_t{{ k }}::HUGEINT * c_t{{ k }}.output_fusd
                + x_cw5_t{{ k }} * c_t{{ k }}.cache_write_5m_fusd + x_cw1h_t{{ k }} * c_t{{ k }}.cache_write_1h_fusd
                + x_cr_t{{ k }} * c_t{{ k }}.cache_read_fusd + o.s_web::HUGEINT * c_t{{ k }}.web_search_fusd end as cost_f_t{{ k }},
        case when o.cold and not o.own_t{{ k }} then x_cr_t{{ k }} * (c_t{{ k }}.cache_write_5m_fusd - c_t{{ k }}.cache_read_fusd) else 0 end as warm_f_t{{ k }},
        (x_cr_t{{ k }} + x_cw5_t{{ k }} + x_cw1h_t{{ k }}) * c_t{{ k }}.cache_read_fusd as all_read_f_t{{ k }},
        (x_cr_t{{ k }} + x_cw5_t{{ k }}) * c_t{{ k }}.cache_write_5m_fusd + x_cw1h_t{{ k }} * c_t{{ k }}.cache_write_1h_fusd as all_write_f_t{{ k }},
        x_cw5_t{{ k }} * c_t{{ k }}.cache_write_5m_fusd + x_cw1h_t{{ k }} * c_t{{ k }}.cache_write_1h_fusd as write_f_t{{ k }},
        x_cr_t{{ k }} * c_t{{ k }}.cache_read_fusd as read_f_t{{ k }},
{% if use_replays %}
        case when o.own_t{{ k }} then 0 else (o.out_t{{ k }} - o.same_t{{ k }})::HUGEINT * c_t{{ k }}.output_fusd end as oadj_f_t{{ k }},
{% endif %}
        -- quality: judged on the tier, else the logged feedback on its own tier (jbits, fb are keys)
        case when (o.jbits & (1 << (list_position($tier_names, $tier_names[{{ k }}]) - 1))) <> 0 then o.j_t{{ k }}
             when o.own_t{{ k }} and o.fb then o.fb_sum end as q_t{{ k }},
        {% endfor %}
        true as _tp
    from (
        select o.*,
            {% for k in tiers %}
            (case when o.own_t{{ k }} or tm.new_tok[{{ k }}] = o.src_new_tok then o.s_in else o.g_in end)::HUGEINT as x_in_t{{ k }},
            (case when o.own_t{{ k }} or tm.new_tok[{{ k }}] = o.src_new_tok then o.s_cr else o.g_cr end)::HUGEINT as x_cr_t{{ k }},
            (case when o.own_t{{ k }} or tm.new_tok[{{ k }}] = o.src_new_tok then o.s_cw5 else o.g_cw5 end)::HUGEINT as x_cw5_t{{ k }},
            (case when o.own_t{{ k }} or tm.new_tok[{{ k }}] = o.src_new_tok then o.s_cw1h else o.g_cw1h end)::HUGEINT as x_cw1h_t{{ k }},
            case when o.own_t{{ k }} or tm.new_tok[{{ k }}] = o.src_new_tok then o.band_raw else o.band_sc end as band_t{{ k }},
            case when o.own_t{{ k }} or sp_t{{ k }}.speed is not null then o.speed else 'standard' end as speed_t{{ k }},
            greatest(o.min_ts, tm.first_from[{{ k }}]) as pts_t{{ k }},
            {% endfor %}
            true as _x
        from own o
        cross join tm
        {% for k in tiers %} left join speeds sp_t{{ k }} on sp_t{{ k }}.model = $tier_models[{{ k }}] and sp_t{{ k }}.speed = o.speed {% endfor %}
    ) o
    {% for k in tiers %}
    left join price_card c_t{{ k }}
      on c_t{{ k }}.model = $tier_models[{{ k }}] and c_t{{ k }}.speed = o.speed_t{{ k }} and c_t{{ k }}.platform = o.platform
     and c_t{{ k }}.service_tier = o.service_tier and c_t{{ k }}.geo_class = o.geo_class
     and o.pts_t{{ k }} >= c_t{{ k }}.seg_from and (c_t{{ k }}.seg_to is null or o.pts_t{{ k }} < c_t{{ k }}.seg_to)
     and ({{ band_rep }})[o.band_t{{ k }} + 1] >= c_t{{ k }}.band_min_tokens
     and (c_t{{ k }}.band_max_tokens is null or ({{ band_rep }})[o.band_t{{ k }} + 1] < c_t{{ k }}.band_max_tokens)
    {% endfor %}
),
classified as (
    select *,
        (0 {% for k in tiers %} + case when null_t{{ k }} then 1 << (list_position($tier_names, $tier_names[{{ k }}]) - 1) else 0 end {% endfor %})::INTEGER as nullbits,
        (0 {% for k in tiers %} + case when q_t{{ k }} is not null then 1 << (list_position($tier_names, $tier_names[{{ k }}]) - 1) else 0 end {% endfor %})::INTEGER as qbits,
        coalesce({% for k in tiers %} case when own_t{{ k }} then list_position($tier_names, $tier_names[{{ k }}]) end, {% endfor %} null)::INTEGER as own_k
    from tiers_priced
),
labelled as (
    select *,
        case when not priced then 'unpriced' when nullbits <> 0 then 'excluded' else 'kept' end as status,
        -- quality on the first tier it ran on (the own tier: judged, else its logged feedback)
        case {% for k in tiers %} when own_t{{ k }} then q_t{{ k }} {% endfor %} end as q_own,
        case {% for k in tiers %} when own_t{{ k }} then (case when q_t{{ k }} is not null then n else 0 end) {% endfor %} else 0 end as q_own_n
    from classified
)
-- n(x): femto-dollars to nano-dollars, half up (costlab_fusd_to_usd), once per output row. The cube's sums
-- are weighted in millionths of a request (w): money divides by 10^12, counts and tokens by 10^6 (half up:
-- exact for whole weights), quality sums by 10^6 (a mean weighted by the requests each row stands for).
select
    day::INTEGER as day, status::VARCHAR as status, qbits::INTEGER as qbits,
    coalesce(own_k, list_position($tier_names, cur_tier))::INTEGER as shown,
    (case when status = 'excluded' then nullbits end)::INTEGER as nullbits,
    ((sum(n) + 500000) // 1000000)::BIGINT as n,
    coalesce((sum(n) filter (where own_k is null) + 500000) // 1000000, 0)::BIGINT as n_off,
    coalesce((sum(act_f) filter (where own_k is null) + 500000000000) // 1000000000000, 0)::BIGINT as off_actual_nusd,
    ((sum(act_f) + 500000000000) // 1000000000000)::BIGINT as actual_nusd,
    ((sum(act_f) + 500000000000) // 1000000000000)::BIGINT as current_nusd,
    (sum(q_own) / 1000000)::DOUBLE as q_own_sum,
    ((sum(q_own_n) + 500000) // 1000000)::BIGINT as q_own_n,
    ((sum(s_out) + 500000) // 1000000)::BIGINT as out_tokens,
    {% for k in tiers %}
    ((sum(cost_f_t{{ k }}) + 500000000000) // 1000000000000)::BIGINT as cost_t{{ k }},
    ((sum(warm_f_t{{ k }}) + 500000000000) // 1000000000000)::BIGINT as warmup_t{{ k }},
    (((sum(all_read_f_t{{ k }}) + 500000000000) // 1000000000000) - ((sum(write_f_t{{ k }}) + 500000000000) // 1000000000000)
        - ((sum(read_f_t{{ k }}) + 500000000000) // 1000000000000))::BIGINT as crd_t{{ k }},
    (((sum(all_write_f_t{{ k }}) + 500000000000) // 1000000000000) - ((sum(write_f_t{{ k }}) + 500000000000) // 1000000000000)
        - ((sum(read_f_t{{ k }}) + 500000000000) // 1000000000000))::BIGINT as cwd_t{{ k }},
    (sum(q_t{{ k }}) / 1000000)::DOUBLE as quality_t{{ k }},
{% if use_replays %}
    ((sum(oadj_f_t{{ k }}) + 500000000000) // 1000000000000)::BIGINT as oadj_t{{ k }},
    coalesce((sum(np_t{{ k }}) + 500000) // 1000000, 0)::BIGINT as npair_t{{ k }},
    coalesce((sum(tp_t{{ k }}) + 500000) // 1000000, 0)::BIGINT as tpair_t{{ k }},
{% else %}
    0::BIGINT as oadj_t{{ k }}, 0::BIGINT as npair_t{{ k }}, 0::BIGINT as tpair_t{{ k }},
{% endif %}
    ((sum(case when own_t{{ k }} then n else 0 end) + 500000) // 1000000)::BIGINT as nown_t{{ k }},
    ((sum(case when own_t{{ k }} then s_out else 0 end) + 500000) // 1000000)::BIGINT as town_t{{ k }},
    {% endfor %}
    any_value((select collisions from collisions))::BIGINT as collisions
from labelled
group by all
order by all
