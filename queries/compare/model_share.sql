-- compare_model_share: weighted requests per day and model, for when a model's share of traffic moved (the weekly report's model-switch section).
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01        start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31        end of the window, exclusive
-- returns:
--   day DATE                              UTC day
--   model VARCHAR                         the model ('(none)' when not logged)
--   requests DECIMAL(38,6)                weighted requests (sample_weight)
select ts::DATE as day, coalesce(model, '(none)') as model, sum(sample_weight) as requests
from requests
where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
group by all
order by day, model
