"""Fitting a routing policy to judged requests, and its honest evaluation.

Per tier below the top, a logistic regression (scikit-learn, L2, on standardised features) predicts
P(that tier's answer is good enough) from what is known before the call (costlab.routing's
features). The policy sends a request to the cheapest tier whose probability reaches a threshold.

Evaluation: grouped K-fold cross-validation (groups: a hash of the normalised prompt text, so a
prompt and its near-duplicates are never on both sides), vocabulary chosen inside each fold. The
out-of-fold probabilities give the policy's cost-quality curve (a threshold sweep), set beside the
complexity policy's (a share sweep), the random router's and the oracle; APGR/CPT/AIQ are
costlab.whatif.frontier.metrics (RouteLLM's definitions), with a bootstrap over prompt groups for the
intervals of APGR and of the learned-minus-complexity difference (the same resamples for both).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import polars as pl
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from costlab.errors import ConfigError
from costlab.routing import FORMAT, NUMERIC, PAYLOAD
from costlab.whatif import routecheck
from costlab.whatif import learned
from costlab.whatif.arrays import Reduction
from costlab.whatif.frontier import metrics
from costlab.whatif.policies import complexity_scores, oracle_assignment, quantile_assignment
from costlab.whatif.routellm import random_router_curve

VOCAB_CHOICES = (0, 50, 200)
COMPONENT_CHOICES = (4, 8, 16, 32)  # principal components of the text embedding (--embed), chosen by the inner CV
LABELS = {"top": "judged at least as good as the top tier's answer (good, or the top tier's is not good either)",
          "good": "judged good"}
MIN_FEATURE_REQUESTS = 20  # a feature name gets its own column when at least this many requests have it
SYSTEM_VALUES = 10  # the most frequent system prompts (identities) in the fit rows get a column each


@dataclass
class FitOptions:
    folds: int = 5
    vocab: int | None = None  # words per model (0: no wording beyond the complexity cues); None: chosen
    # from VOCAB_CHOICES by an inner grouped CV on the training rows only (log loss of the cheapest tier's model)
    C: float = 0.5  # inverse L2 strength (scikit-learn's C)
    target_pgr: float = 0.8  # choose the least-cost threshold whose cross-validated PGR reaches this
    threshold: float | None = None  # or this threshold, as given
    resamples: int = 200
    seed: int = 0
    label: str = "top"  # what "the tier suffices" means (LABELS)
    embed: bool = False  # text embeddings (costlab.embed) as features: the runtime then needs the model too
    components: int | None = None  # embedding components; None: chosen from COMPONENT_CHOICES by the inner CV


@dataclass
class Evaluation:
    n: int
    groups: int
    folds: int
    oof: np.ndarray  # [n, T-1] out-of-fold probabilities
    thresholds: np.ndarray
    learned: dict[str, Any]
    complexity: dict[str, Any]
    random: dict[str, Any]
    oracle: dict[str, Any]
    difference: dict[str, Any]  # learned APGR - complexity APGR, point and interval
    calibration: dict[str, Any]
    curve: list[dict[str, float]] = field(default_factory=list)
    difference_random: dict[str, Any] = field(default_factory=dict)  # learned APGR - a random router's, paired
    settings: list[dict[str, int]] = field(default_factory=list)  # each outer fold's inner-CV choice (words, components)


def prompt_groups(reduction: Reduction) -> np.ndarray:
    """A group id per request: a hash of its prompt text, lower-cased with runs of space and
    punctuation collapsed (so copies differing only in case or spacing fall together). With no
    prompt text (logs: not read yet), each request is its own group."""
    if reduction.texts is None:
        return np.arange(reduction.n, dtype=np.uint64)
    t = pl.Series(list(learned.texts(reduction)), dtype=pl.String).fill_null("")
    norm = t.str.to_lowercase().str.replace_all(r"[^a-z0-9]+", " ").str.strip_chars()
    h = norm.hash(seed=0).to_numpy().astype(np.uint64)
    # no text (a logged request without a stored body): its own group, never one group of all of them
    empty = (norm == "").to_numpy()
    return np.where(empty, np.arange(reduction.n, dtype=np.uint64), h) if empty.any() else h


def usable(reduction: Reduction) -> np.ndarray:
    """Requests judged on every tier: the ones a policy can be fitted and evaluated on."""
    return np.isfinite(reduction.good).all(axis=1)


def _feature_values(reduction: Reduction, rows: np.ndarray) -> list[str]:
    counts = np.bincount(reduction.feature[rows], minlength=len(reduction.features))
    return [f for f, c in zip(reduction.features, counts) if MIN_FEATURE_REQUESTS <= c < len(rows)]


def _system_values(reduction: Reduction, rows: np.ndarray) -> list[str]:
    """The top SYSTEM_VALUES system-prompt identities among `rows` (each in at least MIN_FEATURE_REQUESTS
    of them and not all), most frequent first (ties by hash); [] without body features."""
    if reduction.system is None or not len(rows):
        return []
    s = reduction.system[rows]
    counts = np.bincount(s[s >= 0], minlength=len(reduction.systems))
    ok = [(-int(c), h) for h, c in zip(reduction.systems, counts) if MIN_FEATURE_REQUESTS <= c < len(rows)]
    return [h for _, h in sorted(ok)[:SYSTEM_VALUES]]


def _numeric(reduction: Reduction) -> list[str]:
    """NUMERIC, and the body features when the window carries them (learned.has_body_features)."""
    return list(NUMERIC + PAYLOAD) if learned.has_body_features(reduction) else list(NUMERIC)


def label_matrix(reduction: Reduction, kind: str) -> np.ndarray:
    """[n, T-1] bool: does tier t suffice for request i? `top`: its answer is judged good, or the top
    tier's is not either (it loses nothing against the top tier: RouteLLM's "weak is as good as strong");
    `good`: its answer is judged good."""
    if kind not in LABELS:
        raise ConfigError(f"--label: choose {', '.join(LABELS)}")
    g = np.nan_to_num(reduction.good, nan=0.0) >= 0.5
    return g[:, :-1] if kind == "good" else g[:, :-1] | ~g[:, -1:]


def _fit_models(X: np.ndarray, Y: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray, list[tuple[float, list[float]]]]:
    """Standardise X, fit one LR per tier below the top on its label column; (mean, std, [(intercept, coef)])."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    Z = (X - mean) / std
    out = []
    for t in range(Y.shape[1]):
        y = Y[:, t]
        if y.all() or not y.any():  # one class: a constant model at its (smoothed) rate
            p = (y.sum() + 0.5) / (len(y) + 1)
            out.append((float(np.log(p / (1 - p))), [0.0] * X.shape[1]))
            continue
        lr = LogisticRegression(C=C, max_iter=1000)
        lr.fit(Z, y)
        out.append((float(lr.intercept_[0]), [float(c) for c in lr.coef_[0]]))
    return mean, std, out


