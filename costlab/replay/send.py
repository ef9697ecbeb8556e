"""Sending: the anthropic SDK, bounded adaptive concurrency, every result written as it arrives.

Worker threads take the next (request, tier) pair, append it to the run's journal (a file beside the
store) and call the API through the SDK (its own retries, `max_retries`). The calling thread owns the
store: it writes each result that arrived, priced from price_card, one transaction per turn. So:

* a crash or kill loses no answer that was already written, and a pair that has any row other than
  'not_sent' is never sent again (resume sends only what is missing);
* Ctrl-C or SIGTERM stops taking new pairs and waits for the calls in flight, writing them; only a
  kill -9 during a call leaves a pair journaled but unrecorded: resume records it as 'sending' (in
  doubt: it may have been billed) and does not send it again.

Concurrency starts at `concurrency` and halves whenever the API answers 429 or 529 (seen through an
httpx event hook, even when the SDK's retry then succeeds), pausing new calls for the `retry-after`
the server gave; each `limit` successes in a row add one slot back, up to `concurrency`. The budget
reserves each call's worst case (prompt with a margin, every max_tokens used) until its real cost is
known, so spend never crosses --max-usd. The budget counts the run's judge spend too (booked in judgements,
apart from the replays): a resumed run starts from both.
"""

from __future__ import annotations

import json
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from costlab.errors import ConfigError

if TYPE_CHECKING:
    from costlab.store import Store

# Sampling parameters newer models reject when not default; they are dropped and recorded, never silently.
SAMPLING = ("temperature", "top_p", "top_k")
WRITE_EVERY = 0.2  # seconds: results are written at least this often while they arrive
RESULT_COLUMNS = (
    "run", "source", "request_id", "tier", "status", "finished_at", "latency_ms", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "stop_reason", "response_text",
    "error_type", "error_message", "provider_request_id",
)
ERROR_TYPES = {400: "invalid_request", 401: "authentication", 402: "billing", 403: "permission", 404: "not_found",
               408: "timeout", 409: "conflict", 413: "request_too_large", 429: "rate_limit", 500: "api_error",
               504: "timeout", 529: "overloaded"}


@dataclass
class Job:
    source: str
    request_id: str
    tier: str
    model: str
    body: dict[str, Any]
    not_carried: dict[str, str]
    worst_usd: Decimal
    started_at: datetime | None = None
    service_tier: str = "standard"
    platform: str = "anthropic"  # with geo_class, what the answer is priced at (price_card)
    geo_class: str = "global"


@dataclass
class Outcome:
    """What a send produced."""

    sent: int = 0
    ok: int = 0
    errors: int = 0
    not_sent: int = 0
    in_doubt: int = 0
    spent_usd: Decimal = Decimal(0)  # replays
    judge_spent_usd: Decimal = Decimal(0)  # judge calls, booked apart (the budget counts both)
    interrupted: bool = False
    throttled: int = 0
    peak_concurrency: int = 0
    min_concurrency: int = 0
    notes: list[str] = field(default_factory=list)


