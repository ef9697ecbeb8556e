"""The learned routing policy on a Reduction: its features computed set-based (numpy columns the
Reduction already carries, polars expressions over the prompt texts), and a fitted policy file
(costlab.routing's format) applied to every request at once.

The feature definitions are costlab.routing's (the dependency-free runtime an application imports);
this module computes the same columns for a whole window, and tests/route/test_route_roundtrip.py
checks the two agree request by request.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from costlab.embed import EmbeddingUnavailable, Embedder
from costlab.errors import ConfigError
from costlab.routing import FORMAT, NUMERIC, PAYLOAD, PolicyFileError, Router
from costlab.whatif.arrays import Reduction


def load_policy(path: str | Path) -> dict[str, Any]:
    """A policy file (`costlab route fit`), checked by the runtime's own reader."""
    try:
        with open(path, encoding="utf-8") as f:
            policy = json.load(f)
    except OSError as ex:
        raise ConfigError(f"cannot read the policy file {str(path)!r}: {ex.strerror}") from None
    except json.JSONDecodeError as ex:
        raise ConfigError(f"the policy file {str(path)!r} is not JSON: {ex.msg} (line {ex.lineno})") from None
    try:
        Router(policy)
    except (PolicyFileError, KeyError, TypeError, ValueError) as ex:
        raise ConfigError(f"the policy file {str(path)!r} is not a costlab routing policy ({FORMAT}): {ex}") from None
    return policy


def texts(reduction: Reduction) -> np.ndarray:
    """The prompt texts ('' where unknown)."""
    if reduction.texts is None:
        return np.full(reduction.n, "", dtype=object)
    return reduction.texts


def needs_texts(policy: dict[str, Any]) -> bool:
    """The policy reads the prompt text beyond the wording cues (words or an embedding): on logs the
    what-if pass must then carry the texts (reduce(route_texts=True))."""
    f = policy["features"]
    return bool(f.get("vocab")) or bool(f.get("embedding"))


def has_body_features(reduction: Reduction) -> bool:
    """The window carries the features read from request bodies (reduce(route_features=True) on stored payloads)."""
    return reduction.user_turns is not None


def numeric_matrix(reduction: Reduction, names: tuple[str, ...] | list[str] = NUMERIC) -> np.ndarray:
    """[n, len(names)] (costlab.routing.named_features, for the whole window). With body features (logs
    with stored bodies) the wording cues are the runtime's expressions over the prompt text
    (Reduction.cue_*) and tool_use is also set by tools offered (as the runtime reads `tools`)."""
    names = tuple(names)
    if any(k in PAYLOAD for k in names) and not has_body_features(reduction):
        raise ConfigError("this policy uses features read from logged request bodies (turns, images, structured "
                          "output); this window has none (no stored payloads, or the pass was not asked for them)")
    tool_use = np.asarray(reduction.tool_use, dtype=bool)
    conditional, multistep = reduction.conditional, reduction.multistep
    if has_body_features(reduction):
        tool_use = tool_use | reduction.tools_offered
        conditional, multistep = reduction.cue_conditional, reduction.cue_multistep
    cols = {
        "log_prompt_tokens": lambda: np.log1p(np.maximum(reduction.prompt_tokens, 0).astype(np.float64)),
        "documents": lambda: (reduction.documents > 0).astype(np.float64),
        "tool_use": lambda: tool_use.astype(np.float64),
        "conditional": lambda: np.asarray(conditional, dtype=np.float64),
        "multistep": lambda: np.asarray(multistep, dtype=np.float64),
        "web_search": lambda: (reduction.web_search > 0).astype(np.float64),
        "log_user_turns": lambda: np.log1p(reduction.user_turns.astype(np.float64)),
        "images": lambda: (reduction.images > 0).astype(np.float64),
        "structured": lambda: np.asarray(reduction.structured, dtype=np.float64),
    }
    return np.column_stack([cols[k]() for k in names]) if reduction.n else np.zeros((0, len(names)))


def system_onehot(reduction: Reduction, system_values: list[str]) -> np.ndarray:
    """[n, len(system_values)]: the request's system prompt is that identity (costlab.routing.system_hash)."""
    n = reduction.n
    if not system_values:
        return np.zeros((n, 0))
    if reduction.system is None:
        raise ConfigError("this policy uses system-prompt identities read from logged request bodies; this window "
                          "has none (no stored payloads, or the pass was not asked for them)")
    hashes = np.array(list(reduction.systems) + [""], dtype=object)[reduction.system]  # -1: the "" (none)
    return np.column_stack([(hashes == v) for v in system_values]).astype(np.float64)


def word_rows(reduction: Reduction) -> pl.DataFrame:
    """(i, word): each request's distinct lower-case ASCII words (costlab.routing.words), one row each."""
    frame = pl.DataFrame({"text": pl.Series(list(texts(reduction)), dtype=pl.String)}).with_row_index("i")
    return (frame.select("i", word=pl.col("text").fill_null("").str.to_lowercase().str.extract_all("[a-z]+").list.unique())
            .explode("word").drop_nulls("word"))


def choose_vocab(words: pl.DataFrame, label: np.ndarray, rows: np.ndarray, size: int, min_df: int = 5) -> list[str]:
    """Up to `size` words that tell good from not good on the cheapest tier among `rows`: the largest
    |log odds ratio| (add-one) among words in at least `min_df` of those requests and at most half."""
    if size <= 0 or len(rows) == 0:
        return []
    lab = pl.DataFrame({"i": rows.astype(np.uint32), "y": label[rows].astype(np.float64)})
    pos, n = float(lab["y"].sum()), float(len(rows))
    stats = (words.join(lab, on="i").group_by("word")
             .agg(df=pl.len(), p=pl.col("y").sum())
             .filter((pl.col("df") >= min_df) & (pl.col("df") <= n / 2)))
    # log odds of good among requests with the word vs without it
    a, b = pl.col("p") + 1, pl.col("df") - pl.col("p") + 1
    c, d = pos - pl.col("p") + 1, (n - pos) - (pl.col("df") - pl.col("p")) + 1
    stats = stats.with_columns(lor=((a * d) / (b * c)).log().abs() * pl.col("df").sqrt())
    return stats.sort(["lor", "word"], descending=[True, False]).head(size)["word"].to_list()


