"""Sending: the anthropic SDK, bounded adaptive concurrency, every result written as it arrives.

Every paid call of a run, replays and judge calls alike, goes through `dispatch`: worker threads
take the next item and call the API through the SDK with its own retries off: costlab retries
(`attempt`, `max_retries` times; each attempt times out after `timeout_s`), appending each attempt
to the run's journal (a file beside the store) before it is sent. The calling thread owns the
store: it writes each result that arrived, one transaction per turn. So:

* a crash or kill loses no answer that was already written, and a call that the store has settled
  (a replays row other than 'not_sent', a judgement) is never made again;
* Ctrl-C or SIGTERM (`Stopper`) stops new calls at once and waits for the calls in flight, writing
  them; a second one stops waiting. Only a kill -9 (or a second Ctrl-C) during a call leaves it
  journaled but unrecorded: resume books it in doubt (it may have been billed) at its worst case,
  once per attempt sent, counts that against --max-usd, and never makes it again;
* a 401, 402 or 403 is about the key or the account, not the request: the run stops, 'failed' and
  resumable, the refused calls unrecorded (not billed) so that resume with the right key sends them.

Concurrency starts at `concurrency` and halves whenever the API answers 429 or 529 (seen through an
httpx event hook, even when the retry then succeeds), pausing new calls for the `retry-after` the
server gave; each `limit` successes in a row add one slot back, up to `concurrency`. The budget
reserves each call's worst case (prompt with a margin, every max_tokens used) until its real cost is
known, and one more before each retry after an attempt that went unanswered (that one may have been
billed), so spend never crosses --max-usd, on the server's books. The budget counts the run's judge
spend and its calls in doubt too (booked apart from the replays): a resumed run starts from all three.
"""

from __future__ import annotations

import contextlib
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
    failed: str | None = None  # why the run stopped failed (the API refused the key): resume continues it
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


DEFAULT_TIMEOUT_S = 120.0  # per attempt; the SDK's own default is 600 s
DEFAULT_MAX_RETRIES = 4
# Errors about the key or the account, not the request: every later call would get the same answer.
# They stop the run (status 'failed', resumable); the refused calls were not billed and are sent on resume.
ACCOUNT_ERRORS = ("authentication", "billing", "permission")


class AccountError(ConfigError):
    """The API refused the key or the account (401, 402, 403): the run stopped, failed and resumable.
    `outcome` is what the run did before it stopped."""

    def __init__(self, message: str, outcome: "Outcome | None" = None):
        super().__init__(message)
        self.outcome = outcome


def key_hint(platform: str) -> str:
    """Where the credentials for `platform` come from, for an error message."""
    return {"bedrock": "the AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, [replay] aws_profile) "
                       "or AWS_BEARER_TOKEN_BEDROCK",
            "vertex": "GOOGLE_OAUTH_ACCESS_TOKEN (or the application default credentials)"}.get(
        platform, "ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN)")


def client_settings(settings: dict[str, Any], max_retries: int | None = None,
                    timeout: float | None = None) -> tuple[int, float]:
    """Retries per call and the per-attempt timeout: the flag, else [replay] max_retries / timeout_s, else the defaults."""
    retries = max_retries if max_retries is not None else settings.get("max_retries", DEFAULT_MAX_RETRIES)
    seconds = timeout if timeout is not None else settings.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"[replay] max_retries / --max-retries = {retries!r}: expected a whole number, 0 or more")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 3600:
        raise ConfigError(f"[replay] timeout_s / --timeout = {seconds!r}: expected seconds, more than 0 and at most 3600")
    return retries, float(seconds)


# Retries are costlab's, not the SDK's (every client's own are turned off: Api.of). An attempt the
# client gave up on (a timeout, a dropped connection) may have been answered, and billed, by the
# server: it is in doubt at the call's worst case, so the retry after it needs a worst case of its
# own, reserved against --max-usd before it is sent (Slot.more). Inside the SDK the retries were
# invisible to the budget, the journal and Ctrl-C; here each attempt is journaled, reserved and
# interruptible. The schedule is the SDK's: retry-after(-ms) when the server gives one, else 0.5 s
# doubled each retry up to 8 s, less up to a quarter of jitter.
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0


@dataclass
class Api:
    """The client paid calls are made with, its own retries off; `retries` is how many costlab makes."""

    client: Any
    retries: int

    @classmethod
    def of(cls, client: Any) -> "Api":
        """From any SDK client: its max_retries become costlab's, and the client's own are turned off."""
        if isinstance(client, Api):
            return client
        retries = int(getattr(client, "max_retries", 0) or 0)
        return cls(client.with_options(max_retries=0) if retries else client, retries)


