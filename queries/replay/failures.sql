-- failures: the answers a judge or check found unsatisfactory, to read them side by side.
-- params:
--   run VARCHAR                      the run
--   limit BIGINT = 50                at most this many rows
-- returns:
--   feature VARCHAR                  the request's feature
--   tier VARCHAR                     the tier that failed
--   judge VARCHAR                    which judge or check failed it
--   verdict VARCHAR                  fail or loss
--   request_id VARCHAR               the request
--   prompt VARCHAR                   the last user message (first 200 characters)
--   original VARCHAR                 the logged answer (first 200 characters)
--   answer VARCHAR                   the tier's answer (first 200 characters), or its error
select coalesce(r.feature, s.stratum, '(none)')::VARCHAR as feature, j.tier::VARCHAR as tier, j.judge::VARCHAR as judge,
       j.verdict::VARCHAR as verdict, j.request_id::VARCHAR as request_id,
       left(coalesce(json_extract_string(p.request_json, '$.messages[-1].content'),
                     json_extract_string(p.request_json, '$.messages[-1].content[0].text'), ''), 200)::VARCHAR as prompt,
       left(p.response_text, 200)::VARCHAR as original,
       left(coalesce(x.response_text, x.error_type || ': ' || x.error_message), 200)::VARCHAR as answer
from judgements j
left join replay_sample s on s.run = j.run and s.source = j.source and s.request_id = j.request_id
left join requests r on r.source = j.source and r.request_id = j.request_id
left join payloads p on p.source = j.source and p.request_id = j.request_id
left join replays x on x.run = j.run and x.source = j.source and x.request_id = j.request_id and x.tier = j.tier
where j.run = $run and not j.good
order by feature, tier, judge, request_id
limit $limit::BIGINT
