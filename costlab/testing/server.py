"""An Anthropic-compatible API on 127.0.0.1, for tests and for dry-running a replay set-up.

It speaks the wire formats the anthropic SDK uses (reference: claude-pricing-and-api.md section 3):
Messages, count_tokens, Message Batches (create, retrieve, list, results, cancel, delete), error bodies
with `request-id`, and the `anthropic-ratelimit-*` headers. Answers are deterministic functions of the
request and the model, so judges and checks can be tested:

* a normal answer is the digest and then "detail" quality(model) times: opus 3, sonnet 2, haiku 1 (other
  models 1). The digest is a hash of the messages and system, the same for every model;
* a prompt containing "json" (any case) gets a JSON object; haiku answers `{"answer": ...` (cut: invalid);
* a prompt containing "classify" gets one word: "positive" (haiku says "negative");
* a prompt containing "forbidden" is refused by haiku (stop_reason "refusal"), answered by the others;
* a judge prompt (system starting with "You are a costlab judge") is answered by counting "detail"
  words: the pairwise judge says "A", "B" or "TIE" for the answer with more; the rubric judge says
  "SCORE: n" with n = 3 + 2 x details (capped at 10). `judge_position_bias=True` makes the pairwise
  judge always say "A", to test order-inconsistency.

Faults are `Fault` rules, consumed in order; each applies to requests it matches (path, model,
prompt substring) for its first `times` matches. Batch rows can be made to error or expire.

    with TestServer(latency=0.05) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test")
        ...
        assert server.count("/v1/messages") == 3

Partner platforms, as the SDK's AnthropicBedrock and AnthropicVertex clients call them:

* Bedrock InvokeModel, `POST /model/{modelId}/invoke`: the model in the path (`anthropic.claude-...-v1:0`,
  `global.anthropic.claude-...`), a body with `anthropic_version` and no `model`; signed with AWS SigV4
  (verified with botocore when `aws_secret_key` is set) or a Bedrock API key (Bearer). Errors are
  Bedrock's `{"message": ...}` with `x-amzn-ErrorType`; the request id is `x-amzn-RequestId`.
* Vertex AI rawPredict, `POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:rawPredict`
  (`claude-...@date` ids too), the same body rules, a Bearer access token; and `.../models/count-tokens:rawPredict`.

Both answer the Message the Claude API would, so faults, counts and `paid` work the same: a fault's
`path` and `count(path)` match the raw path or the endpoint it stands for (`/v1/messages`).
`streamRawPredict` and `invoke-with-response-stream` are refused (the server does not stream).

API keys: `Authorization: Bearer` and `x-api-key` are accepted; when `api_key` is set, any other key
gets a 401. The server never records a key, only which header carried it (`bearer`, `x-api-key`, `sigv4`)
and a fingerprint of it (`fingerprint(key)`, a hash), by which it keeps its own books.
`record_bodies=True` keeps each request body in the log, to check what a judge was shown.

What it charged, counted on the server's side (what a test of "never pay twice, never cross the
budget" must check, rather than the client's own bookkeeping): every Message answered (200, or a
succeeded batch row) is a paid call, booked the moment it is answered, whether or not the client is
still there to read it. `answered(key=..., judge=...)` counts them and `charged_usd(...)` sums their
price, per API key, judge calls (system prompt starting with "You are a costlab judge") apart when
asked. Prices come from `prices={model: (input $/MTok, output $/MTok)}` (batch rows at half); a
model without a price is counted in `unpriced`.

Holding answers, for deterministic interrupt and crash tests: `hold(after=n, judge=..., model=...)`
lets the next n matching Messages calls through and makes the later ones wait; `wait_held(k)` waits
until k calls are waiting; `release()` answers them (and every later one).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import unquote

JUDGE_MARK = "You are a costlab judge"
MESSAGES = "/v1/messages"
BEDROCK_PATH = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>invoke|invoke-with-response-stream)$")
VERTEX_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/publishers/anthropic/models/"
                         r"(?P<model>[^/:]+):(?P<op>rawPredict|streamRawPredict)$")
# Bedrock's error types by status (x-amzn-ErrorType), for errors answered on its path.
BEDROCK_ERRORS = {400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
                  408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
                  500: "InternalServerException", 503: "ServiceUnavailableException"}
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 409: "conflict_error", 413: "request_too_large", 429: "rate_limit_error",
    500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}


@dataclass
class Fault:
    """One injected fault.

    Args:
        status: HTTP status to answer with (429, 529, 500, 400, ...); 0 for no error (with delay or drop).
        times: how many matching requests it hits (None: all of them).
        path: only requests to this path (default the Messages endpoint).
        model: only requests for this model (substring).
        prompt: only requests whose body contains this text.
        retry_after: seconds for the `retry-after` header (None: no header).
        retry_after_ms: milliseconds for `retry-after-ms`.
        delay: seconds to wait before answering (a slow response).
        drop: close the connection without an answer.
        should_retry: value for `x-should-retry` ("true"/"false"), None for no header.
    """

    status: int = 0
    times: int | None = 1
    path: str = "/v1/messages"
    model: str | None = None
    prompt: str | None = None
    retry_after: float | None = None
    retry_after_ms: float | None = None
    delay: float = 0.0
    drop: bool = False
    should_retry: str | None = None
    hits: int = 0

    def matches(self, path: str, body: dict[str, Any], raw: bytes, endpoint: str | None = None) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.path not in (path, endpoint):
            return False
        if self.model and self.model not in str(body.get("model", "")):
            return False
        if self.prompt and self.prompt.encode() not in raw:
            return False
        return True


@dataclass
class Hold:
    """Matching Messages calls after the first `passes` wait until released (see TestServer.hold)."""

    passes: int = 0
    judge: bool | None = None
    model: str | None = None
    waiting: int = 0
    released: threading.Event = field(default_factory=threading.Event)

    def matches(self, body: dict[str, Any]) -> bool:
        return ((self.judge is None or is_judge(body) == self.judge)
                and (self.model is None or self.model in str(body.get("model", ""))))


@dataclass
class Books:
    """What the server charged one API key: paid calls and dollars, judge calls apart."""

    calls: int = 0
    usd: Decimal = Decimal(0)
    judge_calls: int = 0
    judge_usd: Decimal = Decimal(0)


def fingerprint(key: str | None) -> str:
    """How the server names a key in its books (never the key itself)."""
    return hashlib.sha256((key or "").encode()).hexdigest()[:16]


def is_judge(body: dict[str, Any]) -> bool:
    return _text_of(body.get("system")).startswith(JUDGE_MARK)


@dataclass
class Batch:
    id: str
    requests: list[dict[str, Any]]
    created_at: datetime
    key: str = ""  # fingerprint of the key that created it: its rows are charged to that key
    polls: int = 0
    status: str = "in_progress"
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    results: list[dict[str, Any]] = field(default_factory=list)


def quality(model: str) -> int:
    m = model.lower()
    return 3 if "opus" in m else 2 if "sonnet" in m else 1


def digest(body: dict[str, Any]) -> str:
    """The identity of a prompt: messages and system, whatever the model."""
    key = json.dumps([body.get("system"), body.get("messages")], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def prompt_text(body: dict[str, Any]) -> str:
    return " ".join([_text_of(body.get("system"))] + [_text_of(m.get("content")) for m in body.get("messages") or []])


def count_tokens(body: dict[str, Any]) -> int:
    """About four characters a token, at least one: deterministic, not Claude's tokenizer."""
    text = json.dumps([body.get("system"), body.get("messages"), body.get("tools")], ensure_ascii=False)
    return max(1, math.ceil(len(text) / 4))