@dataclass
class Attempted:
    """What one paid call's attempts came to."""

    message: Any = None  # the Message, when an attempt was answered with one
    error: BaseException | None = None  # else the last attempt's error
    attempts: int = 0
    in_doubt: int = 0  # attempts sent and never answered: each may have been billed
    stopped: str | None = None  # why a retry the error called for was not made: "interrupted" or "budget"


def attempt(api: Api, args: dict[str, Any], key: "Key", worst: Decimal | None, journal: "Journal",
            slot: "Slot") -> Attempted:
    """One paid call (messages.create(**args)), attempt by attempt, each journaled before it is sent.

    An error answer (not billed) or an attempt that never connected releases its journal line; one
    sent and never answered (a timeout, a dropped connection) stays open: in doubt. What the SDK would
    retry is retried (408, 409, 429, 5xx and 529 unless `x-should-retry` says otherwise; timeouts and
    connection errors), `api.retries` times at most, after the SDK's backoff. A retry after an
    attempt in doubt first reserves one more worst case (slot.more); none is made once the run is
    interrupted (Ctrl-C stops the backoff too) or when that reservation cannot fit the budget.
    """
    import anthropic

    out = Attempted()
    doubtful = False  # the last attempt is in doubt: its reservation is spent, a retry needs another
    while True:
        if out.attempts:
            if out.attempts > api.retries or not _retryable(out.error):
                return out
            if slot.stopper.aborted.wait(_retry_delay(out.error, out.attempts)):
                out.stopped = "interrupted"
                return out
            if doubtful and not slot.more(worst):
                out.stopped = "interrupted" if slot.stopper.aborted.is_set() else "budget"
                return out
        out.attempts += 1
        journal.started(key, worst)
        try:
            out.message, out.error = api.client.messages.create(**args), None
            return out
        except anthropic.APIStatusError as ex:  # answered with an error: not billed
            journal.unpaid(key)
            out.error, doubtful = ex, False
        except anthropic.APIConnectionError as ex:  # timeouts too
            out.error, doubtful = ex, type(ex.__cause__).__name__ not in ("ConnectError", "ConnectTimeout")
            if doubtful:
                out.in_doubt += 1
            else:
                journal.unpaid(key)  # it never connected: nothing was sent
        except anthropic.APIError as ex:  # answered (so maybe billed), but not a Message: in doubt, not retried
            out.error = ex
            out.in_doubt += 1
            return out
        except Exception as ex:  # refused locally (a logged body the SDK rejects): nothing was sent
            journal.unpaid(key)
            out.error = ex
            return out


def _retryable(ex: BaseException | None) -> bool:
    """What the SDK retries: an error answer it would retry, or a failed connection."""
    import anthropic

    if isinstance(ex, anthropic.APIStatusError):
        flag = ex.response.headers.get("x-should-retry")
        if flag in ("true", "false"):
            return flag == "true"
        return ex.status_code in (408, 409, 429) or ex.status_code >= 500
    return isinstance(ex, anthropic.APIConnectionError)


def _retry_delay(ex: BaseException | None, retries_taken: int) -> float:
    """Seconds before the next attempt: the server's retry-after, else the SDK's backoff with jitter."""
    import random

    response = getattr(ex, "response", None)
    wait = _retry_after(response.headers) if response is not None else 0.0
    if wait > 0:
        return min(wait, 3600.0)
    return min(INITIAL_RETRY_DELAY * 2.0 ** (retries_taken - 1), MAX_RETRY_DELAY) * (1 - 0.25 * random.random())


