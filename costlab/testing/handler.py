"""The test server's HTTP side: one handler per request (the wire formats of the Claude API, Bedrock
InvokeModel and Vertex rawPredict; keys and SigV4 signatures; faults, holds and latency applied; the
Messages, count_tokens and Message Batches endpoints). The state and the books are the TestServer's
(server.py), which each handler reaches as `owner`."""

from __future__ import annotations

import hmac
import json
import re
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from costlab.testing.answers import count_tokens, digest, invalid, is_judge, message
from costlab.testing.books import fingerprint

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
class Batch:
    """A Message Batch on the server: its requests, and its results once it has ended."""

    id: str
    requests: list[dict[str, Any]]
    created_at: datetime
    key: str = ""  # fingerprint of the key that created it: its rows are charged to that key
    polls: int = 0
    status: str = "in_progress"
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    results: list[dict[str, Any]] = field(default_factory=list)


def _iso(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if t else None


class Quiet(ThreadingHTTPServer):
    """The HTTP server: one thread per connection, and quiet about clients that hang up."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (killed, timed out) is normal here, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """One request, answered for `owner` (the TestServer that started it: server.py, which subclasses
    this with owner set; typed Any here so that this module does not import the server back)."""

    owner: Any
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
        from botocore.auth import SigV4Auth  # heavy, and only when a test verifies Bedrock signatures
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
            problem = invalid(body)
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
                problem = invalid(r["params"])
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


def _batch_json(batch: Batch, handler: Handler) -> dict[str, Any]:
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
