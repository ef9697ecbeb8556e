-- coverage: what a reconciliation in the window can check against, one row.
-- With no usage report, no cost report and no logged reported cost in the window, reconcile has
-- nothing to compare and says so (exit 6) instead of passing.
-- params:
--   since TIMESTAMPTZ = 1970-01-01   first day, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end, exclusive
-- returns:
--   usage_buckets BIGINT             Admin API usage report buckets in the window
--   cost_buckets BIGINT              Admin API cost report buckets in the window
--   reported_cost_requests BIGINT    logged requests that carry a gateway's reported cost
--   requests BIGINT                  logged requests in the window
select
    (select count(*) from usage_buckets where report = 'usage' and starting_at >= $since and starting_at < $until)
        as usage_buckets,
    (select count(*) from usage_buckets where report = 'cost' and starting_at >= $since and starting_at < $until)
        as cost_buckets,
    (select count(reported_cost_usd) from requests where ts >= $since and ts < $until) as reported_cost_requests,
    (select count(*) from requests where ts >= $since and ts < $until) as requests;