def _policy_dict(reduction, feature_values, vocab, mean, std, models, system_values=()) -> dict[str, Any]:
    features = {"numeric": _numeric(reduction), "feature_values": feature_values, "vocab": vocab}
    if learned.has_body_features(reduction):
        features["system_values"] = list(system_values)
    return {
        "format": FORMAT, "tiers": list(reduction.tiers),
        "features": features,
        "scale": {"mean": [float(x) for x in mean], "std": [float(x) for x in std]},
        "classifiers": [{"tier": reduction.tiers[t], "intercept": b, "coef": c} for t, (b, c) in enumerate(models)],
        "threshold": 0.5,
    }


def full_design(reduction: Reduction, policy: dict[str, Any], words: pl.DataFrame | None, E: np.ndarray | None) -> np.ndarray:
    """[n, features] of every request of the window under a (fold's) policy: its words, its projection."""
    spec = policy["features"].get("embedding")
    embedded = learned.project(E, spec) if spec else None
    f = policy["features"]
    return learned.design(reduction, f["feature_values"], f["vocab"], words, embedded, numeric=f["numeric"],
                          system_values=f.get("system_values"))


def _fit_fixed(reduction: Reduction, opts: FitOptions, words: pl.DataFrame, rows: np.ndarray, Y: np.ndarray,
               E: np.ndarray | None, vocab_size: int, components: int) -> dict[str, Any]:
    vocab = learned.choose_vocab(words, Y[:, 0], rows, vocab_size) if reduction.texts is not None else []
    fv = _feature_values(reduction, rows)
    sv = _system_values(reduction, rows)
    spec = None
    if E is not None and components > 0:
        k = min(components, len(rows) - 1, E.shape[1])
        pca = PCA(n_components=k, svd_solver="full").fit(E[rows].astype(np.float64))
        spec = {"projection": {"mean": [float(x) for x in pca.mean_], "components": [[float(x) for x in r] for r in pca.components_]},
                "components": int(k)}
    pol = _policy_dict(reduction, fv, vocab, np.zeros(0), np.zeros(0), [], sv)
    if spec:
        pol["features"]["embedding"] = spec
    X = full_design(reduction, pol, words, E)
    mean, std, models = _fit_models(X[rows], Y[rows], opts.C)
    out = _policy_dict(reduction, fv, vocab, mean, std, models, sv)
    out["features"] = pol["features"]
    return out


