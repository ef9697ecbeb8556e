-- whatif_replays: the latest successful replay of each request on each tier, with its output tokens (the what-if passes include this when the store has a replays table); runs against a test server and excluded runs are left out (replay_runs_ignored).
-- params: none
-- returns:
--   source VARCHAR                        the request's source
--   request_id VARCHAR                    the request's id
--   tier VARCHAR                          the tier it was replayed on
--   output_tokens BIGINT                  output tokens of the replayed answer
select source, request_id, tier, output_tokens from replays
where status = 'ok' and output_tokens is not null
  and not exists (select 1 from replay_runs_ignored i where i.run = replays.run)  -- test and excluded runs
qualify row_number() over (partition by source, request_id, tier order by finished_at desc nulls last) = 1