def make_client(settings: dict[str, Any], max_retries: int | None = None,
                on_response: Callable[[int, Any], None] | None = None, base_url: str | None = None,
                timeout: float | None = None) -> Any:
    """An SDK client by config ([replay] provider = anthropic | bedrock | vertex; base_url for gateways).

    Credentials come from the environment or the SDK's usual configuration (ANTHROPIC_API_KEY; AWS
    credentials or AWS_BEARER_TOKEN_BEDROCK through boto3; for Vertex GOOGLE_OAUTH_ACCESS_TOKEN, else
    google-auth's application default credentials); costlab never stores them. Every one that is set
    is stripped and checked first (costlab.keys), and missing ones are a clear error here, before
    anything is sent. Each attempt times out after `timeout` seconds ([replay] timeout_s, default
    120). The client carries `max_retries` ([replay] max_retries, default 4): the SDK's own retries
    for the batch calls; paid synchronous calls turn them off and retry in costlab (Api.of, attempt).
    """
    import anthropic

    from costlab.keys import check_env_keys, env_key
    from costlab.replay.plan import platform_of

    max_retries, timeout = client_settings(settings, max_retries, timeout)
    check_env_keys()  # a key with a line break fails here, naming its variable, not in an HTTP library's error
    hooks: dict[str, list] = {"response": [lambda r: on_response(r.status_code, r.headers)] if on_response else []}
    http = anthropic.DefaultHttpxClient(event_hooks=hooks)
    provider = platform_of(settings)
    url = base_url or settings.get("base_url")
    if provider == "anthropic":
        api_key, token = env_key("ANTHROPIC_API_KEY"), env_key("ANTHROPIC_AUTH_TOKEN")
        if api_key is None and token is None:
            raise ConfigError("no API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the environment. "
                              "costlab never reads it from a file and never stores it.")
        return anthropic.Anthropic(api_key=api_key, auth_token=None if api_key else token, base_url=url,
                                   max_retries=max_retries, timeout=timeout, http_client=http)
    region = settings.get("region")
    try:
        if provider == "bedrock":
            client = anthropic.AnthropicBedrock(aws_region=region, aws_profile=settings.get("aws_profile"), base_url=url,
                                                api_key=env_key("AWS_BEARER_TOKEN_BEDROCK"), max_retries=max_retries,
                                                timeout=timeout, http_client=http)
        else:
            client = anthropic.AnthropicVertex(region=region or anthropic.NOT_GIVEN,
                                               project_id=settings.get("project_id") or anthropic.NOT_GIVEN,
                                               access_token=env_key("GOOGLE_OAUTH_ACCESS_TOKEN"),
                                               base_url=url, max_retries=max_retries, timeout=timeout, http_client=http)
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


def call(api: Api, job: Job, journal: "Journal", slot: "Slot") -> tuple | None:
    """One replay, attempt by attempt (attempt); a result row (RESULT_COLUMNS without run and key) and
    then how many of its attempts are in doubt (sent, never answered: maybe billed). None when no
    attempt can have been billed and an interrupt stopped the retries: released, resume makes it."""
    import anthropic

    t0 = time.monotonic()
    got = attempt(api, sdk_arguments(api.client, job.body), replay_key(job), job.worst_usd, journal, slot)
    ex, n = got.error, got.in_doubt
    if ex is not None and got.stopped and not n:
        return None
    said = [f"after {got.attempts} attempts"] if got.attempts > 1 else []
    if got.stopped:
        said.append("not retried: " + ("interrupted" if got.stopped == "interrupted" else "a retry could cross --max-usd"))
    after = f" ({'; '.join(said)})" if said else ""
    if isinstance(ex, anthropic.APIStatusError):
        kind = ERROR_TYPES.get(ex.status_code, "api_error" if ex.status_code >= 500 else "invalid_request")
        return _error(t0, kind, f"HTTP {ex.status_code}: {_message(ex)}", getattr(ex, "request_id", None), n)
    if isinstance(ex, anthropic.APITimeoutError):
        return _error(t0, "timeout", f"the request timed out{after}", None, n)
    if isinstance(ex, anthropic.APIConnectionError):
        return _error(t0, "connection", f"connection failed{after}: {type(ex.__cause__ or ex).__name__}", None, n)
    if isinstance(ex, anthropic.APIError):  # answered (so maybe billed), but not a Message: in doubt
        return _error(t0, "invalid_response", "the API's answer was not a valid Message", None, n)
    if ex is not None:  # a bad logged body the SDK refuses locally, say; recorded, never fatal
        from costlab.keys import redact

        return _error(t0, "client_error", redact(f"{type(ex).__name__}: {ex}")[:500], None, n)
    msg = got.message
    u = msg.usage
    cc = getattr(u, "cache_creation", None)
    w5 = getattr(cc, "ephemeral_5m_input_tokens", None) if cc else None
    w1h = getattr(cc, "ephemeral_1h_input_tokens", None) if cc else None
    if w5 is None and w1h is None:
        w5, w1h = u.cache_creation_input_tokens or 0, 0
    text = "".join(getattr(b, "text", "") for b in msg.content if getattr(b, "type", "") == "text")
    return ("ok", datetime.now(timezone.utc), (time.monotonic() - t0) * 1000, u.input_tokens, u.output_tokens,
            u.cache_read_input_tokens or 0, w5 or 0, w1h or 0, msg.stop_reason, text, None, None,
            getattr(msg, "_request_id", None) or msg.id,  # Bedrock has no request-id header: the message id
            n)