def candidates(reduction: Reduction, opts: FitOptions, E: np.ndarray | None) -> list[tuple[int, int]]:
    """The (words, embedding components) settings the inner CV chooses among."""
    if reduction.texts is None:
        return [(0, 0)]
    vocab = [opts.vocab] if opts.vocab is not None else (list(VOCAB_CHOICES) if E is None else [0])
    comps = [0] if E is None else ([opts.components] if opts.components is not None else list(COMPONENT_CHOICES))
    return [(v, k) for v in vocab for k in comps]


def fit_policy(reduction: Reduction, opts: FitOptions, words: pl.DataFrame | None = None,
               rows: np.ndarray | None = None, E: np.ndarray | None = None) -> dict[str, Any]:
    """The policy (costlab.routing's format, threshold 0.5 until chosen) fitted on `rows` (default:
    every request judged on every tier); with E ([n, dim] text embeddings) their principal components
    are features too."""
    rows = np.nonzero(usable(reduction))[0] if rows is None else rows
    if len(rows) < 20:
        raise ConfigError(f"fitting a routing policy needs at least 20 requests judged on every tier; found {len(rows)}")  # (cross_validate says how to get them)
    words = learned.word_rows(reduction) if words is None else words
    Y = label_matrix(reduction, opts.label)
    options = candidates(reduction, opts, E)
    v, k = options[0] if len(options) == 1 else choose_setting(reduction, opts, words, rows, Y, E, options)
    pol = _fit_fixed(reduction, opts, words, rows, Y, E, v, k)
    pol["setting"] = {"vocab": v, "components": k}
    return pol


def choose_setting(reduction: Reduction, opts: FitOptions, words: pl.DataFrame, rows: np.ndarray, Y: np.ndarray,
                   E: np.ndarray | None, options: list[tuple[int, int]]) -> tuple[int, int]:
    """The (words, components) setting with the least out-of-fold log loss of the cheapest tier's model, by
    a 3-fold grouped CV on `rows` alone (so an outer evaluation never sees its own test rows here)."""
    if len(rows) < 60:
        return min(options)
    groups = prompt_groups(reduction)[rows]
    if len(np.unique(groups)) < 3:
        return min(options)
    y = Y[rows, 0]
    losses = {}
    for v, k in options:
        p = np.zeros(len(rows))
        for train, test in GroupKFold(n_splits=3).split(rows, groups=groups):
            pol = _fit_fixed(reduction, opts, words, rows[train], Y, E, v, k)
            p[test] = learned.probabilities(pol, full_design(reduction, pol, words, E)[rows[test]])[:, 0]
        p = np.clip(p, 1e-9, 1 - 1e-9)
        losses[(v, k)] = float(-np.mean(y * np.log(p) + (~y) * np.log(1 - p)))
    return min(options, key=lambda o: (losses[o], o))