def answer_text(body: dict[str, Any], position_bias: bool = False) -> str:
    model = str(body.get("model", ""))
    system = _text_of(body.get("system"))
    if system.startswith(JUDGE_MARK):
        return _judge(body, position_bias)
    prompt = prompt_text(body).lower()
    d = digest(body)
    q = quality(model)
    if "json" in prompt:
        full = json.dumps({"answer": d, "detail": q})
        return full[:-3] if q == 1 else full
    if "classify" in prompt:
        return "negative" if q == 1 else "positive"
    return " ".join([d] + ["detail"] * q)


def _judge(body: dict[str, Any], position_bias: bool) -> str:
    text = _text_of((body.get("messages") or [{}])[-1].get("content"))
    if "<answer_b>" in text:
        a = text.split("<answer_a>", 1)[-1].split("</answer_a>", 1)[0].count("detail")
        b = text.split("<answer_b>", 1)[-1].split("</answer_b>", 1)[0].count("detail")
        if position_bias:
            return "A"
        return "A" if a > b else "B" if b > a else "TIE"
    answer = text.split("<answer>", 1)[-1].split("</answer>", 1)[0]
    return f"SCORE: {min(10, 3 + 2 * answer.count('detail'))}"


def message(body: dict[str, Any], msg_id: str, service_tier: str = "standard", position_bias: bool = False,
            platform: str = "anthropic") -> dict[str, Any]:
    """The Message the server answers `body` with (deterministic). Bedrock and Vertex usage has no
    service tier, speed or inference_geo (those are Claude API features)."""
    text = answer_text(body, position_bias)
    stop = "end_turn"
    if (quality(str(body.get("model", ""))) == 1 and "forbidden" in prompt_text(body).lower()
            and not _text_of(body.get("system")).startswith(JUDGE_MARK)):
        text, stop = "I can't help with that.", "refusal"
    words = text.split(" ")
    max_tokens = int(body.get("max_tokens") or 1)
    if len(words) > max_tokens:
        words, stop = words[:max_tokens], "max_tokens"
        text = " ".join(words)
    out = {
        "id": msg_id, "type": "message", "role": "assistant", "model": body.get("model"),
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop, "stop_sequence": None, "stop_details": None, "container": None, "diagnostics": None,
        "usage": {
            "input_tokens": count_tokens(body), "output_tokens": len(words),
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": service_tier, "speed": "standard", "inference_geo": "global",
            "output_tokens_details": {"thinking_tokens": 0},
        },
    }
    if platform != "anthropic":
        for key in ("service_tier", "speed", "inference_geo"):
            out["usage"].pop(key)
    return out


