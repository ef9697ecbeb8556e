-- unpriced_requests: requests costlab could not price, grouped by why, so the gap in every cost figure has a name.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
-- returns:
--   model VARCHAR                    model id as billed ('(none)' when the log had none)
--   platform VARCHAR                 anthropic, bedrock, vertex, ...
--   speed VARCHAR                    standard or fast
--   unpriced_reason VARCHAR          why no price was in force
--   unpriced_requests BIGINT         how many requests
--   first_seen TIMESTAMPTZ           earliest such request
--   last_seen TIMESTAMPTZ            latest such request
--   input_tokens BIGINT              uncached input tokens left unpriced
--   output_tokens BIGINT             output tokens left unpriced
--   cache_tokens BIGINT              cache reads and writes left unpriced
--   sample_request_id VARCHAR        one of the requests, to look at
--
-- Counts and tokens are weighted by sample_weight (the requests a sampled row stands for).
-- Fix these with a [[price]] (or an alias) in costlab.toml; `costlab prices check` lists the same gaps.
select
    coalesce(model, '(none)')::VARCHAR                                     as model,
    coalesce(platform, 'anthropic')::VARCHAR                               as platform,
    coalesce(speed, 'standard')::VARCHAR                                   as speed,
    unpriced_reason::VARCHAR                                               as unpriced_reason,
    sum(sample_weight)::BIGINT                                             as unpriced_requests,
    min(ts)::TIMESTAMPTZ                                                   as first_seen,
    max(ts)::TIMESTAMPTZ                                                   as last_seen,
    coalesce(sum(input_tokens * sample_weight), 0)::BIGINT                 as input_tokens,
    coalesce(sum(output_tokens * sample_weight), 0)::BIGINT                as output_tokens,
    coalesce(sum((coalesce(cache_read_tokens, 0) + coalesce(cache_write_5m_tokens, 0)
                  + coalesce(cache_write_1h_tokens, 0)) * sample_weight), 0)::BIGINT
                                                                           as cache_tokens,
    min(request_id)::VARCHAR                                               as sample_request_id
from costed_requests
where not priced
  and ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
group by 1, 2, 3, 4
order by unpriced_requests desc, model, platform, speed, unpriced_reason