def cross_validate(reduction: Reduction, opts: FitOptions, words: pl.DataFrame | None = None,
                   E: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, int]]]:
    """(rows, groups, out-of-fold probabilities [len(rows), T-1], each fold's chosen setting) by grouped K-fold."""
    rows = np.nonzero(usable(reduction))[0]
    if len(rows) < 20:
        raise ConfigError(f"fitting a routing policy needs at least 20 requests judged on every tier "
                          f"({', '.join(reduction.tiers)}); found {len(rows)} of {reduction.n:,}. Judge a sample on "
                          "every tier (`costlab replay --sample N --tiers ... --judge TIER`) or import per-prompt eval scores "
                          "(`costlab replay import`, then --eval NAME)")
    groups = prompt_groups(reduction)[rows]
    k = min(opts.folds, len(np.unique(groups)))
    if k < 2:
        raise ConfigError("cross-validation needs at least two distinct prompts")
    words = learned.word_rows(reduction) if words is None else words
    oof = np.zeros((len(rows), len(reduction.tiers) - 1))
    settings = []
    for train, test in GroupKFold(n_splits=k).split(rows, groups=groups):
        pol = fit_policy(reduction, opts, words, rows[train], E)
        oof[test] = learned.probabilities(pol, full_design(reduction, pol, words, E)[rows[test]])
        settings.append(pol["setting"])
    return rows, groups, oof, settings


# -- the cost-quality plane -------------------------------------------------------------------------

def _points(A: np.ndarray, cost: np.ndarray, quality: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cost [K], mean quality [K]) of K assignments [K, n] with request weights w."""
    idx = np.arange(A.shape[1])
    c = (cost[idx, A] * w).sum(axis=1)
    q = (quality[idx, A] * w).sum(axis=1) / w.sum()
    return c, q


def _metrics(A: np.ndarray, cost: np.ndarray, quality: np.ndarray, w: np.ndarray, envelope: bool):
    T = cost.shape[1]
    c, q = _points(A, cost, quality, w)
    ends = np.vstack([np.zeros(A.shape[1], dtype=np.int64), np.full(A.shape[1], T - 1)])
    ce, qe = _points(ends, cost, quality, w)
    return metrics(c, q, float(ce[0]), float(ce[1]), float(qe[0]), float(qe[1]), envelope=envelope), c, q


def threshold_grid(P: np.ndarray, points: int = 101) -> np.ndarray:
    """Thresholds from 'everything to the cheapest tier' to 'everything to the top'."""
    qs = np.quantile(P.min(axis=1), np.linspace(0, 1, points)) if len(P) else np.zeros(0)
    return np.unique(np.concatenate([[0.0], np.round(qs, 6), [1.000001]]))


def complexity_assignments(reduction: Reduction, step: int = 1) -> np.ndarray:
    """[K, n] the complexity policy's assignment at each share of the top tier (two tiers: 0..100% in
    `step`; more tiers: the top tier's share, the rest on the cheapest)."""
    scores = complexity_scores(reduction)
    T = len(reduction.tiers)
    out = []
    for s in range(0, 101, step):
        shares = [0.0] * T
        shares[0], shares[-1] = (100 - s) / 100, s / 100
        out.append(quantile_assignment(scores, shares))
    return np.array(out)


def _summary(m, c: np.ndarray, q: np.ndarray, cost_strong: float) -> dict[str, Any]:
    return {"apgr": m.apgr, "aiq": m.aiq, "cpt50": m.cpt[0.5][1], "cpt80": m.cpt[0.8][1],
            "cost_share": [float(x) for x in c / cost_strong] if cost_strong else [], "quality": [float(x) for x in q]}


