-- requests: the lake's rows of some UTC days: every costed request with its price, price_version and day.
-- params:
--   since TIMESTAMPTZ                midnight (UTC) of the first day
--   until TIMESTAMPTZ                midnight (UTC) after the last day
--   days VARCHAR                     the days to write, YYYY-MM-DD joined by commas, all in [since, until)
-- returns:
--   *                                every column of costed_requests (views/costed_requests.sql), in its order
--                                    (attributes as VARCHAR: Parquet's JSON type reads as bytes in polars),
--                                    but the link keys: DuckDB's hash() is no other engine's, so the lake's
--                                    views key on the ids themselves (costlab.engine.lake.costed_requests_sql)
--   price_version UBIGINT            the price card the prices come from (costlab_price_version())
--   day DATE                         the UTC day of ts: the Hive partition (a folder name, not a column in the files)
--
-- costlab export writes this with COPY ... PARTITION_BY (day) (costlab/lake/export.py). Money stays
-- as the store holds it: DECIMAL(18,9) costs (Parquet decimals: the integer nano-dollars), the
-- DECIMAL(38,6) sample_weight; never a float. attributes is written as text, its JSON unchanged.
-- Every row of costed_requests is priced at the current card (stored, or priced as it is read), so
-- its price_version is the current one.
select
    * exclude (request_key, parent_key) replace (attributes::VARCHAR as attributes),
    costlab_price_version()                                                as price_version,
    (ts at time zone 'UTC')::DATE                                          as day
from costed_requests
where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
  and (ts at time zone 'UTC')::DATE in (select unnest(string_split($days::VARCHAR, ','))::DATE)
