-- latency_measured: the requests report/latency.sql measures in the window (ok, not sent through batch): past [report] exact_percentiles_max its percentiles are approximate.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
-- returns:
--   measured BIGINT                  ok, non-batch requests in the window
select count(*)::BIGINT as measured
from costed_requests
where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
  and status = 'ok' and coalesce(service_tier, 'standard') <> 'batch'
