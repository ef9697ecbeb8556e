"""An Anthropic-compatible API on 127.0.0.1, for tests and for dry-running a replay set-up.

It speaks the wire formats the anthropic SDK uses (reference: claude-pricing-and-api.md section 3):
Messages, count_tokens, Message Batches (create, retrieve, list, results, cancel, delete), error bodies
with `request-id`, and the `anthropic-ratelimit-*` headers. Answers are deterministic functions of the
request and the model (answers.py), so judges and checks can be tested:

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

This module holds the server's state and what tests ask of it; the HTTP side is handler.py, the
answers answers.py, the books books.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from costlab.testing.answers import is_judge
from costlab.testing.books import Books, fingerprint
from costlab.testing.handler import MESSAGES, Batch, Handler, Quiet


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
        self._httpd: Quiet | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> "TestServer":
        server = self

        class ServerHandler(Handler):
            owner = server

        self._httpd = Quiet(("127.0.0.1", self._port), ServerHandler)
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
