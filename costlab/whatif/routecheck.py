"""Drift of a fitted routing policy (`costlab route check`): is the traffic it routes now still the
traffic it was fitted on, and do its probabilities still match what the judges say?

    policy = with_reference(policy, reduction)      # at fit time: the fit window's distributions
    report = check(policy, reduction_now)           # later: drift per input, tier shares, pass rates
    report.frame, report.verdict                    # one row per check; "ok", "watch" or "refit"

The policy file carries its reference distributions (format costlab.route/2, `reference`): per
numeric input of the policy, bin edges and the share of the fit window's requests in each bin
(deciles for a continuous input such as log prompt tokens, 0/1 for a flag), the shares of the
feature names the policy one-hot encodes (the rest as "(other)"), and the share of requests the
policy routed to each tier. Drift is the population stability index (PSI) of each distribution now
against it: sum over bins of (now - ref) * ln(now / ref), shares floored at 1e-4. Rule of thumb
(credit scoring, where PSI comes from): below 0.1 stable, 0.1 to 0.25 watch, above 0.25 the
population has moved enough that a model fitted on the old one should be refitted.

Pass rates: per tier below the top, the mean predicted P(good enough) against the judged pass rate
of the window's judged requests on that tier (Wilson 95% interval, n), over every judged request and
over those the policy routes there. A gap of at least 0.05 with the prediction outside the interval
says the probabilities are off (the tier's model changed, or the judges did): refit.

Set-based: numpy over the window's columns (costlab.whatif.learned.design), one pass per input.
queries/signals/route_drift.sql computes the same PSI for the inputs the logs carry in SQL, from
the same reference, for `costlab signals`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from costlab.routing import FORMAT
from costlab.whatif.arrays import Reduction
from costlab.whatif.learned import assign_by_threshold, policy_design, probabilities

PSI_WATCH = 0.1
PSI_REFIT = 0.25
PASS_GAP = 0.05  # predicted minus judged pass rate, at least, and outside the judged rate's interval
MIN_JUDGED = 30  # judged requests on a tier before its pass rate is compared (one answer moves it 3 points)
MIN_REQUESTS = 200  # requests in the window before a distribution is compared
BINS = 10
FLOOR = 1e-4
OTHER = "(other)"
STATUSES = ("ok", "watch", "refit", "too few")

# value: the PSI (input, tier share) or predicted minus judged pass rate; refit_at: its threshold
COLUMNS = ("check", "input", "status", "value", "refit_at", "n", "predicted", "judged", "judged_low", "judged_high",
           "detail")


def psi(now: np.ndarray, ref: np.ndarray) -> float:
    """Population stability index of two share vectors (each summing to 1), shares floored at 1e-4."""
    a, e = np.maximum(np.asarray(now, float), FLOOR), np.maximum(np.asarray(ref, float), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _edges(values: np.ndarray) -> list[float]:
    """Decile edges that fall between distinct values (so no value sits on an edge and SQL and numpy
    bin alike); a 0/1 input gets the one edge 0.5."""
    distinct = np.unique(values)
    if len(distinct) <= 2 and set(distinct.tolist()) <= {0.0, 1.0}:
        return [0.5]
    qs = np.unique(np.quantile(values, np.arange(1, BINS) / BINS, method="lower"))
    edges = []
    for q in qs:
        k = np.searchsorted(distinct, q, side="right")
        if k < len(distinct):
            edges.append(float((distinct[k - 1] + distinct[k]) / 2))
    return sorted(set(edges))


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [float(c / total) if total else 0.0 for c in counts]


def _numeric(policy: dict[str, Any]) -> list[str]:
    return list(policy["features"]["numeric"])


def _matrix(reduction: Reduction, policy: dict[str, Any], E: np.ndarray | None = None) -> np.ndarray:
    """The policy's design [n, features] (its numeric inputs first, then words and, for a policy with
    text embeddings, its projected embedding: `E` when the caller has the window's embeddings already),
    built once per window."""
    return policy_design(reduction, policy, E)


def _feature_counts(reduction: Reduction, values: list[str]) -> np.ndarray:
    """Requests per feature name in `values`, then the rest: one bincount over the feature codes."""
    per_code = np.bincount(reduction.feature, minlength=len(reduction.features)) if reduction.n else np.zeros(len(reduction.features))
    by_name = dict(zip(reduction.features, per_code.tolist()))
    known = [by_name.get(v, 0) for v in values]
    return np.array(known + [reduction.n - sum(known)], dtype=np.float64)


def _chosen(policy: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """The tier index the policy routes each request to (Router.tier, set-based)."""
    return assign_by_threshold(probabilities(policy, X), float(policy["threshold"]), len(policy["tiers"]) - 1)


def _tier_counts(policy: dict[str, Any], X: np.ndarray) -> np.ndarray:
    return np.bincount(_chosen(policy, X), minlength=len(policy["tiers"])).astype(np.float64)


def reference(policy: dict[str, Any], reduction: Reduction, E: np.ndarray | None = None) -> dict[str, Any]:
    """The fit window's distributions of the policy's inputs and of its tier choices (`reference`)."""
    X = _matrix(reduction, policy, E)
    inputs = []
    for j, name in enumerate(_numeric(policy)):
        edges = _edges(X[:, j]) if reduction.n else [0.5]
        counts = np.bincount(np.searchsorted(edges, X[:, j], side="right"), minlength=len(edges) + 1)
        inputs.append({"input": name, "edges": edges, "shares": _shares(counts.astype(np.float64))})
    values = list(policy["features"]["feature_values"])
    feature = {"values": values + [OTHER], "shares": _shares(_feature_counts(reduction, values))}
    return {"requests": int(reduction.n), "bins": "deciles between distinct values; 0/1 inputs split at 0.5",
            "inputs": inputs, "feature": feature,
            "tiers": {"names": list(policy["tiers"]), "shares": _shares(_tier_counts(policy, X))}}


def with_reference(policy: dict[str, Any], reduction: Reduction, E: np.ndarray | None = None) -> dict[str, Any]:
    """The policy with its fit window's reference distributions (format costlab.route/2)."""
    return {**policy, "format": FORMAT, "reference": reference(policy, reduction, E)}