def _message(ex: Any) -> str:
    body = getattr(ex, "body", None)
    if isinstance(body, dict):
        err = body.get("error") if isinstance(body.get("error"), dict) else body
        return str(err.get("message", ""))[:500]
    return str(ex)[:500]


def _error(t0: float, kind: str, message: str, rid: str | None, unanswered: int = 0) -> tuple:
    return ("error", datetime.now(timezone.utc), (time.monotonic() - t0) * 1000, 0, 0, 0, 0, 0, None, None,
            kind, message, rid, unanswered)


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
    priced by), not_carried and in_doubt_usd (attempts that may have been billed unseen, at their worst
    case; None for none). What it returns counts both, as the budget does. With `replace`, a 'not_sent'
    or 'sending' row of the same pair is replaced (skip it when the run has none: it is a statement
    less per write). Call inside a transaction.
    """
    if len(rows) > 500:
        return sum((write_results(store, rows[i:i + 500], replace) for i in range(0, len(rows), 500)), Decimal(0))
    if not rows:
        return Decimal(0)
    types = _TYPES + ("VARCHAR", "VARCHAR", "TIMESTAMPTZ", "VARCHAR", "VARCHAR", "VARCHAR", "DECIMAL(18,9)")
    columns = RESULT_COLUMNS + ("model", "service_tier", "started_at", "platform", "geo_class", "not_carried",
                                "in_doubt_usd")
    rows = [r[:len(columns) - 1] + (None if r[len(columns) - 1] is None else str(r[len(columns) - 1]),) for r in rows]
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
                platform, geo_class, in_doubt_usd)
            select run, source, request_id, tier, model, status, started_at, finished_at, latency_ms,
                   input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost,
                   stop_reason, response_text, error_type, error_message, not_carried::JSON, provider_request_id, service_tier,
                   platform, geo_class, in_doubt_usd
            from ({_COST.format(incoming=incoming)})
            returning coalesce(cost_usd, 0) + coalesce(in_doubt_usd, 0)""",
        [payload])
    return sum((c for (c,) in costs), Decimal(0))


def spent(store: "Store", run: str) -> Decimal:
    """The run's replay spend (judging apart)."""
    return store.scalar("select coalesce(sum(cost_usd), 0)::DECIMAL(18,9) from replays where run = ?", [run])


def judge_spent(store: "Store", run: str) -> Decimal:
    """The run's judge spend (judgements.judge_cost_usd)."""
    return store.scalar("select coalesce(sum(judge_cost_usd), 0)::DECIMAL(18,9) from judgements where run = ?", [run])


def in_doubt_spent(store: "Store", run: str) -> Decimal:
    """The worst case of the run's calls in doubt (replays and judge calls): maybe billed, never seen answered."""
    return store.scalar("""select (select coalesce(sum(in_doubt_usd), 0) from replays where run = $1)
                                  + (select coalesce(sum(in_doubt_usd), 0) from judgements where run = $1)""", [run])


def budget_spent(store: "Store", run: str) -> Decimal:
    """What counts against --max-usd: the replay spend, the judge spend (booked apart, capped together)
    and the calls in doubt at their worst case."""
    return spent(store, run) + judge_spent(store, run) + in_doubt_spent(store, run)


Key = tuple  # a paid call: ("replay", source, request_id, tier, "") or (judge, source, request_id, tier, order)


