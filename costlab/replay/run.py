"""A replay run from start to end: plan it (sample and estimate), execute it (send, check, judge;
resumable), and read it back (status, results, failures).

    spec = ReplaySpec(sample=200, tiers=["haiku", "sonnet"], judge="opus", max_usd=Decimal("5"))
    run, est = plan(store, spec)            # sample drawn and stored; est: cost per tier
    outcome = execute(store, run)           # send (resumable), then checks and judges
    results(store, run)                     # pass / win rates with intervals, cost per good answer

The tables (replay_runs, replay_sample, replays, judgements) are described in docs/replay.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

import polars as pl

from costlab.display import plural
from costlab.errors import ConfigError
from costlab.replay.batch import send_batch
from costlab.replay.budget import Budget, budget_spent, judge_spent
from costlab.replay.checks import load_schemas, run_checks
from costlab.replay.interrupts import Stopper
from costlab.replay.jobs import load_jobs
from costlab.replay.journal import Journal, journal_path, reconcile
from costlab.replay.judge import Calls, Judge, judge_pairwise, judge_rubric
from costlab.replay.limiter import Limiter
from costlab.replay.plan import (BudgetError, ReplaySpec, api_url, check_budget, create_run, estimate, mark_if_test,
                                 mark_evidence, prepare, run_params, set_run_tiers, tier_models)
from costlab.replay.providers import key_hint, make_client, platform_of
from costlab.replay.send import AccountError, Outcome, send

if TYPE_CHECKING:
    from costlab.store import Store


def plan(store: "Store", spec: ReplaySpec) -> tuple[str, pl.DataFrame]:
    """Draw and store the sample (a run in status 'planned'); return its name and its cost estimate.

    Raises:
        BudgetError: the expected cost is above spec.max_usd, or unknown (a tier model without a price).
    """
    prepare(store)
    load_schemas(store)  # a bad [replay.schemas] entry fails here, before a run exists
    name = create_run(store, spec)
    try:
        est = estimate(store, name, batch=spec.batch)
        check_budget(est, spec.max_usd)
    except BudgetError:
        # A refused run leaves nothing behind: the same --run name can be tried again with other options.
        with store.transaction():
            store.execute("delete from replay_sample where run = ?", [name])
            store.execute("delete from replay_run_evidence where run = ?", [name])
            store.execute("delete from replay_runs where run = ?", [name])
        raise
    return name, est


def execute(store: "Store", run: str, *, base_url: str | None = None, concurrency: int | None = None,
            max_retries: int | None = None, max_usd: Decimal | None = None, batch: bool | None = None,
            client: Any = None, on_progress: Callable[[int, Decimal], None] | None = None,
            poll_interval: float = 10.0, timeout: float | None = None,
            on_interrupt: Callable[[int], None] | None = None) -> Outcome:
    """Send what the run still lacks (the first time: everything), then run the checks and judges.

    Resuming is calling this again: calls already answered, failed or in doubt are never made again.
    Ctrl-C or SIGTERM stop new calls at once (sending or judging), book the calls in flight and
    return with `interrupted` (status 'interrupted'). When the API refuses the key (401, 402, 403),
    the run stops with status 'failed' and AccountError is raised (its `outcome` says what was done);
    resume, with the right key, sends the refused calls. `on_interrupt(n)` is told of the n-th signal
    (from the signal handler: keep it to a write).
    """
    params = run_params(store, run)
    prepare(store)
    load_schemas(store)  # before anything is sent
    set_run_tiers(store, params)
    max_usd = max_usd if max_usd is not None else (Decimal(params["max_usd"]) if params.get("max_usd") else None)
    batch = params.get("batch", False) if batch is None else batch
    limiter = Limiter(concurrency or params.get("concurrency") or 8)
    settings = store.config.replay
    platform = params.get("platform", "anthropic")
    if platform_of(settings) != platform:
        # A run is priced and compared on one platform; its model ids were chosen for it.
        raise ConfigError(f"run {run!r} was planned on {platform}; [replay] provider is now {platform_of(settings)!r}. "
                          f"Resume it with provider = {platform!r}, or plan a new run.")
    if batch and platform != "anthropic":
        raise ConfigError(f"--batch: Message Batches are a Claude API feature, not part of the SDK's {platform} client")
    if client is None:
        client = make_client(settings, max_retries, limiter.on_response, base_url, timeout=timeout)
    # answers from a test server (or any host but the platform's API) are no production evidence
    url = str(client.base_url) if getattr(client, "base_url", None) else api_url(settings, base_url)
    mark_if_test(store, run, url, platform)
    with Stopper(on_interrupt) as stopper:
        store.execute("update replay_runs set status = 'running' where run = ?", [run])
        try:
            outcome, judged_short = _execute(store, run, params, client, limiter, max_usd, batch, platform, stopper,
                                             on_progress, poll_interval)
        except BaseException:
            # A bug, or a third Ctrl-C: the run is left resumable, never 'running'.
            _set_status(store, run, "interrupted" if stopper.interrupted else "failed")
            raise
        st = status(store, run).row(0, named=True)
        outcome.in_doubt = st["in_doubt"]
        final = ("failed" if outcome.failed else "interrupted" if outcome.interrupted
                 else "partial" if st["missing"] or st["not_sent"] or st["in_doubt"] or st["judge_in_doubt"] or judged_short
                 else "complete")
        _set_status(store, run, final)
    if outcome.failed:
        raise AccountError(f"run {run!r} stopped: {outcome.failed} `costlab replay resume {run}` continues it.", outcome)
    return outcome


def _execute(store: "Store", run: str, params: dict[str, Any], client: Any, limiter: Limiter, max_usd: Decimal | None,
             batch: bool, platform: str, stopper: Stopper, on_progress: Callable[[int, Decimal], None] | None,
             poll_interval: float) -> tuple[Outcome, bool]:
    journal = Journal(journal_path(store, run))
    try:
        jobs = load_jobs(store, run, service_tier="batch" if batch else "standard")
        # Calls a killed process left in flight: booked in doubt, at their worst case, before any budget is counted.
        doubt = reconcile(store, run, jobs)
        if doubt:
            jobs = load_jobs(store, run, service_tier="batch" if batch else "standard")
        if batch:
            outcome = send_batch(store, run, client, max_usd=max_usd, poll_interval=poll_interval, on_progress=on_progress,
                                 stopper=stopper)
        else:
            outcome = send(store, run, client, jobs, limiter, max_usd=max_usd, on_progress=on_progress, stopper=stopper,
                           journal=journal, platform=platform)
        judged_short = False
        if stopper.aborted.is_set():
            outcome.interrupted = stopper.interrupted
            return outcome, judged_short
        run_checks(store, run)
        if params.get("judge"):
            who = params["judge"]
            model = params.get("judge_model") or params["models"].get(who) or _model(store, who)
            judge_as = Judge(who, model, (params.get("model_ids") or {}).get(who, model), platform,
                                   (params.get("geo") or {}).get(who, "global"))
            tiers = list(params["tiers"])
            # One budget over replays and judging: judge calls stop before the run's spend could cross it.
            calls = Calls(client, journal, Budget(max_usd, budget_spent(store, run)), limiter, stopper)
            _, skipped = judge_pairwise(store, run, calls, judge_as, tiers)
            if store.config.replay.get("rubric_judge") and not stopper.aborted.is_set():
                _, more = judge_rubric(store, run, calls, judge_as)
                skipped += more
            if skipped:
                judged_short = True
                outcome.notes.append(f"judging stopped before the budget: {plural(skipped, 'answer')} not judged "
                                     "(resume with a higher --max-usd judges them)")
            if calls.refused and outcome.failed is None:
                outcome.failed = (f"the API refused the judge's key ({calls.refused[0]}): check {key_hint(platform)}. "
                                  "Nothing was billed for the refused calls; resume judges those answers once the key "
                                  "is right.")
            outcome.judge_spent_usd = judge_spent(store, run)
        outcome.interrupted = stopper.interrupted
        return outcome, judged_short
    finally:
        journal.close()


def _set_status(store: "Store", run: str, value: str) -> None:
    try:
        store.execute("update replay_runs set status = ? where run = ?", [value, run])
    except Exception:  # the store itself failed: what it holds is as the last commit left it
        pass


def _model(store: "Store", tier: str) -> str:
    return tier_models(store, [tier])[tier]


def status(store: "Store", run: str | None = None) -> pl.DataFrame:
    """Every run (or one): sampled, answered, failed, not sent, in doubt, missing, spend."""
    if run is not None:
        run_params(store, run)
    return store.run_query("replay/status", run=run)


def exclude(store: "Store", run: str) -> None:
    """Keep the run, but leave its replays and judgements out of every production figure (what-if,
    frontier, report, signals) until `include`."""
    run_params(store, run)
    mark_evidence(store, run, "excluded", reason="excluded by hand (costlab replay exclude)")


def include(store: "Store", run: str) -> None:
    """Count the run's evidence in production figures: undoes `exclude`, and is how a run sent to a
    test server or a gateway is asked for (its answers are then taken as the models' own)."""
    run_params(store, run)
    mark_evidence(store, run, "production", reason="included by hand (costlab replay include)")


def delete(store: "Store", run: str) -> dict[str, int]:
    """Delete the run and everything it recorded (sample, replays, judgements, batches, its journal);
    logged requests and payloads are never touched. Returns the rows deleted per table."""
    run_params(store, run)
    tables = ("judgements", "replays", "replay_batches", "replay_sample", "replay_run_evidence", "replay_runs")
    counts = {t: int(store.scalar(f"select count(*) from {t} where run = ?", [run])) for t in tables}
    with store.transaction():
        for t in tables:
            store.execute(f"delete from {t} where run = ?", [run])
    path = journal_path(store, run)
    if path is not None and path.exists():
        path.unlink()
    return counts


def results(store: "Store", run: str) -> pl.DataFrame:
    """Per feature, tier and judge: pass/win rate with a Wilson 95% interval, cost per satisfactory answer."""
    run_params(store, run)
    return store.run_query("replay/results", run=run)


def failures(store: "Store", run: str, limit: int = 50) -> pl.DataFrame:
    """The answers judged unsatisfactory, with the prompt and the original answer beside them."""
    run_params(store, run)
    return store.run_query("replay/failures", run=run, limit=limit)
