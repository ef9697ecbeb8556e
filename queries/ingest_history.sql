-- ingest_history: every ingest run, newest first, with what it added, what it rejected and why.
-- params:
--   since TIMESTAMPTZ = 1970-01-01   runs started at or after this instant
--   until TIMESTAMPTZ = 9999-12-31   runs started before this instant
-- returns:
--   ingest_id BIGINT                 the run's id (requests.ingest_id points at it)
--   file VARCHAR                     the file or object read
--   format VARCHAR                   the log format detected or given
--   started_at TIMESTAMPTZ           when the run started
--   seconds DOUBLE                   how long it took (NULL if it never finished)
--   rows_read BIGINT                 records read from the file
--   rows_added BIGINT                new requests stored
--   rows_present BIGINT              requests skipped because they were already stored
--   rows_rejected BIGINT             records refused, as the run counted them
--   rejects_stored BIGINT            rows of the rejects table for this run
--   top_reject_reason VARCHAR        the most frequent reason among them (NULL when none)
--   requests_now BIGINT              requests from this run still in the store
--   unpriced_requests BIGINT         of those, the ones with no price in force
with reasons as (
    select ingest_id, reason, count(*) as n
    from rejects
    group by ingest_id, reason
),
reject_counts as (
    -- Ties between reasons go to the alphabetically first, so the column is stable run to run.
    select ingest_id, sum(n) as rejects_stored, arg_max(reason, (n, -rank_in_ingest)) as top_reject_reason
    from (select *, row_number() over (partition by ingest_id order by reason) as rank_in_ingest from reasons)
    group by ingest_id
),
request_counts as (
    select ingest_id, count(*) as requests_now, count(*) filter (where not priced) as unpriced_requests
    from costed_requests
    group by ingest_id
)
select
    i.ingest_id::BIGINT                                                    as ingest_id,
    i.file::VARCHAR                                                        as file,
    i.format::VARCHAR                                                      as format,
    i.started_at::TIMESTAMPTZ                                              as started_at,
    ((epoch_ms(i.finished_at) - epoch_ms(i.started_at)) / 1000.0)::DOUBLE  as seconds,
    i.rows_read::BIGINT                                                    as rows_read,
    i.rows_added::BIGINT                                                   as rows_added,
    i.rows_present::BIGINT                                                 as rows_present,
    i.rows_rejected::BIGINT                                                as rows_rejected,
    coalesce(rc.rejects_stored, 0)::BIGINT                                 as rejects_stored,
    rc.top_reject_reason::VARCHAR                                          as top_reject_reason,
    coalesce(q.requests_now, 0)::BIGINT                                    as requests_now,
    coalesce(q.unpriced_requests, 0)::BIGINT                               as unpriced_requests
from ingests i
left join reject_counts rc using (ingest_id)
left join request_counts q using (ingest_id)
where i.started_at >= $since::TIMESTAMPTZ and i.started_at < $until::TIMESTAMPTZ
order by i.ingest_id desc
