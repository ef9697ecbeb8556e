-- sample: a seeded, stratified sample of replayable requests (those with a logged request body).
-- params:
--   n BIGINT = 100                   how many requests
--   seed VARCHAR = 0                 same seed, same sample
-- returns:
--   source VARCHAR                   the request's source
--   request_id VARCHAR               the request's id
--   stratum VARCHAR                  its stratum (e.g. feature/tier)
--
-- Reads the temporary view _replay_candidates (source, request_id, stratum), which the caller
-- builds from costed_requests with the user's window and filter. Every stratum gets one request
-- first (while n allows), then the rest is allocated in proportion to stratum size: rows are taken
-- in order of their position within their stratum, (rank - 0.5) / size, ties broken by the hash.
with ranked as (
    select source, request_id, stratum,
           hash(source || '/' || request_id || '/' || $seed) as h,
           row_number() over (partition by stratum order by hash(source || '/' || request_id || '/' || $seed), request_id) as rk,
           count(*) over (partition by stratum) as size
    from _replay_candidates
)
select source::VARCHAR as source, request_id::VARCHAR as request_id, stratum::VARCHAR as stratum
from ranked
order by (rk = 1) desc, (rk - 0.5) / size, h, request_id
limit $n::BIGINT
