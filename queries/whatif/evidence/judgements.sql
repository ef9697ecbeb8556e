-- whatif_judgements: each request's judged quality and verdict per tier (the what-if passes include this when the store has a judgements table); runs against a test server and excluded runs are left out (replay_runs_ignored).
-- params: none
-- returns:
--   source VARCHAR                        the request's source
--   request_id VARCHAR                    the request's id
--   tier VARCHAR                          the tier the judged answer came from
--   quality DOUBLE                        mean score (0..1; good/not good as 1/0 where no score)
--   good BOOLEAN                          every judgement says good enough (good, else a pass/win/tie verdict, else score >= 0.5)
select source, request_id, tier,
       avg(coalesce(score, case when good then 1.0 when not good then 0.0 end)) as quality,
       bool_and(coalesce(good, verdict in ('pass', 'win', 'tie'), score >= 0.5)) as good
from judgements
where not exists (select 1 from replay_runs_ignored i where i.run = judgements.run)  -- test and excluded runs
group by all