class Limiter:
    """AIMD concurrency: halve on 429/529 and pause for retry-after; +1 slot per `limit` successes."""

    def __init__(self, maximum: int):
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.lowest = self.maximum
        self.pause_until = 0.0
        self.streak = 0
        self.throttles = 0
        self.lock = threading.Lock()

    def can_start(self, inflight: int) -> bool:
        with self.lock:
            return inflight < self.limit and time.monotonic() >= self.pause_until

    def on_response(self, status: int, headers: Any) -> None:
        if status in (429, 529):
            wait = _retry_after(headers)
            with self.lock:
                self.throttles += 1
                self.limit = max(1, self.limit // 2)
                self.lowest = min(self.lowest, self.limit)
                self.streak = 0
                if wait:
                    self.pause_until = max(self.pause_until, time.monotonic() + wait)
        elif status < 400:
            with self.lock:
                self.streak += 1
                if self.streak >= self.limit and self.limit < self.maximum:
                    self.limit += 1
                    self.streak = 0


def _retry_after(headers: Any) -> float:
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except (TypeError, ValueError):
        pass
    return 0.0


def make_client(settings: dict[str, Any], max_retries: int, on_response: Callable[[int, Any], None] | None = None,
                base_url: str | None = None) -> Any:
    """An SDK client by config ([replay] provider = anthropic | bedrock | vertex; base_url for gateways).

    Credentials come from the environment or the SDK's usual configuration (ANTHROPIC_API_KEY; AWS
    credentials or AWS_BEARER_TOKEN_BEDROCK through boto3; for Vertex GOOGLE_OAUTH_ACCESS_TOKEN, else
    google-auth's application default credentials); costlab never stores them. Missing ones are a
    clear error here, before anything is sent.
    """
    import os

    import anthropic

    from costlab.replay.plan import platform_of

    hooks = {"response": [lambda r: on_response(r.status_code, r.headers)]} if on_response else {}
    http = anthropic.DefaultHttpxClient(event_hooks=hooks)
    provider = platform_of(settings)
    url = base_url or settings.get("base_url")
    if provider == "anthropic":
        client = anthropic.Anthropic(base_url=url, max_retries=max_retries, http_client=http)
        if getattr(client, "api_key", None) is None and getattr(client, "auth_token", None) is None:
            raise ConfigError("no API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the environment. "
                              "costlab never reads it from a file and never stores it.")
        return client
    region = settings.get("region")
    try:
        if provider == "bedrock":
            client = anthropic.AnthropicBedrock(aws_region=region, aws_profile=settings.get("aws_profile"), base_url=url,
                                                max_retries=max_retries, http_client=http)
        else:
            client = anthropic.AnthropicVertex(region=region or anthropic.NOT_GIVEN,
                                               project_id=settings.get("project_id") or anthropic.NOT_GIVEN,
                                               access_token=os.environ.get("GOOGLE_OAUTH_ACCESS_TOKEN") or None,
                                               base_url=url, max_retries=max_retries, http_client=http)
    except ValueError as ex:  # no region, or a key and a profile at once: the SDK's own words
        raise ConfigError(f"[replay] provider = {provider!r}: {ex}") from None
    if provider == "bedrock" and client.api_key is None:
        import boto3

        if boto3.Session(profile_name=settings.get("aws_profile"), region_name=client.aws_region).get_credentials() is None:
            raise ConfigError("no AWS credentials for Bedrock: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a "
                              "profile, [replay] aws_profile), or AWS_BEARER_TOKEN_BEDROCK. costlab never stores them.")
    if provider == "vertex":
        if client.project_id is None:
            raise ConfigError("Vertex needs a project: set [replay] project_id or ANTHROPIC_VERTEX_PROJECT_ID")
        if client.access_token is None:
            try:
                import google.auth  # noqa: F401  (the SDK's Vertex credentials come from it)
            except ImportError:
                raise ConfigError("no Google credentials for Vertex: set GOOGLE_OAUTH_ACCESS_TOKEN (e.g. from "
                                  "`gcloud auth print-access-token`), or install google-auth (pip install "
                                  "'anthropic[vertex]') for application default credentials.") from None
    return client


def adapt(body: dict[str, Any], model: str, max_output: int | None, new_generation: bool,
          platform: str = "anthropic", takes_inference_geo: bool = True) -> tuple[dict[str, Any], dict[str, str]]:
    """The logged body with only the model changed, and what could not carry over (and why)."""
    out = dict(body)
    not_carried: dict[str, str] = {}
    out["model"] = model
    if platform != "anthropic":
        # Claude API options that Bedrock and Vertex do not have (the region comes from the endpoint there).
        for key in ("service_tier", "inference_geo", "speed"):
            if key in out:
                not_carried[key] = f"{key}={out.pop(key)!r}: not available on {platform}"
    elif "inference_geo" in out and not takes_inference_geo:
        # Models before 2026-02 answer 400 to the parameter; the replay runs (and is priced) global.
        not_carried["inference_geo"] = f"inference_geo={out.pop('inference_geo')!r}: {model} has no data residency option"
    if out.pop("stream", None):
        not_carried["stream"] = "sent without streaming (the answer is the same message)"
    if new_generation:
        for key in SAMPLING:
            if key in out:
                not_carried[key] = f"{key}={out.pop(key)!r}: {model} rejects non-default sampling parameters"
    if max_output and isinstance(out.get("max_tokens"), int) and out["max_tokens"] > max_output:
        not_carried["max_tokens"] = f"{out['max_tokens']} lowered to {model}'s maximum output {max_output}"
        out["max_tokens"] = max_output
    if out.get("speed") == "fast" and not new_generation:
        not_carried["speed"] = f"fast mode dropped: {model} has no fast mode"
        out.pop("speed")
    return out, not_carried


def load_jobs(store: "Store", run: str, service_tier: str = "standard") -> list[Job]:
    """The pairs still to send (reads _replay_tiers: set_run_tiers first)."""
    frame = store.run_query("replay/jobs", run=run, service_tier=service_tier)
    info = {r[0]: (r[1], bool(r[2])) for r in store.rows("select model, max_output, coalesce(new_tokenizer, false) from models")}
    where = dict(store.rows("select tier, platform from _replay_tiers"))
    jobs = []
    for source, request_id, tier, model, model_id, request_json, geo, takes_geo, worst in frame.iter_rows():
        max_output, new_gen = info.get(model, (None, False))
        platform = where.get(tier, "anthropic")
        body, not_carried = adapt(json.loads(request_json), model_id, max_output, new_gen, platform, takes_geo)
        jobs.append(Job(source, request_id, tier, model, body, not_carried, worst or Decimal(0), service_tier=service_tier,
                        platform=platform, geo_class=geo))
    return jobs


_SDK_PARAMS: dict[type, frozenset[str]] = {}


def sdk_arguments(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The body as messages.create arguments: the fields this SDK release names as parameters, and the
    rest (temperature, top_p, anything newer or older than it) in extra_body, so they reach the API
    unchanged instead of failing locally with a TypeError."""
    import inspect

    kind = type(client.messages)
    if kind not in _SDK_PARAMS:
        _SDK_PARAMS[kind] = frozenset(inspect.signature(kind.create).parameters) - {"self", "extra_body"}
    known = _SDK_PARAMS[kind]
    args = {k: v for k, v in body.items() if k in known}
    extra = {k: v for k, v in body.items() if k not in known}
    if extra:
        args["extra_body"] = extra
    return args


def call(client: Any, job: Job) -> tuple:
    """One request through the SDK (with its retries); a result row (RESULT_COLUMNS without run and key)."""
    import anthropic

    t0 = time.monotonic()
    try:
        msg = client.messages.create(**sdk_arguments(client, job.body))
    except anthropic.APIStatusError as ex:
        kind = ERROR_TYPES.get(ex.status_code, "api_error" if ex.status_code >= 500 else "invalid_request")
        return _error(t0, kind, f"HTTP {ex.status_code}: {_message(ex)}", getattr(ex, "request_id", None))
    except anthropic.APITimeoutError:
        return _error(t0, "timeout", "the request timed out (after the SDK's retries)", None)
    except anthropic.APIConnectionError as ex:
        return _error(t0, "connection", f"connection failed (after the SDK's retries): {type(ex.__cause__ or ex).__name__}", None)
    except Exception as ex:  # a bad logged body the SDK refuses locally, say; recorded, never fatal
        return _error(t0, "client_error", f"{type(ex).__name__}: {ex}"[:500], None)
    u = msg.usage
    cc = getattr(u, "cache_creation", None)
    w5 = getattr(cc, "ephemeral_5m_input_tokens", None) if cc else None
    w1h = getattr(cc, "ephemeral_1h_input_tokens", None) if cc else None
    if w5 is None and w1h is None:
        w5, w1h = u.cache_creation_input_tokens or 0, 0
    text = "".join(getattr(b, "text", "") for b in msg.content if getattr(b, "type", "") == "text")
    return ("ok", datetime.now(timezone.utc), (time.monotonic() - t0) * 1000, u.input_tokens, u.output_tokens,
            u.cache_read_input_tokens or 0, w5 or 0, w1h or 0, msg.stop_reason, text, None, None,
            getattr(msg, "_request_id", None) or msg.id)  # Bedrock has no request-id header: the message id


def _message(ex: Any) -> str:
    body = getattr(ex, "body", None)
    if isinstance(body, dict):
        err = body.get("error") if isinstance(body.get("error"), dict) else body
        return str(err.get("message", ""))[:500]
    return str(ex)[:500]


def _error(t0: float, kind: str, message: str, rid: str | None) -> tuple:
    return ("error", datetime.now(timezone.utc), (time.monotonic() - t0) * 1000, 0, 0, 0, 0, 0, None, None,
            kind, message, rid)


_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMPTZ", "DOUBLE", "BIGINT", "BIGINT", "BIGINT",
          "BIGINT", "BIGINT", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR")
# The cost of each incoming result row, joined to price_card like costed_requests (a join, not a
# per-row lookup, which was several times slower). Each part rounded to the nano-dollar, then summed
# (costlab_card_cost_usd); NULL when unpriced. Replays make no web searches.
_COST = """
    select i.*, case when i.status <> 'ok' then 0 else
        costlab_card_cost_usd(i.input_tokens, i.output_tokens, i.cache_write_5m_tokens, i.cache_write_1h_tokens,
                              i.cache_read_tokens, 0, c.input_fusd, c.output_fusd, c.cache_write_5m_fusd,
                              c.cache_write_1h_fusd, c.cache_read_fusd, 0) end as cost
    from (select *, costlab_prompt_tokens(input_tokens, cache_read_tokens, cache_write_5m_tokens,
                                          cache_write_1h_tokens) as prompt_tokens
          from ({incoming})) i
    left join price_card c
      on c.model = i.model and c.speed = 'standard' and c.platform = i.platform and c.service_tier = i.service_tier
     and c.geo_class = i.geo_class and i.started_at >= c.seg_from and (c.seg_to is null or i.started_at < c.seg_to)
     and i.prompt_tokens >= c.band_min_tokens and (c.band_max_tokens is null or i.prompt_tokens < c.band_max_tokens)
"""


def write_results(store: "Store", rows: list[tuple], replace: bool = True) -> Decimal:
    """Insert these results into replays, priced from price_card; return what they cost.

    Each row is RESULT_COLUMNS then model, service_tier, started_at, platform, geo_class (what it is
    priced by) and not_carried. With `replace`, a 'not_sent' or 'sending' row of the same pair is replaced (skip it
    when the run has none: it is a statement less per write). Call inside a transaction.
    """
    if len(rows) > 500:
        return sum((write_results(store, rows[i:i + 500], replace) for i in range(0, len(rows), 500)), Decimal(0))
    if not rows:
        return Decimal(0)
    types = _TYPES + ("VARCHAR", "VARCHAR", "TIMESTAMPTZ", "VARCHAR", "VARCHAR", "VARCHAR")
    columns = RESULT_COLUMNS + ("model", "service_tier", "started_at", "platform", "geo_class", "not_carried")
    payload = json.dumps([{c: (v.isoformat() if isinstance(v, datetime) else v) for c, v in zip(columns, r)} for r in rows])
    shape = json.dumps({c: t for c, t in zip(columns, types)})
    incoming = f"select unnest(json_transform(?::JSON, '[{shape}]'), recursive := true)"
    keys = f"select run, source, request_id, tier from ({incoming})"
    if replace:
        store.execute(f"""delete from replays r using ({keys}) k where r.run = k.run and r.source = k.source
                          and r.request_id = k.request_id and r.tier = k.tier and r.status in ('not_sent', 'sending')""",
                      [payload])
    costs = store.rows(
        f"""insert into replays (run, source, request_id, tier, model, status, started_at, finished_at, latency_ms,
                input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost_usd,
                stop_reason, response_text, error_type, error_message, not_carried, provider_request_id, service_tier,
                platform, geo_class)
            select run, source, request_id, tier, model, status, started_at, finished_at, latency_ms,
                   input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost,
                   stop_reason, response_text, error_type, error_message, not_carried::JSON, provider_request_id, service_tier,
                   platform, geo_class
            from ({_COST.format(incoming=incoming)})
            returning cost_usd""",
        [payload])
    return sum((c for (c,) in costs if c is not None), Decimal(0))


def spent(store: "Store", run: str) -> Decimal:
    """The run's replay spend (judging apart)."""
    return store.scalar("select coalesce(sum(cost_usd), 0)::DECIMAL(18,9) from replays where run = ?", [run])


def judge_spent(store: "Store", run: str) -> Decimal:
    """The run's judge spend (judgements.judge_cost_usd)."""
    return store.scalar("select coalesce(sum(judge_cost_usd), 0)::DECIMAL(18,9) from judgements where run = ?", [run])


def budget_spent(store: "Store", run: str) -> Decimal:
    """What counts against --max-usd: the replay spend and the judge spend (booked apart, capped together)."""
    return spent(store, run) + judge_spent(store, run)


class Journal:
    """An append-only file of the pairs whose call has started, written before each call.

    A DuckDB commit per call would cap throughput (a few ms each); a line appended to a file is
    microseconds and survives a kill -9 (it is in the OS's cache once written). On resume, a pair in
    the journal with no row in replays was in flight when the process died: it may have been billed,
    so it is recorded as in doubt ('sending') and never sent again.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self.lock = threading.Lock()
        self.file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = path.open("a", encoding="utf-8")

    def started(self, job: Job) -> None:
        if self.file is not None:
            with self.lock:
                self.file.write(json.dumps([job.source, job.request_id, job.tier]) + "\n")
                self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    @staticmethod
    def keys(path: Path | None) -> set[tuple[str, str, str]]:
        if path is None or not path.exists():
            return set()
        out = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.add(tuple(json.loads(line)))
            except ValueError:
                pass  # a line cut by a kill mid-write: its call had not started
        return out


def journal_path(store: "Store", run: str) -> Path | None:
    if str(store.path) == ":memory:":
        return None
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run)
    return Path(f"{store.path}.replay") / f"{safe}.journal"


def reconcile(store: "Store", run: str) -> int:
    """Pairs a killed process had started but not recorded become 'sending' rows (in doubt); returns how many."""
    from costlab.replay.plan import insert_rows

    started = Journal.keys(journal_path(store, run))
    if not started:
        return 0
    recorded = {tuple(r) for r in store.rows(
        "select source, request_id, tier from replays where run = ? and status <> 'not_sent'", [run])}
    doubt = sorted(started - recorded)
    if doubt:
        models = {tier: (model, platform) for tier, model, platform in store.rows("select tier, model, platform from _replay_tiers")}
        with store.transaction():
            for source, rid, tier in doubt:
                store.execute("delete from replays where run = ? and source = ? and request_id = ? and tier = ? and status = 'not_sent'",
                              [run, source, rid, tier])
            insert_rows(store, "replays", ("run", "source", "request_id", "tier", "model", "status", "error_message", "platform"),
                        [(run, s, rid, tier, models.get(tier, (None,))[0], "sending",
                          "in doubt: the call started and the process was killed before its answer was recorded",
                          models.get(tier, (None, None))[1])
                         for s, rid, tier in doubt])
    return len(doubt)


def send(store: "Store", run: str, client: Any, jobs: list[Job], limiter: Limiter, max_usd: Decimal | None = None,
         on_progress: Callable[[int, Decimal], None] | None = None) -> Outcome:
    """Send every job (bounded by the limiter and the budget); write the results as they arrive.

    Worker threads take jobs, journal them and call the API; this thread writes what arrived, one
    transaction per turn, so sending never waits for the store.
    """
    out = Outcome(peak_concurrency=limiter.maximum)
    results: queue.Queue = queue.Queue()
    pending = list(reversed(jobs))
    # unsettled: started and not yet written (its worst case still reserved)
    state = {"inflight": 0, "unsettled": 0, "reserved": Decimal(0), "spent": budget_spent(store, run), "stop": None}
    cond = threading.Condition()
    journal = Journal(journal_path(store, run))
    replace = bool(store.scalar("select count(*) from replays where run = ? and status = 'not_sent'", [run]))

    def next_job() -> Job | None:
        with cond:
            while True:
                if state["stop"] or not pending:
                    return None
                if limiter.can_start(state["inflight"]):
                    job = pending[-1]
                    if max_usd is not None and state["spent"] + state["reserved"] + job.worst_usd > max_usd:
                        if state["unsettled"] == 0:
                            state["stop"] = "budget"
                            cond.notify_all()
                            return None
                        cond.wait(0.05)  # what is in flight or unwritten may cost less than reserved
                        continue
                    pending.pop()
                    state["inflight"] += 1
                    state["unsettled"] += 1
                    state["reserved"] += job.worst_usd
                    return job
                cond.wait(0.01)

    def worker() -> None:
        while (job := next_job()) is not None:
            job.started_at = datetime.now(timezone.utc)
            journal.started(job)
            row = call(client, job)
            results.put((job, row))
            with cond:
                state["inflight"] -= 1
                cond.notify_all()

    def write(done: list) -> None:
        rows = [(run, j.source, j.request_id, j.tier, *row, j.model, j.service_tier, j.started_at, j.platform, j.geo_class,
                 json.dumps(j.not_carried) if j.not_carried else None) for j, row in done]
        with store.transaction():
            cost = write_results(store, rows, replace)
        with cond:
            state["spent"] += cost
            state["reserved"] -= sum((j.worst_usd for j, _ in done), Decimal(0))
            state["unsettled"] -= len(done)
            cond.notify_all()
        for _, row in done:
            out.ok += row[0] == "ok"
            out.errors += row[0] == "error"
        out.sent += len(done)
        if on_progress:
            on_progress(len(done), state["spent"])

    threads = [threading.Thread(target=worker, name=f"costlab-replay-{i}", daemon=True) for i in range(limiter.maximum)]

    def on_signal(signum: int, frame: Any) -> None:
        # First Ctrl-C or SIGTERM: stop taking pairs, finish and record the calls in flight. A second
        # one stops waiting (those calls stay in the journal only: in doubt on resume).
        if out.interrupted:
            raise KeyboardInterrupt
        out.interrupted = True
        state["stop"] = "interrupted"

    previous = _install(on_signal)
    try:
        for t in threads:
            t.start()
        buffered: list = []
        last = time.monotonic()
        while any(t.is_alive() for t in threads) or not results.empty() or buffered:
            buffered += _drain(results, timeout=0.02)
            # Group what arrives within WRITE_EVERY seconds into one transaction: each costs a few ms
            # of the CPU the calls need; the journal keeps the pairs safe in between.
            if buffered and (time.monotonic() - last >= WRITE_EVERY or len(buffered) >= 256
                             or not any(t.is_alive() for t in threads)):
                done, buffered = buffered, []
                write(done)
                last = time.monotonic()
    finally:
        with cond:
            state["stop"] = state["stop"] or "done"
            cond.notify_all()
        journal.close()
        _restore(previous)
    if state["stop"] == "budget" and pending:
        _mark_not_sent(store, run, list(reversed(pending)), "budget: sending it could cross --max-usd")
        out.not_sent = len(pending)
        out.notes.append(f"stopped before the budget: {len(pending)} requests not sent (resume with a higher --max-usd)")
    out.spent_usd = spent(store, run)  # the replay spend (what the progress showed includes judging so far)
    out.throttled = limiter.throttles
    out.min_concurrency = limiter.lowest
    return out


def _mark_not_sent(store: "Store", run: str, jobs: list[Job], why: str) -> None:
    from costlab.replay.plan import insert_rows

    present = {tuple(r) for r in store.rows("select source, request_id, tier from replays where run = ?", [run])}
    with store.transaction():
        insert_rows(store, "replays", ("run", "source", "request_id", "tier", "model", "status", "error_message",
                                       "not_carried", "cost_usd", "platform", "geo_class"),
                    [(run, j.source, j.request_id, j.tier, j.model, "not_sent", why,
                      json.dumps(j.not_carried) if j.not_carried else None, 0, j.platform, j.geo_class) for j in jobs
                     if (j.source, j.request_id, j.tier) not in present])


def _drain(results: queue.Queue, timeout: float) -> list:
    items = []
    try:
        items.append(results.get(timeout=timeout) if timeout else results.get_nowait())
        while True:
            items.append(results.get_nowait())
    except queue.Empty:
        pass
    return items


def _install(handler: Callable[[int, Any], None]) -> dict[int, Any] | None:
    """Route SIGINT and SIGTERM to `handler` while sending (main thread only); return the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore(previous: dict[int, Any] | None) -> None:
    for sig, handler in (previous or {}).items():
        signal.signal(sig, handler)
