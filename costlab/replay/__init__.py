"""Replay: send a sample of logged requests through other tiers, judge the answers, record it all.

    spec = ReplaySpec(sample=200, tiers=["haiku", "sonnet"], judge="opus", max_usd=Decimal("5"))
    run, est = plan(store, spec)            # sample drawn and stored; est: cost per tier
    outcome = execute(store, run)           # send (resumable), then checks and judges
    results(store, run)                     # pass / win rates with intervals, cost per good answer

The tables (replay_runs, replay_sample, replays, judgements) are described in docs/replay.md.
This module only re-exports; the modules, each owning one thing, import one way:

    run        plan / execute / status / results / failures (the whole run)
    plan       a run created: sample, tiers resolved to models, estimate, budget check
    batch      --batch: Message Batches            send       the replays through the dispatcher
    judge      pairwise and rubric judges          checks     deterministic checks (SQL, JSON Schema)
    dispatch   every paid call: threads within the limiter and the budget
    attempts   one paid call, attempt by attempt (retries, error types)
    providers  Claude API, Bedrock, Vertex: one registry of SDK clients
    journal    a line before every attempt; reconcile books a killed run's calls in doubt
    booking    answered calls written to replays, priced     jobs     the pairs still to send
    budget     --max-usd: spend and reservations   limiter    adaptive concurrency
    interrupts Ctrl-C / SIGTERM (Stopper)          importer   `replay import`: recorded outcomes
"""

from costlab.replay.plan import BudgetError, ReplaySpec, estimate, mark_dry_run, qualifying, set_budget
from costlab.replay.run import delete, exclude, execute, failures, include, plan, results, status
from costlab.replay.send import AccountError, Outcome

__all__ = ["AccountError", "BudgetError", "Outcome", "ReplaySpec", "delete", "estimate", "exclude", "execute", "failures",
           "include", "mark_dry_run", "plan", "qualifying", "results", "set_budget", "status"]
