-- results: per feature, tier and judge, the pass (or win) rate with a 95% interval, and the cost.
-- params:
--   run VARCHAR                      the run
-- returns:
--   feature VARCHAR                  the request's feature (for imports: the stratum, e.g. the MMLU subject)
--   tier VARCHAR                     the tier replayed on
--   judge VARCHAR                    pairwise:TIER, rubric:TIER, check:..., import:correct
--   judged BIGINT                    answers with a verdict from this judge
--   good BIGINT                      satisfactory: pass, win or tie (not worse than the reference)
--   pass_rate DOUBLE                 good / judged
--   pass_low DOUBLE                  Wilson 95% interval, lower bound
--   pass_high DOUBLE                 Wilson 95% interval, upper bound
--   wins BIGINT                      pairwise: the tier's answer preferred in both orders on balance
--   ties BIGINT                      pairwise: no preference
--   losses BIGINT                    pairwise: the reference preferred
--   inconsistent_rate DOUBLE         pairwise: share of pairs where the two orders disagreed
--   incomplete BIGINT                pairwise: pairs where only the first order was judged (the second
--                                    failed; its cost is booked, no verdict; resume completes them)
--   replay_cost_usd DECIMAL(18,9)    what the replays of this feature on this tier cost
--   cost_per_good_usd DECIMAL(18,9)  replay cost per satisfactory answer (NULL when none)
--   judge_cost_usd DECIMAL(18,9)     what this judge cost (booked apart from the replay cost)
with feat as (
    select s.source, s.request_id, coalesce(r.feature, s.stratum, '(none)') as feature
    from replay_sample s left join requests r on r.source = s.source and r.request_id = s.request_id
    where s.run = $run
),
spend as (
    select f.feature, x.tier, sum(coalesce(x.cost_usd, 0)) as cost
    from replays x join feat f using (source, request_id)
    where x.run = $run
    group by all
),
j as (
    select f.feature, j.tier, j.judge,
           count(*) filter (where j.good is not null) as n,
           count(*) filter (where j.good) as good,
           count(*) filter (where j.verdict = 'win') as wins,
           count(*) filter (where j.verdict = 'tie') as ties,
           count(*) filter (where j.verdict = 'loss') as losses,
           avg(case when j.order_consistent is null then null when j.order_consistent then 0.0 else 1.0 end) as inconsistent,
           count(*) filter (where j.details->>'incomplete' is not null) as incomplete,
           sum(coalesce(j.judge_cost_usd, 0)) as judge_cost
    from judgements j join feat f using (source, request_id)
    where j.run = $run
    group by all
),
w as (
    select *, good / nullif(n, 0) as p, 1.959963984540054 as z from j
)
select w.feature::VARCHAR as feature, w.tier::VARCHAR as tier, w.judge::VARCHAR as judge,
       n::BIGINT as judged, good::BIGINT as good, p::DOUBLE as pass_rate,
       greatest(0.0, (p + z * z / (2 * n) - z * sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n))::DOUBLE as pass_low,
       least(1.0, (p + z * z / (2 * n) + z * sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n))::DOUBLE as pass_high,
       wins::BIGINT as wins, ties::BIGINT as ties, losses::BIGINT as losses, inconsistent::DOUBLE as inconsistent_rate,
       incomplete::BIGINT as incomplete,
       coalesce(s.cost, 0)::DECIMAL(18,9) as replay_cost_usd,
       (s.cost / nullif(good, 0))::DECIMAL(18,9) as cost_per_good_usd,
       judge_cost::DECIMAL(18,9) as judge_cost_usd
from w left join spend s on s.feature = w.feature and s.tier = w.tier
order by feature, judge, tier