def _iso(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if t else None


class TestServer:
    """The server: start() (or `with`), `.url`, `.count()`, `.log`, faults; stop() when done."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        latency: float = 0.0,
        faults: list[Fault] | None = None,
        api_key: str | None = None,
        batch_polls_to_end: int = 1,
        batch_outcome: Callable[[str, dict[str, Any]], str] | None = None,
        judge_position_bias: bool = False,
        port: int = 0,
        record: bool = True,
        record_bodies: bool = False,
        aws_secret_key: str | None = None,
        prices: dict[str, tuple[Decimal | str | float, Decimal | str | float]] | None = None,
    ):
        self.latency = latency
        self.faults = list(faults or [])
        self.api_key = api_key
        self.batch_polls_to_end = batch_polls_to_end
        self.batch_outcome = batch_outcome
        self.judge_position_bias = judge_position_bias
        self.record = record
        self.record_bodies = record_bodies
        self.aws_secret_key = aws_secret_key  # set: Bedrock SigV4 signatures are verified with it
        self.log: list[dict[str, Any]] = []
        self.paid: Counter[tuple[str, str]] = Counter()  # (model, prompt digest) -> 200 answers
        self.prices = {m: (Decimal(str(i)), Decimal(str(o))) for m, (i, o) in (prices or {}).items()}
        self.books: defaultdict[str, Books] = defaultdict(Books)  # key fingerprint -> what it was charged
        self.unpriced = 0  # answers for a model without a price (charged nothing)
        self.holds: list[Hold] = []
        self.batches: dict[str, Batch] = {}
        self.lock = threading.Lock()
        self._seq = 0
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> "TestServer":
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _Quiet(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 128
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "TestServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what happened -------------------------------------------------------------------------
    def count(self, path: str | None = MESSAGES, status: int | None = None, model: str | None = None,
              platform: str | None = None) -> int:
        """Requests received (for a path or the endpoint it stands for, a status, a model substring and a
        platform: anthropic, bedrock or vertex; None matches any)."""
        with self.lock:
            return sum(1 for e in self.log if (path is None or path in (e["path"], e["endpoint"]))
                       and (status is None or e["status"] == status) and (model is None or model in (e["model"] or ""))
                       and (platform is None or e["platform"] == platform))

    def answered(self, key: str | None = None, judge: bool | None = None) -> int:
        """Paid calls answered (all keys, or the one given); judge calls only (True), none (False) or both."""
        with self.lock:
            books = [self.books[fingerprint(key)]] if key is not None else list(self.books.values())
            return sum((b.judge_calls if judge is not False else 0) + (b.calls - b.judge_calls if judge is not True else 0)
                       for b in books)

    def charged_usd(self, key: str | None = None, judge: bool | None = None) -> Decimal:
        """Dollars charged for the answered calls (all keys, or the one given; judge calls as in answered)."""
        with self.lock:
            books = [self.books[fingerprint(key)]] if key is not None else list(self.books.values())
            return sum(((b.judge_usd if judge is not False else 0) + (b.usd - b.judge_usd if judge is not True else 0)
                        for b in books), Decimal(0))

    def charge(self, key_print: str, body: dict[str, Any], usage: dict[str, Any], factor: Decimal = Decimal(1)) -> None:
        """Book one answered call to a key, at `prices` (times `factor`: 0.5 for batch rows)."""
        price = self.prices.get(str(body.get("model")))
        usd = Decimal(0)
        if price is not None:
            usd = (usage["input_tokens"] * price[0] + usage["output_tokens"] * price[1]) * factor / Decimal(1_000_000)
        with self.lock:
            books = self.books[key_print]
            books.calls += 1
            books.usd += usd
            if is_judge(body):
                books.judge_calls += 1
                books.judge_usd += usd
            self.unpriced += price is None

    def hold(self, after: int = 0, judge: bool | None = None, model: str | None = None) -> Hold:
        """Let the next `after` matching Messages calls through, then hold the later ones until release()."""
        h = Hold(passes=after, judge=judge, model=model)
        with self.lock:
            self.holds.append(h)
        return h

    def held(self) -> int:
        """Calls waiting in a hold now."""
        with self.lock:
            return sum(h.waiting for h in self.holds)

    def wait_held(self, n: int, timeout: float = 15.0) -> bool:
        """Wait until at least n calls are held (True), or the timeout passes (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.held() >= n:
                return True
            time.sleep(0.005)
        return False

    def release(self) -> None:
        """Answer every held call, and hold no more."""
        with self.lock:
            holds, self.holds = self.holds, []
        for h in holds:
            h.released.set()

    def _gate(self, body: dict[str, Any]) -> None:
        with self.lock:
            hold = next((h for h in self.holds if h.matches(body)), None)
            if hold is None:
                return
            if hold.passes > 0:
                hold.passes -= 1
                return
            hold.waiting += 1
        hold.released.wait()
        with self.lock:
            hold.waiting -= 1

    def next_id(self, prefix: str) -> str:
        with self.lock:
            self._seq += 1
            return f"{prefix}_test{self._seq:08d}"

    def take_fault(self, path: str, body: dict[str, Any], raw: bytes, endpoint: str | None = None) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.matches(path, body, raw, endpoint):
                    f.hits += 1
                    return f
        return None


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (killed, timed out) is normal here, not worth a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    owner: TestServer
    protocol_version = "HTTP/1.1"
    # One write per response, sent at once: headers and body written separately meet Nagle's
    # algorithm and delayed ACKs on loopback and cost ~40 ms a response.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # quiet: tests read .log instead
        pass

    # -- plumbing -------------------------------------------------------------------------------
    platform = "anthropic"

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None, raw: bytes | None = None,
              content_type: str = "application/json") -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        if self.platform == "bedrock":
            self.send_header("x-amzn-RequestId", self._rid)
        else:
            self.send_header("request-id", self._rid)
            now = datetime.now(timezone.utc)
            for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
                self.send_header(f"anthropic-ratelimit-{kind}-limit", "4000" if kind == "requests" else "2000000")
                self.send_header(f"anthropic-ratelimit-{kind}-remaining", "3999" if kind == "requests" else "1999000")
                self.send_header(f"anthropic-ratelimit-{kind}-reset", _iso(now + timedelta(seconds=1)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        if self.platform == "bedrock":
            kind = BEDROCK_ERRORS.get(status, "InternalServerException" if status >= 500 else "ValidationException")
            return self._send(status, {"message": message}, {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/", **(headers or {})})
        self._send(status, {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
                            "request_id": self._rid}, headers)

    def _record(self, path: str, body: dict[str, Any], status: int, auth: str, endpoint: str | None = None) -> None:
        if self.owner.record:
            entry = {"method": self.command, "path": path, "endpoint": endpoint or path, "platform": self.platform,
                     "model": body.get("model"), "status": status, "auth": auth, "digest": digest(body) if body else None,
                     "judge": is_judge(body),
                     "retry": self.headers.get("x-stainless-retry-count"),
                     "anthropic_version": body.get("anthropic_version") or self.headers.get("anthropic-version")}
            if self.owner.record_bodies:
                entry["body"] = body
            with self.owner.lock:
                self.owner.log.append(entry)

    def _auth(self, raw: bytes) -> str | None:
        bearer = self.headers.get("authorization", "")
        self._key_print = fingerprint(None)
        if bearer.startswith("AWS4-HMAC-SHA256 "):
            self._key_print = "sigv4"
            return "sigv4" if self.platform == "bedrock" and self._sigv4_ok(bearer, raw) else None
        if bearer.lower().startswith("bearer "):
            self._key_print = fingerprint(bearer[7:].strip())
            return "bearer" if self._key_ok(bearer[7:].strip()) else None
        key = self.headers.get("x-api-key")
        if key is not None:
            self._key_print = fingerprint(key.strip())
            return "x-api-key" if self._key_ok(key.strip()) else None
        return None

    def _key_ok(self, key: str) -> bool:
        return bool(key) and (self.owner.api_key is None or key == self.owner.api_key)

    def _sigv4_ok(self, authorization: str, raw: bytes) -> bool:
        """An AWS SigV4 signature for service bedrock; recomputed with botocore when the secret is known."""
        fields = dict(part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 "):].split(",") if "=" in part)
        scope = fields.get("Credential", "").split("/")
        if len(scope) != 5 or scope[3] != "bedrock" or not fields.get("Signature") or not self.headers.get("x-amz-date"):
            return False
        if self.owner.aws_secret_key is None:
            return True
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        signed = fields.get("SignedHeaders", "").split(";")
        request = AWSRequest(method=self.command, url=f"http://{self.headers.get('host')}{self.path}",
                             headers={h: self.headers.get(h, "") for h in signed}, data=raw)
        request.context["timestamp"] = self.headers["x-amz-date"]
        signer = SigV4Auth(Credentials(scope[0], self.owner.aws_secret_key, self.headers.get("x-amz-security-token")),
                           "bedrock", scope[2])
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        return hmac.compare_digest(expected, fields["Signature"])

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _platform_call(self, path: str, body: dict[str, Any]) -> tuple[str, dict[str, Any], str | None]:
        """A Bedrock or Vertex path: the endpoint it stands for, the body with the model from the path,
        and what is wrong with it (None when it is a valid call)."""
        m = BEDROCK_PATH.match(path) or VERTEX_PATH.match(path)
        if m is None:
            return path, body, None
        if m["model"] == "count-tokens" and path.startswith("/v1/projects/"):
            self.platform = "vertex"  # count_tokens keeps the model in the body
            return "/v1/messages/count_tokens", body, None
        self.platform = "bedrock" if path.startswith("/model/") else "vertex"
        model = unquote(m["model"])
        problem = None
        if m["op"] != "invoke" and m["op"] != "rawPredict":
            problem = f"{m['op']}: the costlab test server does not stream; call {'invoke' if self.platform == 'bedrock' else 'rawPredict'}"
        elif "model" in body:
            problem = "extraneous key [model] is not permitted: the model is in the URL"
        elif not isinstance(body.get("anthropic_version"), str) or not body["anthropic_version"]:
            problem = "anthropic_version: required in the body on " + self.platform
        return MESSAGES, {**body, "model": model}, problem

    def _handle(self) -> None:
        owner = self.owner
        self._rid = owner.next_id("req")
        path = self.path.split("?", 1)[0].rstrip("/")
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.platform = "anthropic"
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._record(path, {}, 400, "?")
            return self._error(400, "request body is not valid JSON")
        if not isinstance(body, dict):
            body = {}
        endpoint, body, problem = self._platform_call(path, body)
        auth = self._auth(raw)
        if auth is None:
            self._record(path, body, 403 if self.platform == "bedrock" else 401, "none", endpoint)
            if self.platform == "bedrock":
                return self._error(403, "The request signature we calculated does not match the signature you provided.")
            return self._error(401, "invalid x-api-key")
        if endpoint == MESSAGES and self.command == "POST":
            owner._gate(body)
        fault = owner.take_fault(path, body, raw, endpoint)
        if owner.latency and endpoint in (MESSAGES, "/v1/messages/count_tokens"):
            time.sleep(owner.latency)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop:
                self._record(path, body, 0, auth, endpoint)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault.status >= 400:
                headers = {}
                if fault.retry_after is not None:
                    headers["retry-after"] = f"{fault.retry_after:g}"
                if fault.retry_after_ms is not None:
                    headers["retry-after-ms"] = f"{fault.retry_after_ms:g}"
                if fault.should_retry is not None:
                    headers["x-should-retry"] = fault.should_retry
                self._record(path, body, fault.status, auth, endpoint)
                return self._error(fault.status, f"injected {fault.status}", headers)
        if problem:
            self._record(path, body, 400, auth, endpoint)
            return self._error(400, problem)
        status = self._route(endpoint, body)
        self._record(path, body, status, auth, endpoint)

    # -- endpoints ------------------------------------------------------------------------------
    def _route(self, path: str, body: dict[str, Any]) -> int:
        owner = self.owner
        if path == "/v1/messages" and self.command == "POST":
            problem = _invalid(body)
            if problem:
                self._error(400, problem)
                return 400
            if body.get("stream"):
                self._error(400, "the costlab test server does not stream; send stream=false")
                return 400
            msg = message(body, owner.next_id("msg"), position_bias=owner.judge_position_bias, platform=self.platform)
            with owner.lock:
                owner.paid[(str(body.get("model")), digest(body))] += 1
            owner.charge(self._key_print, body, msg["usage"])  # answered is paid, read or not
            self._send(200, msg)
            return 200
        if path == "/v1/messages/count_tokens" and self.command == "POST":
            if not body.get("model") or not isinstance(body.get("messages"), list):
                self._error(400, "count_tokens needs model and messages")
                return 400
            self._send(200, {"input_tokens": count_tokens(body)})
            return 200
        if path == "/v1/messages/batches":
            if self.command == "POST":
                return self._batch_create(body)
            with owner.lock:
                data = [_batch_json(b, self) for b in owner.batches.values()]
            self._send(200, {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                             "last_id": data[-1]["id"] if data else None})
            return 200
        if path.startswith("/v1/messages/batches/"):
            parts = path.split("/")[4:]
            batch = owner.batches.get(parts[0])
            if batch is None:
                self._error(404, f"no batch {parts[0]}")
                return 404
            rest = parts[1] if len(parts) > 1 else ""
            if rest == "" and self.command == "GET":
                self._advance(batch)
                self._send(200, _batch_json(batch, self))
                return 200
            if rest == "" and self.command == "DELETE":
                if batch.status != "ended":
                    self._error(400, "a batch must end before it can be deleted")
                    return 400
                del owner.batches[batch.id]
                self._send(200, {"id": batch.id, "type": "message_batch_deleted"})
                return 200
            if rest == "cancel" and self.command == "POST":
                if batch.status == "in_progress":
                    batch.status = "canceling"
                    batch.cancel_initiated_at = datetime.now(timezone.utc)
                self._send(200, _batch_json(batch, self))
                return 200
            if rest == "results" and self.command == "GET":
                if batch.status != "ended":
                    self._error(400, "batch results are available once processing has ended")
                    return 400
                # Results come in any order: the server answers in reverse to make sure callers match custom_id.
                lines = "".join(json.dumps(r) + "\n" for r in reversed(batch.results))
                self._send(200, None, raw=lines.encode(), content_type="application/binary")
                return 200
        self._error(404, f"{self.command} {path}: not an endpoint of the test server")
        return 404

    def _batch_create(self, body: dict[str, Any]) -> int:
        reqs = body.get("requests")
        if not isinstance(reqs, list) or not reqs:
            self._error(400, "requests: expected a non-empty list")
            return 400
        seen = set()
        for r in reqs:
            cid = r.get("custom_id") if isinstance(r, dict) else None
            if not cid or cid in seen or not isinstance(r.get("params"), dict):
                self._error(400, f"requests: every item needs a unique custom_id and params (bad: {cid!r})")
                return 400
            seen.add(cid)
        batch = Batch(self.owner.next_id("msgbatch"), reqs, datetime.now(timezone.utc), key=self._key_print)
        with self.owner.lock:
            self.owner.batches[batch.id] = batch
        self._send(200, _batch_json(batch, self))
        return 200

    def _advance(self, batch: Batch) -> None:
        """Each retrieve is a poll; after `batch_polls_to_end` polls (or a cancel) the batch ends."""
        owner = self.owner
        batch.polls += 1
        if batch.status == "ended":
            return
        if batch.status == "canceling" or batch.polls >= owner.batch_polls_to_end:
            for r in batch.requests:
                outcome = "canceled" if batch.status == "canceling" else (
                    owner.batch_outcome(r["custom_id"], r["params"]) if owner.batch_outcome else "succeeded")
                problem = _invalid(r["params"])
                if outcome == "succeeded" and problem:
                    outcome = "errored"
                if outcome == "succeeded":
                    result = {"type": "succeeded", "message": message(r["params"], owner.next_id("msg"), "batch",
                                                                       owner.judge_position_bias)}
                    with owner.lock:
                        owner.paid[(str(r["params"].get("model")), digest(r["params"]))] += 1
                    owner.charge(batch.key, r["params"], result["message"]["usage"], Decimal("0.5"))
                elif outcome == "errored":
                    result = {"type": "errored", "error": {"type": "error", "error": {
                        "type": "invalid_request_error", "message": problem or "injected batch row error"},
                        "request_id": owner.next_id("req")}}
                else:
                    result = {"type": outcome}
                batch.results.append({"custom_id": r["custom_id"], "result": result})
            batch.status = "ended"
            batch.ended_at = datetime.now(timezone.utc)


def _invalid(body: dict[str, Any]) -> str | None:
    if not body.get("model"):
        return "model: field required"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "messages: expected a non-empty list"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "max_tokens: expected a positive integer"
    if "unsupported" in str(body.get("model")):
        return f"model: {body['model']} does not exist"
    return None


def _batch_json(batch: Batch, handler: _Handler) -> dict[str, Any]:
    counts = Counter(r["result"]["type"] for r in batch.results)
    ended = batch.status == "ended"
    host = handler.headers.get("host", "127.0.0.1")
    return {
        "id": batch.id, "type": "message_batch", "processing_status": batch.status,
        "request_counts": {"processing": 0 if ended else len(batch.requests), "succeeded": counts["succeeded"],
                           "errored": counts["errored"], "canceled": counts["canceled"], "expired": counts["expired"]},
        "created_at": _iso(batch.created_at), "expires_at": _iso(batch.created_at + timedelta(hours=24)),
        "ended_at": _iso(batch.ended_at), "cancel_initiated_at": _iso(batch.cancel_initiated_at), "archived_at": None,
        "results_url": f"http://{host}/v1/messages/batches/{batch.id}/results" if ended else None,
    }