class Journal:
    """An append-only file of the paid calls of a run, written before each attempt is sent.

    A DuckDB commit per call would cap throughput (a few ms each); a line appended to a file is
    microseconds and survives a kill -9 (it is in the OS's cache once written). Lines:

        {"start": KEY, "worst": "0.0012"}   an attempt of the call starts; the call's worst-case cost
        {"unpaid": KEY}                     the attempt ended unbilled (an error answer, such as a 529
                                            before a retry or a 401, or it never connected): released

    A KEY is ["replay", source, request_id, tier, ""] for a replay and [judge, source, request_id,
    tier, order] for a judge call (order: first, second or rubric); a line from before judge calls
    were journaled, [source, request_id, tier], is a replay's start. Each retry is a start line of
    its own, so a call's open attempts are its starts less its releases. Every other outcome settles
    in the store (a replays row, a judgements row, with the attempts that went unanswered in doubt).
    On resume, a call with open attempts that the store has not settled was in flight when the
    process died: each open attempt may have been billed, so the call is recorded in doubt at its
    worst case once per open attempt (reconcile) and never sent again.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self.lock = threading.Lock()
        self.file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = path.open("a", encoding="utf-8")

    def _write(self, entry: dict[str, Any]) -> None:
        if self.file is not None:
            with self.lock:
                self.file.write(json.dumps(entry) + "\n")
                self.file.flush()

    def started(self, key: Key | Job, worst: Decimal | None = None) -> None:
        if isinstance(key, Job):
            key, worst = replay_key(key), key.worst_usd if worst is None else worst
        self._write({"start": list(key), "worst": None if worst is None else str(worst)})

    def unpaid(self, key: Key) -> None:
        self._write({"unpaid": list(key)})

    def close(self) -> None:
        if self.file is not None:
            with self.lock:
                self.file.close()
                self.file = None

    @staticmethod
    def read(path: Path | None) -> dict[Key, tuple[Decimal | None, int]]:
        """The calls with attempts open (in flight, unless the store settled them): key -> (worst, attempts)."""
        if path is None or not path.exists():
            return {}
        out: dict[Key, tuple[Decimal | None, int]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                if isinstance(entry, list):  # the format before judge calls were journaled
                    key: Key = ("replay", *entry[:3], "")
                    out[key] = (None, out.get(key, (None, 0))[1] + 1)
                elif "start" in entry:
                    key = tuple(entry["start"])
                    out[key] = (None if entry.get("worst") is None else Decimal(entry["worst"]), out.get(key, (None, 0))[1] + 1)
                elif "unpaid" in entry and tuple(entry["unpaid"]) in out:
                    key = tuple(entry["unpaid"])
                    worst, n = out.pop(key)
                    if n > 1:
                        out[key] = (worst, n - 1)
            except (ValueError, TypeError, KeyError, ArithmeticError):
                pass  # a line cut by a kill mid-write: its attempt had not started
        return out

    @staticmethod
    def keys(path: Path | None) -> set[tuple[str, str, str]]:
        """The replays started and not released (source, request_id, tier)."""
        return {k[1:4] for k in Journal.read(path) if k[0] == "replay"}


def replay_key(job: Job) -> Key:
    return ("replay", job.source, job.request_id, job.tier, "")


def journal_path(store: "Store", run: str) -> Path | None:
    if str(store.path) == ":memory:":
        return None
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run)
    return Path(f"{store.path}.replay") / f"{safe}.journal"


IN_DOUBT = "in doubt: the call started and the process was killed before its answer was recorded"


def reconcile(store: "Store", run: str, jobs: list[Job] | None = None) -> int:
    """Calls a killed process had started but not recorded are booked in doubt at their worst case,
    once per attempt left open (a retry after a timeout is an attempt of its own): replays as
    'sending' rows, judge calls on their judgements row (details.in_doubt). Returns how many replays.
    `jobs` (load_jobs) gives the worst case of replays journaled before it was written down."""
    from costlab.replay.plan import insert_rows

    started = Journal.read(journal_path(store, run))
    if not started:
        return 0
    recorded = {tuple(r) for r in store.rows(
        "select source, request_id, tier from replays where run = ? and status <> 'not_sent'", [run])}
    worst_of = {(j.source, j.request_id, j.tier): j.worst_usd for j in jobs or []}
    doubt = sorted(k[1:4] for k in started if k[0] == "replay" and k[1:4] not in recorded)

    def in_doubt_usd(source: str, rid: str, tier: str) -> Decimal | None:
        worst, attempts = started[("replay", source, rid, tier, "")]
        worst = worst if worst is not None else worst_of.get((source, rid, tier))
        return None if worst is None else worst * attempts

    if doubt:
        models = {tier: (model, platform) for tier, model, platform in store.rows("select tier, model, platform from _replay_tiers")}
        with store.transaction():
            for source, rid, tier in doubt:
                store.execute("delete from replays where run = ? and source = ? and request_id = ? and tier = ? and status = 'not_sent'",
                              [run, source, rid, tier])
            insert_rows(store, "replays", ("run", "source", "request_id", "tier", "model", "status", "error_message", "platform",
                                           "in_doubt_usd"),
                        [(run, s, rid, tier, models.get(tier, (None,))[0], "sending", IN_DOUBT, models.get(tier, (None, None))[1],
                          in_doubt_usd(s, rid, tier))
                         for s, rid, tier in doubt])
    _reconcile_judged(store, run, {k: w for k, w in started.items() if k[0] != "replay"})
    return len(doubt)


def _reconcile_judged(store: "Store", run: str, started: dict[Key, tuple[Decimal | None, int]]) -> None:
    """Judge calls started and never settled: the answer's judgements row says so (details.in_doubt,
    calls_in_doubt: the attempts left open; in_doubt_usd); the judge never asks them again."""
    if not started:
        return
    rows = {(j, s, rid, tier): (first, complete, doubt) for j, s, rid, tier, first, complete, doubt in store.rows(
        """select judge, source, request_id, tier, details->>'candidate_first' is not null,
                  details->>'incomplete' is null and details->>'in_doubt' is null, details->>'in_doubt' is not null
           from judgements where run = ? and (judge like 'pairwise:%' or judge like 'rubric:%')""", [run])}
    doubt: dict[tuple, list] = {}
    for (judge, source, rid, tier, order), (worst, attempts) in started.items():
        first, complete, already = rows.get((judge, source, rid, tier), (False, False, False))
        settled = ((order == "first" and first) or (order == "second" and complete)
                   or (order == "rubric" and (judge, source, rid, tier) in rows))
        if not settled and not already:
            doubt.setdefault((judge, source, rid, tier), []).append((order, worst, attempts))
    if not doubt:
        return
    with store.transaction():
        for (judge, source, rid, tier), calls in sorted(doubt.items()):
            usd = sum((w * n for _, w, n in calls if w is not None), Decimal(0))
            note = json.dumps({"in_doubt": f"{IN_DOUBT} ({', '.join(o for o, _, _ in calls)})",
                               "calls_in_doubt": sum(n for _, _, n in calls),
                               "incomplete": "a judge call is in doubt: it is never asked again"})
            if (judge, source, rid, tier) in rows:  # calls_in_doubt adds to those its answered calls had
                store.execute("""update judgements set details = json_merge_patch(json_merge_patch(details, ?::JSON),
                                            json_object('calls_in_doubt', coalesce((details->>'calls_in_doubt')::INTEGER, 0) + ?)),
                                        in_doubt_usd = coalesce(in_doubt_usd, 0) + ?
                                 where run = ? and judge = ? and source = ? and request_id = ? and tier = ?""",
                              [note, sum(n for _, _, n in calls), usd, run, judge, source, rid, tier])
            else:
                store.execute("""insert into judgements (run, source, request_id, tier, judge, judge_cost_usd, details,
                                                         in_doubt_usd) values (?, ?, ?, ?, ?, 0, ?::JSON, ?)""",
                              [run, source, rid, tier, judge, note, usd])


class Stopper:
    """Ctrl-C and SIGTERM while a run executes (installed for the whole of execute, sending and judging).

    The handler never raises in the middle of a store write. The first signal sets `aborted`: no new
    call starts (nor a pairwise judge's second order); the calls in flight finish (each bounded by
    the client timeout) and are written. A second sets `abandoned`: stop waiting for the calls in
    flight; whatever has been answered is still written, the rest stays in the journal (in doubt on
    resume). A third raises KeyboardInterrupt. `abort()` is the same first step for a reason that is
    not a signal (the API refused the key).
    """

    def __init__(self, on_signal: Callable[[int], None] | None = None) -> None:
        self.aborted = threading.Event()
        self.abandoned = threading.Event()
        self.signals = 0
        self.on_signal = on_signal  # told each signal's number (1, 2): to say what happens now
        self._previous: dict[int, Any] | None = None

    def __enter__(self) -> "Stopper":
        self._previous = _install(self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        _restore(self._previous)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals += 1
        if self.signals > 2:
            raise KeyboardInterrupt
        if self.signals == 2:
            self.abandoned.set()
        self.aborted.set()
        if self.on_signal is not None:
            self.on_signal(self.signals)

    def abort(self) -> None:
        self.aborted.set()

    @property
    def interrupted(self) -> bool:
        return self.signals > 0


class Budget:
    """--max-usd over the run's spend (replays, judging and calls in doubt), shared by the threads.

    Each call (or judged answer) reserves its worst case before it starts, and one worst case more
    before each retry after an attempt in doubt (Slot.more), and settles at its real cost (plus its
    attempts in doubt) once written. One that could cross the budget waits while others are
    unsettled (they may cost less than reserved); if it still does not fit, the budget stops: it and
    everything after it are left (not_sent, or not judged); a retry that does not fit is not made. A
    worst case of None (no price) never starts under a budget.
    """

    def __init__(self, max_usd: Decimal | None, spent: Decimal):
        self.max_usd = max_usd
        self.spent = spent
        self.reserved = Decimal(0)
        self.unsettled = 0
        self.retrying = 0  # of the unsettled, the calls waiting to reserve a retry
        self.stopped = False
        self.cond = threading.Condition()

    def fits(self, worst: Decimal | None) -> bool:
        """Call with cond held."""
        return self.max_usd is None or (worst is not None and self.spent + self.reserved + worst <= self.max_usd)

    def take(self, worst: Decimal | None) -> None:
        """Call with cond held, after fits()."""
        self.reserved += worst or Decimal(0)
        self.unsettled += 1

    def settle(self, reserved: Decimal, cost: Decimal, n: int) -> None:
        with self.cond:
            self.spent += cost
            self.reserved -= reserved
            self.unsettled -= n
            self.cond.notify_all()


class Slot:
    """One item's share of the budget (dispatch makes one for each item it starts, and settles what
    it reserved): its worst case, and one worst case more for each retry after an attempt in doubt."""

    def __init__(self, budget: Budget, stopper: "Stopper", worst: Decimal | None):
        self.budget = budget
        self.stopper = stopper
        self.worst = worst
        self.reserved = worst or Decimal(0)

    def more(self, worst: Decimal | None) -> bool:
        """Reserve one more attempt's worst case, waiting while other calls may settle for less than
        they reserved. False (nothing reserved) when it cannot fit, or the run was interrupted."""
        b = self.budget
        with b.cond:
            b.retrying += 1
            try:
                while not self.stopper.aborted.is_set():
                    if b.fits(worst):
                        b.reserved += worst or Decimal(0)
                        self.reserved += worst or Decimal(0)
                        return True
                    if b.unsettled <= b.retrying:  # every call not yet settled waits for a retry: none will settle
                        return False
                    b.cond.wait(0.05)
                return False
            finally:
                b.retrying -= 1


@dataclass
class Dispatched:
    left: list  # the items never started, in order
    budget_stop: bool  # the budget stopped them (else an interrupt, an account error, or nothing left)


def dispatch(items: list[tuple[Any, Decimal | None]], work: Callable[[Any, Slot], Any],
             write: Callable[[list[tuple[Any, Decimal | None, Any]]], Decimal], limiter: Limiter, budget: Budget,
             stopper: Stopper, name: str = "costlab-replay") -> Dispatched:
    """Run `work(item, slot)` for each (item, worst case) on worker threads, within the limiter and the
    budget (the slot holds the item's reservation: its worst case, and more for its retries), and
    `write(done)`, done being (item, worst, result), on this thread (the store's) for what they
    return, grouped per WRITE_EVERY; `write` returns what the batch cost (spend and in doubt) and the
    budget settles at it, releasing what the items reserved.

    Every paid call goes through here (replays and judge calls): so an interrupt stops new calls at
    once, what was answered is written even after it, and a budget waiter is never left waiting for
    a writer that stopped. Worker threads are daemons: abandoning them never holds up the exit.
    """
    pending = list(reversed(items))
    results: queue.Queue = queue.Queue()
    cond = budget.cond
    state = {"inflight": 0}

    def next_item() -> tuple[Any, Decimal | None] | None:
        with cond:
            while True:
                if stopper.aborted.is_set() or budget.stopped or not pending:
                    return None
                if limiter.can_start(state["inflight"]):
                    item, worst = pending[-1]
                    if not budget.fits(worst):
                        if budget.unsettled == 0:
                            budget.stopped = True
                            cond.notify_all()
                            return None
                        cond.wait(0.05)  # what is in flight or unwritten may cost less than reserved
                        continue
                    pending.pop()
                    state["inflight"] += 1
                    budget.take(worst)
                    return item, worst
                cond.wait(0.01)

    def worker() -> None:
        while (got := next_item()) is not None:
            item, worst = got
            slot = Slot(budget, stopper, worst)
            try:
                result = work(item, slot)
            except BaseException as ex:  # a bug: raised on the writer's thread, after writing what arrived
                result = _Crash(ex)
            results.put((item, slot, result))
            with cond:
                state["inflight"] -= 1
                cond.notify_all()

    threads = [threading.Thread(target=worker, name=f"{name}-{i}", daemon=True) for i in range(limiter.maximum)]
    for t in threads:
        t.start()
    crash: BaseException | None = None
    buffered: list = []
    last = time.monotonic()
    left: list = []
    try:
        while True:
            alive = any(t.is_alive() for t in threads)
            buffered += _drain(results, timeout=0.02)
            # Group what arrives within WRITE_EVERY seconds into one transaction: each costs a few ms of
            # the CPU the calls need; the journal keeps the calls safe in between.
            if buffered and (time.monotonic() - last >= WRITE_EVERY or len(buffered) >= 256 or not alive
                             or stopper.aborted.is_set()):
                done = [(item, slot.worst, r) for item, slot, r in buffered if not isinstance(r, _Crash)]
                if crash is None and len(done) < len(buffered):
                    crash = next(d[2].ex for d in buffered if isinstance(d[2], _Crash))
                    stopper.abort()  # no new call after a bug; what was answered is still written
                cost = write(done) if done else Decimal(0)
                budget.settle(sum((slot.reserved for _, slot, _ in buffered), Decimal(0)), cost, len(buffered))
                buffered = []
                last = time.monotonic()
            if not alive and results.empty() and not buffered:
                break
            if stopper.abandoned.is_set() and results.empty() and not buffered:
                break  # the calls still in flight stay in the journal: in doubt on resume
    finally:
        with cond:
            left = [item for item, _ in reversed(pending)]
            pending.clear()  # a thread still waiting for a slot (or the budget) starts nothing now
            cond.notify_all()
    if crash is not None:
        raise crash
    return Dispatched(left, budget.stopped and bool(left))


@dataclass
class _Crash:
    ex: BaseException


def send(store: "Store", run: str, client: Any, jobs: list[Job], limiter: Limiter, max_usd: Decimal | None = None,
         on_progress: Callable[[int, Decimal], None] | None = None, stopper: Stopper | None = None,
         journal: Journal | None = None, platform: str = "anthropic") -> Outcome:
    """Send every job (bounded by the limiter and the budget); write the results as they arrive.

    Worker threads take jobs and call the API, journaling each attempt; this thread writes what arrived, one
    transaction per turn, so sending never waits for the store. A 401, 402 or 403 stops sending:
    the refused pairs are not recorded (not billed: resume sends them) and out.failed says why.
    """
    out = Outcome(peak_concurrency=limiter.maximum)
    own_journal = journal is None
    journal = journal if journal is not None else Journal(journal_path(store, run))
    budget = Budget(max_usd, budget_spent(store, run))
    replace = bool(store.scalar("select count(*) from replays where run = ? and status in ('not_sent', 'sending')", [run]))

    api = Api.of(client)

    def work(job: Job, slot: Slot) -> tuple:
        job.started_at = datetime.now(timezone.utc)
        result = call(api, job, journal, slot)
        if result is None:
            return ("released",)  # interrupted between attempts, nothing billed: resume sends it
        *row, unanswered = result
        if row[0] == "error" and row[10] in ACCOUNT_ERRORS:
            stopper_.abort()
            if not unanswered:  # refused before any work (released in the journal): not billed, resume sends it
                return ("refused", row)
        return ("row", row, job.worst_usd * unanswered if unanswered else None)

    def write(done: list) -> Decimal:
        rows = [(run, j.source, j.request_id, j.tier, *r[1], j.model, j.service_tier, j.started_at, j.platform, j.geo_class,
                 json.dumps(j.not_carried) if j.not_carried else None, r[2]) for j, _, r in done if r[0] == "row"]
        for _, _, r in done:
            if r[0] == "refused" and out.failed is None:
                out.failed = f"{r[1][11]}"
        with store.transaction():
            cost = write_results(store, rows, replace)
        for row in rows:
            out.ok += row[4] == "ok"
            out.errors += row[4] == "error"
        out.sent += len(rows)
        if on_progress:
            on_progress(len(rows), budget.spent + cost)
        return cost

    stopper_ = stopper or Stopper()
    with stopper_ if stopper is None else contextlib.nullcontext():
        try:
            result = dispatch([(j, j.worst_usd) for j in jobs], work, write, limiter, budget, stopper_)
        finally:
            if own_journal:
                journal.close()
    out.interrupted = stopper_.interrupted
    if out.failed is not None:
        out.failed = (f"the API refused the key ({out.failed}): check {key_hint(platform)}. Nothing was billed for the "
                      "refused calls; resume sends them once the key is right.")
    if result.budget_stop:
        _mark_not_sent(store, run, result.left, "budget: sending it could cross --max-usd")
        out.not_sent = len(result.left)
        out.notes.append(f"stopped before the budget: {len(result.left)} requests not sent (resume with a higher --max-usd)")
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
