-- activity: distinct active users and customers per period and per day (UTC, or the time zone tz), and the ingest rejects of each period.
-- engines: duckdb, spark
-- params:
--   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
--   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
--   prev_since TIMESTAMPTZ = 1970-01-01  start of the previous window (it ends at since)
--   tz VARCHAR = UTC                 time zone whose midnights divide the days (e.g. Europe/Berlin)
-- returns:
--   period VARCHAR                   'current' or 'previous' (both period rows always present)
--   day DATE                         calendar day in time zone tz; NULL on the row for the whole period
--   active_users BIGINT              distinct user ids
--   active_customers BIGINT          distinct customer ids
--   rejects BIGINT                   records refused by the ingests that loaded the period's requests (NULL on day rows)
--
-- Distinct counts do not add up across days, so they come from the few distinct (day, user),
-- (day, customer) and (period, ingest) pairs of one scan, counted again per period.
with windowed as (
    select
        case when ts >= $since::TIMESTAMPTZ then 'current' else 'previous' end as period,
        -- the day as a number: in UTC no time zone work per request
        case when $tz::VARCHAR = 'UTC' then epoch_ms(ts) // 86400000
             else (ts at time zone $tz::VARCHAR)::DATE - DATE '1970-01-01' end as day,
        user_id, customer_id, ingest_id
    from costed_requests
    where ts >= $prev_since::TIMESTAMPTZ and ts < $until::TIMESTAMPTZ
),
pairs as (
    select period, day, user_id, customer_id, ingest_id,
           grouping(user_id) = 0 as is_user, grouping(customer_id) = 0 as is_customer, grouping(ingest_id) = 0 as is_ingest
    from windowed
    group by grouping sets ((period, day, user_id), (period, day, customer_id), (period, ingest_id))
),
counted as (
    select
        period, day, grouping(day) = 1 as whole_period,
        count(distinct user_id) filter (where is_user)                     as active_users,
        count(distinct customer_id) filter (where is_customer)             as active_customers,
        list(ingest_id) filter (where is_ingest and ingest_id is not null) as ingest_ids
    from pairs
    group by grouping sets ((period, day), (period))
    -- the ingest pairs carry no day: as (period, NULL) rows they would read as a day of their own
    having not (grouping(day) = 0 and day is null)
),
periods as (
    select unnest(['current', 'previous']) as period
)
select
    p.period::VARCHAR                                                      as period,
    ('1970-01-01'::DATE + c.day::INTEGER)                                  as day,
    coalesce(c.active_users, 0)::BIGINT                                    as active_users,
    coalesce(c.active_customers, 0)::BIGINT                                as active_customers,
    (case when c.whole_period is not false then
        (select count(*) from rejects r where list_contains(c.ingest_ids, r.ingest_id)) end)::BIGINT
                                                                           as rejects
from periods p
left join counted c on c.period = p.period
order by p.period, c.day nulls first
