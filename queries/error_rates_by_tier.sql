-- error_rates_by_tier: how often each tier failed over a window, and how: rate limits, overload, context overflow.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
-- returns:
--   tier VARCHAR                     the model's tier line ('(unknown)' when not in the catalogue)
--   requests BIGINT                  every request, ok or error
--   errors BIGINT                    requests with status 'error'
--   error_rate DOUBLE                errors / requests
--   rate_limited BIGINT              429 rate_limit errors
--   rate_limited_rate DOUBLE         rate_limited / requests
--   overloaded BIGINT                529 overloaded errors
--   overloaded_rate DOUBLE           overloaded / requests
--   context_exceeded BIGINT          prompts too long for the model's context window
--   context_exceeded_rate DOUBLE     context_exceeded / requests
--   other_errors BIGINT              every other error (invalid_request, timeout, api_error, ...)
--   unpriced_requests BIGINT         requests with no price in force (their cost is unknown)
--
-- An error counts as rate_limit when either its error_type or its HTTP status says so (429), and
-- as overloaded likewise (529), since some sources carry only one of the two. Counts are weighted by
-- sample_weight (the requests a sampled row stands for); the rates are ratios of weighted counts.
with classified as (
    select
        coalesce(tier, '(unknown)') as tier,
        status = 'error' as is_error,
        -- coalesce: a source with an error type but no HTTP status (or the reverse) must not turn
        -- a comparison NULL, or `not is_rate_limited` below would drop the row from every class.
        coalesce(status = 'error' and (error_type = 'rate_limit' or http_status = 429), false) as is_rate_limited,
        coalesce(status = 'error' and (error_type = 'overloaded' or http_status = 529), false) as is_overloaded,
        coalesce(status = 'error' and error_type = 'context_exceeded', false) as is_context_exceeded,
        priced, sample_weight
    from costed_requests
    where ts >= $since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
per_tier as (
    select
        tier,
        sum(sample_weight)                                                        as requests,
        coalesce(sum(sample_weight) filter (where is_error), 0)                   as errors,
        coalesce(sum(sample_weight) filter (where is_rate_limited), 0)            as rate_limited,
        coalesce(sum(sample_weight) filter (where is_overloaded and not is_rate_limited), 0)
                                                                                  as overloaded,
        coalesce(sum(sample_weight) filter (where is_context_exceeded and not is_rate_limited and not is_overloaded), 0)
                                                                                  as context_exceeded,
        coalesce(sum(sample_weight) filter (where not priced), 0)                 as unpriced_requests
    from classified
    group by tier
)
select
    tier::VARCHAR                                                          as tier,
    requests::BIGINT                                                       as requests,
    errors::BIGINT                                                         as errors,
    (errors::DOUBLE / requests::DOUBLE)::DOUBLE                                            as error_rate,
    rate_limited::BIGINT                                                   as rate_limited,
    (rate_limited::DOUBLE / requests::DOUBLE)::DOUBLE                                      as rate_limited_rate,
    overloaded::BIGINT                                                     as overloaded,
    (overloaded::DOUBLE / requests::DOUBLE)::DOUBLE                                        as overloaded_rate,
    context_exceeded::BIGINT                                               as context_exceeded,
    (context_exceeded::DOUBLE / requests::DOUBLE)::DOUBLE                                  as context_exceeded_rate,
    (errors - rate_limited - overloaded - context_exceeded)::BIGINT       as other_errors,
    unpriced_requests::BIGINT                                              as unpriced_requests
from per_tier
order by requests desc, tier