def embedder_for(spec: dict[str, Any] | None = None) -> Embedder:
    """The embedding model (a ConfigError saying how to install it when missing); with a policy's
    `features.embedding`, checked to be the model the policy was fitted with."""
    try:
        emb = Embedder.load(int(spec["max_tokens"])) if spec else Embedder.load()
    except EmbeddingUnavailable as ex:
        raise ConfigError(str(ex)) from None
    if spec and emb.digest != spec["digest"]:
        raise ConfigError(f"the policy was fitted on embeddings from weights {spec['digest']}; the installed "
                          f"{spec['package']} has {emb.digest}: install the same package version, or refit")
    return emb


def embeddings(reduction: Reduction, embedder: Embedder) -> np.ndarray:
    """[n, dim] the prompt texts' embeddings (kept in reduction.memo by the model's digest; one BLAS thread,
    as the runtime embeds one request at a time)."""
    if reduction.texts is None:
        raise ConfigError("text embeddings need the prompt texts; this window has none (logged requests' texts come "
                          "from stored request bodies: ingest with payloads, or fit without --embed)")
    key = ("embeddings", embedder.digest, embedder.max_tokens)
    hit = reduction.memo.get(key)
    if hit is None:
        with threadpool_limits(1):
            hit = reduction.memo[key] = embedder.embed(list(texts(reduction)))
    return hit


def project(E: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """Embeddings on the policy's principal components (costlab.routing.Router.embedding_features, set-based)."""
    proj = spec["projection"]
    return (E.astype(np.float64) - np.array(proj["mean"], float)) @ np.array(proj["components"], float).reshape(-1, E.shape[1]).T


def design(reduction: Reduction, feature_values: list[str], vocab: list[str], words: pl.DataFrame | None = None,
           embedded: np.ndarray | None = None, numeric: tuple[str, ...] | list[str] = NUMERIC,
           system_values: list[str] | None = None) -> np.ndarray:
    """[n, features] unscaled, in the policy file's column order: `numeric` (NUMERIC, then PAYLOAD when
    the policy lists them), one-hot feature names, one-hot system-prompt identities, words, then the
    projected embedding (`embedded`, [n, components]) when the policy has one."""
    n = reduction.n
    names = np.array(reduction.features, dtype=object)[reduction.feature] if n else np.zeros(0, dtype=object)
    onehot = np.column_stack([(names == v) for v in feature_values]).astype(np.float64) if feature_values else np.zeros((n, 0))
    wm = np.zeros((n, len(vocab)))
    if vocab:
        w = words if words is not None else word_rows(reduction)
        hit = w.join(pl.DataFrame({"word": vocab}).with_row_index("j"), on="word")
        wm[hit["i"].to_numpy(), hit["j"].to_numpy()] = 1.0
    parts = [numeric_matrix(reduction, numeric), onehot, system_onehot(reduction, list(system_values or [])), wm]
    if embedded is not None:
        parts.append(embedded)
    return np.hstack(parts)


def probabilities(policy: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """[n, tiers below the top]: P(that tier is good enough) per request, from the unscaled design."""
    mean, std = np.array(policy["scale"]["mean"], float), np.array(policy["scale"]["std"], float)
    Z = (X - mean) / std
    B = np.array([c["intercept"] for c in policy["classifiers"]], float)
    W = np.array([c["coef"] for c in policy["classifiers"]], float).reshape(len(B), -1)
    s = Z @ W.T + B
    return np.where(s >= 0, 1 / (1 + np.exp(-np.abs(s))), np.exp(-np.abs(s)) / (1 + np.exp(-np.abs(s))))


def assign_by_threshold(P: np.ndarray, threshold: float, top: int) -> np.ndarray:
    """The cheapest tier whose probability reaches the threshold; `top` when none does."""
    ok = P >= threshold
    return np.where(ok.any(axis=1), np.argmax(ok, axis=1), top).astype(np.int16)


def policy_design(reduction: Reduction, policy: dict[str, Any], E: np.ndarray | None = None) -> np.ndarray:
    """The policy file's design matrix for a window (embedding the texts when the policy uses embeddings
    and `E` is not given)."""
    spec = policy["features"].get("embedding")
    embedded = None
    if spec:
        E = embeddings(reduction, embedder_for(spec)) if E is None else E
        embedded = project(E, spec)
    f = policy["features"]
    return design(reduction, list(f["feature_values"]), list(f["vocab"]), embedded=embedded, numeric=f["numeric"],
                  system_values=f.get("system_values"))


def learned_assignment(reduction: Reduction, policy: dict[str, Any], threshold: float | None = None) -> np.ndarray:
    """The tier index per request the policy file chooses (the runtime's Router.tier, set-based)."""
    tiers = list(policy["tiers"])
    if tuple(tiers) != tuple(reduction.tiers):
        raise ConfigError(f"the policy routes between tiers {', '.join(tiers)}; this window has "
                          f"{', '.join(reduction.tiers)} (give --tiers to match, or refit)")
    X = policy_design(reduction, policy)
    t = float(policy["threshold"]) if threshold is None else threshold
    return assign_by_threshold(probabilities(policy, X), t, len(tiers) - 1)
