-- day_checksums: per UTC day, how many costed requests there are and a checksum of who they are and what they cost.
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive (a UTC midnight)
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive (a UTC midnight)
-- returns:
--   day DATE                         the UTC day of ts (the lake's partition)
--   requests BIGINT                  rows that day
--   checksum HUGEINT                 sum over the rows of hash(source, request_id, and every price column but price_version)
--
-- `costlab export` compares these with the lake's manifest to find the days to write again: a new
-- request, a removed one, or a re-price that changes a cost, tier or unpriced reason changes its
-- day's checksum; a price change that leaves a day's costs as they were does not (that day keeps
-- its file, and the price_version it was written with). The same SQL runs over a lake
-- (costlab.lake.read registers costed_requests over its files), which is how a lake is verified
-- against its manifest. DuckDB's hash(): checksums compare only within one DuckDB version (the
-- manifest records which; another version rewrites every day once).
select
    (ts at time zone 'UTC')::DATE                                          as day,
    count(*)::BIGINT                                                       as requests,
    sum(hash(source, request_id, tier, priced, unpriced_reason, cost_input_usd, cost_output_usd,
             cost_cache_write_usd, cost_cache_read_usd, cost_tools_usd, cost_usd, price_multiplier,
             cost_list_usd))::HUGEINT
                                                                           as checksum
from costed_requests
where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
group by 1
order by 1
