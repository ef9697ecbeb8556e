-- unpinned_aliases: traffic sent to a model alias (a name without a date snapshot, or -latest) by features whose team pins model versions, so behaviour can shift under them.
-- engines: duckdb, spark
-- rank: 14
-- needs: pin_versions
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
--   tz VARCHAR = UTC                      time zone whose midnights divide the days (e.g. Europe/Berlin)
--   pin_versions VARCHAR = NULL            '*' for every feature, or the comma-separated features that pin ([signals] pin_versions)
--   min_requests BIGINT = 1                requests on an alias before a finding (any: one is already unpinned)
-- returns:
--   signal VARCHAR                        detector id
--   severity VARCHAR                      high, medium or low
--   segment VARCHAR                       what the finding concerns
--   evidence VARCHAR                      the figures and their baseline, in words
--   observed DOUBLE                       the measured figure (here: requests a week on the alias)
--   baseline DOUBLE                       what it is compared with (0: none expected)
--   requests BIGINT                       requests on the alias over the window
--   weekly_impact_usd DECIMAL(18,6)       NULL: the risk is behaviour, not dollars
--   suggestion VARCHAR                    the suggested change
--
-- The spelling a request used is attributes.model_raw (ingest keeps it when it differs from the
-- normalised model id) or else the model id itself. Prices play no part, so this file reads the
-- requests table, and only the rows of models that have a dated snapshot (the only ones an alias can
-- stand for: a -latest alias resolves to a dated id too): DuckDB pushes that list into the scan, so
-- the attributes of the other rows are never read. A spelling is unpinned when it ends in -latest, or
-- when the catalogue knows a dated snapshot (a name ending in -YYYYMMDD, in models or model_aliases) for
-- the model it resolves to and the spelling is not dated. A model that has no dated snapshot at all
-- (the newest ones are published under one id only) is pinned by its id: there is nothing more
-- specific to pin to. Medium: nothing is wrong yet, but the team said it pins.
with win as (
    select greatest($since::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, min(ts))))) as since,
           least($until::TIMESTAMPTZ, timezone($tz::VARCHAR, date_trunc('day', timezone($tz::VARCHAR, max(ts))) + interval 1 day)) as until
    from costed_requests where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
weeks as (select greatest(epoch(until - since) / 604800.0, 1.0 / 7) as weeks from win),
listed as (
    select distinct trim(x) as feature
    from unnest(string_split(coalesce($pin_versions::VARCHAR, ''), ',')) t(x) where trim(x) <> ''
),
-- the newest dated snapshot of each model the catalogue knows
snapshots as (
    select model, max(name) as snapshot
    from (select model, model as name from models union all select model, alias from model_aliases)
    where regexp_matches(name, '-\d{8}$')
    group by model
),
spellings as (
    select feature, model, coalesce(attributes->>'model_raw', model) as raw, round(sum(sample_weight))::BIGINT as requests,
           max(ts) as last_seen
    from requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
      and model in (select model from snapshots)
      and (exists (select 1 from listed where feature = '*') or feature in (select feature from listed))
    group by all
),
classified as (
    select s.*, costlab_clean_model(s.raw) as clean, n.snapshot
    from spellings s left join snapshots n on n.model = s.model
),
found as (
    select * from classified
    where (clean like '%-latest' or (snapshot is not null and not regexp_matches(clean, '-\d{8}$')))
      and requests >= $min_requests::BIGINT
)
select
    'unpinned_aliases'::VARCHAR                                                 as signal,
    'medium'::VARCHAR                                                           as severity,
    ('feature=' || coalesce(feature, '(none)') || ' model=' || raw)::VARCHAR     as segment,
    (format('{:,}', requests) || ' requests (' || round(requests / (select weeks from weeks), 1)
        || ' a week, last on ' || strftime(timezone($tz::VARCHAR, last_seen), '%Y-%m-%d') || ') named ' || raw || ', an alias that '
        || case when snapshot is not null then 'resolves to ' || snapshot || ' today' else 'follows the newest model' end
        || ' and may move to a newer snapshot; the team pins model versions ([signals] pin_versions)')::VARCHAR
                                                                                as evidence,
    (requests / (select weeks from weeks))::DOUBLE                              as observed,
    0::DOUBLE                                                                   as baseline,
    requests::BIGINT                                                            as requests,
    NULL::DECIMAL(18,6)                                                         as weekly_impact_usd,
    ('pin ' || coalesce(feature, '(none)') || ' to '
        || coalesce(snapshot, 'a dated snapshot of ' || model) || ' instead of ' || raw)::VARCHAR as suggestion
from found
order by requests desc
