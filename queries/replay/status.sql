-- status: every replay run with its progress and spend.
-- params:
--   run VARCHAR = NULL               one run, or NULL for all
-- returns:
--   run VARCHAR                      the run
--   kind VARCHAR                     replay or import
--   status VARCHAR                   planned, dry-run, running, complete, partial, interrupted, failed (the API
--                                    refused the key: resume continues it), imported
--   evidence VARCHAR                 what its answers feed: production (what-if, frontier, report, signals), test
--                                    (sent to a test server or another host than the platform's API: left out
--                                    until `replay include`), excluded (kept, left out: `replay exclude`)
--   platform VARCHAR                 where it was sent and is priced: anthropic, bedrock or vertex (NULL for imports)
--   created_at TIMESTAMPTZ           when it was created
--   sampled BIGINT                   requests in its sample
--   pairs BIGINT                     sample x tiers
--   ok BIGINT                        answered
--   errors BIGINT                    failed after the SDK's retries
--   not_sent BIGINT                  held back (budget) or never sent
--   in_doubt BIGINT                  in flight when the process was killed: may have been billed, not re-sent
--   missing BIGINT                   not sent yet (resume sends these); 0 for a dry run (status dry-run: only estimated)
--   replay_cost_usd DECIMAL(18,9)    replay spend
--   judge_cost_usd DECIMAL(18,9)     judge spend
--   max_usd DECIMAL(18,9)            the budget
--   judge_in_doubt BIGINT            answers with a judge call in doubt (may have been billed; never asked again)
--   in_doubt_usd DECIMAL(18,9)       the worst case of the calls in doubt, replays and judging: counted against max_usd
select u.run::VARCHAR as run, u.kind::VARCHAR as kind, u.status::VARCHAR as status,
       coalesce(e.evidence, 'production')::VARCHAR as evidence,
       (case when u.kind = 'replay' then coalesce(json_extract_string(u.params, '$.platform'), 'anthropic') end)::VARCHAR
           as platform,
       u.created_at,
       coalesce(s.n, 0)::BIGINT as sampled,
       (coalesce(s.n, 0) * len(u.tiers))::BIGINT as pairs,
       coalesce(x.ok, 0)::BIGINT as ok, coalesce(x.errors, 0)::BIGINT as errors,
       coalesce(x.not_sent, 0)::BIGINT as not_sent, coalesce(x.in_doubt, 0)::BIGINT as in_doubt,
       (case when u.status = 'dry-run' then 0
             else greatest(coalesce(s.n, 0) * len(u.tiers) - coalesce(x.ok, 0) - coalesce(x.errors, 0) - coalesce(x.in_doubt, 0), 0)
        end)::BIGINT as missing,
       coalesce(x.cost, 0)::DECIMAL(18,9) as replay_cost_usd,
       coalesce(j.cost, 0)::DECIMAL(18,9) as judge_cost_usd,
       u.max_usd::DECIMAL(18,9) as max_usd,
       coalesce(j.in_doubt, 0)::BIGINT as judge_in_doubt,
       (coalesce(x.doubt_usd, 0) + coalesce(j.doubt_usd, 0))::DECIMAL(18,9) as in_doubt_usd
from replay_runs u
left join replay_run_evidence e using (run)
left join (select run, count(*) as n from replay_sample group by run) s using (run)
left join (select run, count(*) filter (where status = 'ok') as ok, count(*) filter (where status = 'error') as errors,
                  count(*) filter (where status = 'not_sent') as not_sent, count(*) filter (where status = 'sending') as in_doubt,
                  sum(cost_usd) as cost, sum(in_doubt_usd) as doubt_usd
           from replays group by run) x using (run)
left join (select run, sum(judge_cost_usd) as cost, count(*) filter (where details->>'in_doubt' is not null) as in_doubt,
                  sum(in_doubt_usd) as doubt_usd
           from judgements group by run) j using (run)
where $run is null or u.run = $run
order by u.created_at, u.run