def evaluate_policy(reduction: Reduction, opts: FitOptions, E: np.ndarray | None = None) -> Evaluation:
    """Cross-validated curve of the learned policy against complexity, random and the oracle (E: the
    prompts' text embeddings, when the policy uses them)."""
    words = learned.word_rows(reduction) if reduction.texts is not None else None
    rows, groups, oof, settings = cross_validate(reduction, opts, words, E)
    sub = reduction.subset(np.isin(np.arange(reduction.n), rows))
    T = len(sub.tiers)
    envelope = T > 2  # two tiers: the sweep as it is (RouteLLM); more: the hull of the points
    cost = sub.cost.astype(np.float64)
    quality = np.nan_to_num(sub.quality, nan=0.0)
    thr = threshold_grid(oof)
    A_l = np.array([learned.assign_by_threshold(oof, t, T - 1) for t in thr])
    A_c = complexity_assignments(sub)
    ones = np.ones(sub.n)
    ml, cl, ql = _metrics(A_l, cost, quality, ones, envelope)
    mc, cc, qc = _metrics(A_c, cost, quality, ones, envelope)
    cost_strong = float(cost[:, -1].sum())
    # bootstrap over prompt groups: the same resamples for both policies (a paired difference)
    rng = np.random.default_rng(opts.seed)
    uniq, ginv = np.unique(groups, return_inverse=True)
    bl, bc, br = [], [], []
    shares = np.linspace(0, 1, 101)
    for _ in range(opts.resamples):
        draw = np.bincount(rng.integers(0, len(uniq), len(uniq)), minlength=len(uniq)).astype(np.float64)
        w = draw[ginv]
        # a random router with a fresh coin per resample (two tiers): its own noise is in the difference's interval
        A_r = (rng.random(sub.n)[None, :] < shares[:, None]).astype(np.int64) * (T - 1) if T == 2 else None
        try:
            one = (_metrics(A_l, cost, quality, w, envelope)[0].apgr, _metrics(A_c, cost, quality, w, envelope)[0].apgr,
                   _metrics(A_r, cost, quality, w, envelope)[0].apgr if A_r is not None else 0.5)
        except ConfigError:  # a resample where weak and strong tie: PGR undefined there
            continue
        bl.append(one[0])
        bc.append(one[1])
        br.append(one[2])
    bl, bc, br = np.array(bl), np.array(bc), np.array(br)
    ci = lambda x: [float(np.percentile(x, 2.5)), float(np.percentile(x, 97.5))] if len(x) else [float("nan")] * 2  # noqa: E731
    learned_s = {**_summary(ml, cl, ql, cost_strong), "apgr_interval": ci(bl)}
    complexity_s = {**_summary(mc, cc, qc, cost_strong), "apgr_interval": ci(bc)}
    diff = {"apgr": ml.apgr - mc.apgr, "interval": ci(bl - bc), "resamples": int(len(bl))}
    diff_random = {"apgr": ml.apgr - 0.5, "interval": ci(bl - br), "resamples": int(len(bl)),
                   "note": "learned minus a random router (a fresh coin per resample; its APGR is 0.5 in expectation)"}
    # random: the two-tier router's coin, 10 seeds (APGR 0.5 in expectation)
    if T == 2:
        rs = []
        for k in range(10):
            share, qual = random_router_curve(sub, opts.seed + k)
            rs.append(metrics(share * sub.n, qual, 0.0, float(sub.n), float(quality[:, 0].mean()),
                              float(quality[:, -1].mean()), envelope=False).apgr)
        random_s = {"apgr": float(np.mean(rs)), "apgr_range": [float(min(rs)), float(max(rs))]}
    else:
        random_s = {"apgr": 0.5, "apgr_range": [0.5, 0.5], "note": "proportional mixes: the line from weak to strong"}
    A_o, _ = oracle_assignment(sub)
    oc, oq = _points(A_o[None, :].astype(np.int64), cost, quality, ones)
    oracle_s = {"quality": float(oq[0]), "cost_share": float(oc[0] / cost_strong) if cost_strong else None,
                "tier_share": {t: float(x) for t, x in zip(sub.tiers, np.bincount(A_o, minlength=T) / sub.n)}}
    # calibration of the cheapest tier's model, out of fold: Brier score and predicted vs judged by decile
    y0 = label_matrix(sub, opts.label)[:, 0].astype(float)
    p0 = oof[:, 0]
    dec = np.minimum((np.argsort(np.argsort(p0)) * 10) // max(len(p0), 1), 9)
    cal = {"brier": float(np.mean((p0 - y0) ** 2)), "brier_constant": float(np.mean((y0.mean() - y0) ** 2)),
           "deciles": [{"predicted": float(p0[dec == d].mean()), "judged": float(y0[dec == d].mean()),
                        "n": int((dec == d).sum())} for d in range(10) if (dec == d).any()]}
    curve = [{"threshold": float(t), "cost_share": float(c / cost_strong) if cost_strong else 0.0, "quality": float(q)}
             for t, c, q in zip(thr, cl, ql)]
    return Evaluation(sub.n, len(uniq), min(opts.folds, len(uniq)), oof, thr, learned_s, complexity_s, random_s,
                      oracle_s, diff, cal, curve, diff_random, settings)


def feature_set(policy: dict[str, Any]) -> str:
    """Which features a policy uses, in words (the CLI's note; the file's fit.feature_set)."""
    f = policy["features"]
    parts = ["prompt tokens, documents, tools, web search, wording cues"]
    if any(k in PAYLOAD for k in f["numeric"]):
        parts.append("user turns, images, structured-output requests (from request bodies)")
    if f["feature_values"]:
        parts.append(f"{len(f['feature_values'])} feature/route names")
    if f.get("system_values"):
        parts.append(f"{len(f['system_values'])} system prompts")
    if f["vocab"]:
        parts.append(f"{len(f['vocab'])} words")
    e = f.get("embedding")
    if e:
        parts.append(f"text embedding ({e.get('model', 'all-MiniLM-L6-v2')}) on {e['components']} principal components")
    return "; ".join(parts)


def choose_threshold(ev: Evaluation, target_pgr: float) -> float:
    """The least-cost threshold whose cross-validated PGR reaches the target (the top tier for all when none does)."""
    q = np.array([p["quality"] for p in ev.curve])
    c = np.array([p["cost_share"] for p in ev.curve])
    qw, qs = q[0], q[-1]  # threshold 0: all cheapest; above 1: all top
    pgr = (q - qw) / (qs - qw) if qs != qw else np.zeros_like(q)
    ok = np.nonzero(pgr >= target_pgr - 1e-12)[0]
    if not len(ok):
        return float(ev.curve[-1]["threshold"])
    k = ok[np.argmin(c[ok])]
    return float(round(ev.curve[k]["threshold"], 6))


def fit(reduction: Reduction, opts: FitOptions, *, source: str, models: dict[str, str] | None = None,
        window: tuple[Any, Any] = (None, None)) -> tuple[dict[str, Any], Evaluation]:
    """Evaluate by grouped CV, then fit on every judged request and choose the threshold: the policy file's contents."""
    embedder = learned.embedder_for() if opts.embed else None
    E = learned.embeddings(reduction, embedder) if embedder is not None else None
    ev = evaluate_policy(reduction, opts, E)
    policy = fit_policy(reduction, opts, E=E)
    if embedder is not None:
        policy["features"]["embedding"] = {**embedder.describe(), **policy["features"]["embedding"]} \
            if "embedding" in policy["features"] else None
        if policy["features"]["embedding"] is None:
            del policy["features"]["embedding"]
    thr = opts.threshold if opts.threshold is not None else choose_threshold(ev, opts.target_pgr)
    policy["threshold"] = thr
    policy["models"] = dict(models or {})
    policy["target"] = ({"threshold": opts.threshold} if opts.threshold is not None else {"pgr": opts.target_pgr})
    policy["data"] = {"source": source, "requests": int(usable(reduction).sum()), "window": [str(x) if x is not None else None for x in window],
                      "tiers_judged": list(reduction.tiers)}
    setting = policy.pop("setting")
    policy["fit"] = {"model": "logistic regression (scikit-learn, L2, standardised features)", "C": opts.C,
                     "label": f"a tier suffices when its answer is {LABELS[opts.label]}", "label_kind": opts.label,
                     "feature_set": feature_set(policy), "vocab": opts.vocab, "components": opts.components,
                     "chosen": setting, "folds": ev.folds, "fold_choices": ev.settings, "grouped_by": "hash of the normalised prompt text" if reduction.texts is not None
                     else "request (no prompt text: near-duplicates are not grouped)"}
    policy["evaluation"] = {
        "n": ev.n, "groups": ev.groups, "folds": ev.folds, "resamples": opts.resamples,
        "learned": {k: v for k, v in ev.learned.items() if k not in ("cost_share", "quality")},
        "complexity": {k: v for k, v in ev.complexity.items() if k not in ("cost_share", "quality")},
        "random": ev.random, "oracle": ev.oracle, "learned_minus_complexity": ev.difference,
        "learned_minus_random": ev.difference_random,
        "calibration": ev.calibration, "curve": ev.curve,
    }
    policy = routecheck.with_reference(policy, reduction, E)  # the fit window's distributions, for `route check`
    policy["created_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    policy["digest"] = hashlib.sha256(repr((policy["scale"], policy["classifiers"], thr)).encode()).hexdigest()[:16]
    return policy, ev