def wilson(k: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score 95% interval of k successes in n."""
    if n <= 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


@dataclass(frozen=True)
class CheckResult:
    frame: pl.DataFrame  # one row per check (COLUMNS)
    verdict: str  # "refit", "watch" or "ok"
    reasons: list[str]  # why, one sentence each
    notes: list[str]  # what could not be judged


def _status_psi(value: float, n: int, watch: float, refit: float, min_requests: int) -> str:
    if n < min_requests:
        return "too few"
    return "refit" if value >= refit else "watch" if value >= watch else "ok"


def _row(**kw: Any) -> dict[str, Any]:
    return {c: kw.get(c) for c in COLUMNS}


def _describe(labels: list[str], ref: list[float], now: list[float]) -> str:
    moved = sorted(zip(labels, ref, now), key=lambda r: -abs(r[2] - r[1]))[:3]
    return "; ".join(f"{lab} {r:.1%} -> {n:.1%}" for lab, r, n in moved)


def _bin_labels(edges: list[float], name: str) -> list[str]:
    if edges == [0.5]:
        return [f"{name}=0", f"{name}=1"]
    if name == "log_prompt_tokens":  # edges in tokens, for people
        cut = [f"{np.expm1(e):,.0f}" for e in edges]
        return [f"<{cut[0]}"] + [f"{a}-{b}" for a, b in zip(cut, cut[1:])] + [f">{cut[-1]}"]
    return [f"<{edges[0]:g}"] + [f"{a:g}-{b:g}" for a, b in zip(edges, edges[1:])] + [f">{edges[-1]:g}"]


def check(policy: dict[str, Any], reduction: Reduction, *, psi_watch: float = PSI_WATCH, psi_refit: float = PSI_REFIT,
          pass_gap: float = PASS_GAP, min_judged: int = MIN_JUDGED, min_requests: int = MIN_REQUESTS,
          models: dict[str, str] | None = None) -> CheckResult:
    """Drift of each input and of the tier shares against the file's reference, and predicted against
    judged pass rates in this window; `models` ([tiers]) are compared with the file's tier -> model map.

    A policy file without a reference (costlab.route/1) gets the pass-rate and model checks only, and
    a note saying to refit for the rest."""
    rows, reasons, notes = [], [], []
    ref = policy.get("reference")
    n = int(reduction.n)
    if ref is None:
        notes.append("the policy file carries no reference distributions (format costlab.route/1, fitted before drift "
                     "checks): refit with `costlab route fit` to check its inputs and tier shares")
    else:
        X = _matrix(reduction, policy)
        by_name = {name: j for j, name in enumerate(_numeric(policy))}
        for item in ref["inputs"]:
            name = item["input"]
            if name not in by_name:
                notes.append(f"input {item['input']!r} of the reference is not among the policy's inputs: not checked")
                continue
            edges = list(item["edges"])
            counts = np.bincount(np.searchsorted(edges, X[:, by_name[name]], side="right"), minlength=len(edges) + 1)
            now = _shares(counts.astype(np.float64))
            value = psi(np.array(now), np.array(item["shares"]))
            rows.append(_row(check="input", input=name, value=value, n=n,
                             status=_status_psi(value, n, psi_watch, psi_refit, min_requests),
                             detail=_describe(_bin_labels(edges, name), item["shares"], now)))
        fv = ref["feature"]
        if len(fv["values"]) > 1:
            now = _shares(_feature_counts(reduction, fv["values"][:-1]))
            value = psi(np.array(now), np.array(fv["shares"]))
            rows.append(_row(check="input", input="feature", value=value, n=n,
                             status=_status_psi(value, n, psi_watch, psi_refit, min_requests),
                             detail=_describe(fv["values"], fv["shares"], now)))
        if list(ref["tiers"]["names"]) == list(reduction.tiers):
            now = _shares(_tier_counts(policy, X))
            value = psi(np.array(now), np.array(ref["tiers"]["shares"]))
            rows.append(_row(check="tier share", input="tiers", value=value, n=n,
                             status=_status_psi(value, n, psi_watch, psi_refit, min_requests),
                             detail=_describe(ref["tiers"]["names"], ref["tiers"]["shares"], now)))
        else:
            notes.append(f"this window's tiers ({', '.join(reduction.tiers)}) are not the policy's "
                         f"({', '.join(ref['tiers']['names'])}): tier shares not compared")
        data = policy.get("data") or {}
        window = data.get("window") or [None, None]
        span = f", {window[0]} to {window[1]}" if window[0] or window[1] else ""
        notes.append(f"reference: {ref['requests']:,} requests the policy was fitted on ({data.get('source', '?')}{span}); "
                     f"PSI: watch from {psi_watch:g}, refit from {psi_refit:g}")
    for row in rows:
        if row["status"] != "too few":
            row["refit_at"] = psi_refit
        if row["status"] == "refit":
            reasons.append(f"{row['input']} moved (PSI {row['value']:.3f} >= {psi_refit:g}: {row['detail']})")
    if rows and rows[0]["status"] == "too few":
        notes.append(f"{n:,} requests in the window: distributions are compared from {min_requests:,}")
    rows += _pass_rates(policy, reduction, pass_gap, min_judged, reasons, notes)
    if models:
        mine = policy.get("models") or {}
        for t in policy["tiers"]:
            if t in mine and t in models and mine[t] != models[t]:
                rows.append(_row(check="model", input=t, status="refit",
                                 detail=f"fitted for {mine[t]}, [tiers] now maps {models[t]}"))
                reasons.append(f"tier {t} now runs {models[t]}, the policy was fitted on judgements of {mine[t]}")
    statuses = {r["status"] for r in rows}
    verdict = "refit" if "refit" in statuses else "watch" if "watch" in statuses else "ok"
    frame = pl.DataFrame(rows, schema={c: (pl.Float64 if c in ("value", "refit_at", "predicted", "judged", "judged_low",
                                                                "judged_high")
                                           else pl.Int64 if c == "n" else pl.String) for c in COLUMNS})
    return CheckResult(frame, verdict, reasons, notes)


def _pass_rates(policy: dict[str, Any], reduction: Reduction, gap: float, min_judged: int,
                reasons: list[str], notes: list[str]) -> list[dict[str, Any]]:
    """Per tier below the top: mean predicted P(good enough) against the judged pass rate."""
    tiers = list(policy["tiers"])
    if tuple(tiers) != tuple(reduction.tiers) or reduction.n == 0:
        return []
    X = _matrix(reduction, policy)
    P = probabilities(policy, X)
    chosen = assign_by_threshold(P, float(policy["threshold"]), len(tiers) - 1)
    rows = []
    for k, c in enumerate(policy["classifiers"]):
        t = tiers.index(c["tier"])
        judged = np.isfinite(reduction.good[:, t])
        for scope, mask in (("all judged", judged), ("routed here", judged & (chosen == t))):
            m = int(mask.sum())
            if m == 0:
                continue
            good = float(reduction.good[mask, t].sum())
            pred, rate = float(P[mask, k].mean()), good / m
            lo, hi = wilson(good, m)
            if m < min_judged:
                status = "too few"
            elif abs(pred - rate) >= gap and not lo <= pred <= hi:
                status = "refit"
                reasons.append(f"on {c['tier']} ({scope}) the policy predicts {pred:.1%} good, the judges passed "
                               f"{rate:.1%} of {m:,} [{lo:.1%}, {hi:.1%}]")
            else:
                status = "ok"
            rows.append(_row(check="pass rate", input=f"{c['tier']} ({scope})", status=status, value=pred - rate,
                             refit_at=gap, n=m, predicted=pred, judged=rate, judged_low=lo,
                             judged_high=hi, detail=f"{int(good):,} of {m:,} judged good"))
    if not rows:
        notes.append("no judged requests on the tiers below the top in this window: predicted pass rates not compared "
                     "(replay a sample with a judge: `costlab replay`)")
    return rows
