"""Scenarios on a Reduction: splits, policies, batch and cache what-ifs, bootstrap intervals.

Exactness. Point costs are exact: deterministic policies sum int64 nano-dollars; the proportional
policy's expected cost is sum_t w_t * S_t with the split's weights as Fractions and S_t the exact
int64 tier totals, so it is an exact rational number of nano-dollars, rounded half-up to the
nano-dollar once, at the end (`Result.cost_nusd`). A cache-hit rate R is also taken as a Fraction.
Bootstrap intervals are statistics and use float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from costlab.display import plural
from costlab.errors import ConfigError, did_you_mean
from costlab.money import nusd_to_usd, round_half_up
from costlab.whatif.arrays import OUT_SOURCES, Reduction
from costlab.whatif.learned import learned_assignment
from costlab.whatif.policies import (
    DEFAULT_WEIGHTS, PER_REQUEST_POLICIES, POLICIES, cascade_paid, complexity_scores, oracle_assignment, quantile_assignment,
)

__all__ = ["DEFAULT_WEIGHTS", "POLICIES", "Result", "Scenario", "Split", "bootstrap", "evaluate", "nusd_to_usd",
           "parse_split", "quality_parts"]


@dataclass(frozen=True)
class Split:
    """A split over tiers, or 'current' (every request where it ran)."""

    weights: tuple[tuple[str, Fraction], ...] = ()
    current: bool = False

    @property
    def label(self) -> str:
        if self.current:
            return "current"
        return ",".join(f"{t}={_pct(w)}" for t, w in self.weights)

    def vector(self, tiers: Sequence[str]) -> list[Fraction]:
        given = dict(self.weights)
        unknown = [t for t in given if t not in tiers]
        if unknown:
            raise ConfigError(f"split names tier {unknown[0]!r}, which is not configured.{did_you_mean(unknown[0], tiers)} "
                              f"Tiers: {', '.join(tiers)}.")
        return [given.get(t, Fraction(0)) for t in tiers]


def _pct(w: Fraction) -> str:
    v = w * 100
    return str(v.numerator) if v.denominator == 1 else f"{float(v):g}"


SPLIT_TOLERANCE = Fraction(1, 10_000)  # relative: 99.99..100.01 percent, 0.9999..1.0001 shares


def split_total_error(total: Fraction) -> str | None:
    """None when shares adding up to `total` are percent (100) or shares (1) within SPLIT_TOLERANCE;
    else what is wrong, naming the sum (a split is never rescaled silently)."""
    for target in (Fraction(100), Fraction(1)):
        if abs(total - target) <= target * SPLIT_TOLERANCE:
            return None
    return (f"the shares add up to {float(total):g}; a split must add up to 100 (percent) or 1 (shares), "
            "e.g. haiku=70,sonnet=25,opus=5")


def parse_split(text: str) -> Split:
    """'haiku=70,sonnet=25,opus=5' (percent, adding up to 100) or 'haiku=0.7,...' (shares, adding up
    to 1), or 'current'. Any other sum is refused with the sum named (never rescaled)."""
    text = text.strip()
    if text.lower() == "current":
        return Split(current=True)
    parts: list[tuple[str, Fraction]] = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"split {text!r}: expected TIER=SHARE items like haiku=70,sonnet=25,opus=5, or 'current'")
        try:
            w = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ConfigError(f"split {text!r}: {value.strip()!r} is not a number") from None
        if w < 0:
            raise ConfigError(f"split {text!r}: shares cannot be negative")
        parts.append((name.strip(), w))
    total = sum(w for _, w in parts)
    if not parts or total <= 0:
        raise ConfigError(f"split {text!r}: the shares must add up to 100 (percent) or 1 (shares)")
    if len({n for n, _ in parts}) != len(parts):
        raise ConfigError(f"split {text!r}: a tier appears twice")
    wrong = split_total_error(total)
    if wrong:
        raise ConfigError(f"split {text!r}: {wrong}")
    # within the tolerance: exact shares of the sum given (99.99 and 100 alike)
    return Split(tuple((n, w / total) for n, w in parts))


@dataclass(frozen=True)
class Scenario:
    split: Split
    policy: str = "proportional"
    batch_features: tuple[str, ...] = ()
    cache_hit_rate: Fraction | None = None
    warmup: bool = True  # model cache warm-up on tiers a request did not run on
    weights: tuple[tuple[str, float], ...] = tuple(DEFAULT_WEIGHTS.items())
    interactive: tuple[str, ...] = ()  # features a user waits on: never moved to the Batches API
    # policy "learned": the fitted policy file's contents (costlab.whatif.learned.load_policy)
    learned: Any = field(default=None, compare=False, hash=False)

    @property
    def label(self) -> str:
        if self.split.current:
            parts = ["current"]
        elif self.policy in PER_REQUEST_POLICIES:  # they take no split
            parts = [self.policy]
        else:
            parts = [f"{self.policy} {self.split.label}"]
        if self.batch_features:
            parts.append("batch:" + "+".join(self.batch_features))
        if self.cache_hit_rate is not None:
            parts.append(f"cache-hit {float(self.cache_hit_rate):.0%}")
        return " ".join(parts)


@dataclass
class Result:
    """One scenario's answer. Costs in nano-dollars (exact rational point, rounded once)."""

    label: str
    cost: Fraction
    cost_no_warmup: Fraction
    quality: float | None  # mean quality over the requests whose quality is known on every tier used
    quality_n: int
    tier_share: dict[str, float]  # expected share of requests answered on each tier
    # output-token rules (OUT_SOURCES) -> {"requests": share, "tokens": share} of the simulated
    # (request, tier) answers: their expected number, and their logged output tokens
    coverage: dict[str, dict[str, float]]
    notes: list[str] = field(default_factory=list)
    # per-day components, for the bootstrap: cost [D], quality sum [D], quality count [D]
    day_cost: np.ndarray | None = None
    day_qsum: np.ndarray | None = None
    day_qn: np.ndarray | None = None
    interval: dict[str, tuple[float, float]] = field(default_factory=dict)
    q_weights: np.ndarray | None = None
    # the same scenario with every request's output tokens as logged (the same-token figure), and its days
    cost_same: Fraction | None = None
    day_cost_same: np.ndarray | None = None
    output_mode: str = "replay"  # --output-tokens the cost figure rests on
    # the request set the cost covers (like with like): its requests and logged cost, and the window's
    n: int = 0
    actual: int = 0
    n_window: int = 0
    actual_window: int = 0

    @property
    def out_sources(self) -> dict[str, float]:
        """Share of the simulated answers (requests) by output-token rule."""
        return {k: v["requests"] for k, v in self.coverage.items()}

    @property
    def cost_nusd(self) -> int:
        return round_half_up(self.cost)


# -- evaluation -------------------------------------------------------------------------------------

def evaluate(reduction: Reduction, scenario: Scenario) -> Result:
    """One scenario on the arrays: exact point cost, quality where known, per-day parts for the bootstrap."""
    T = len(reduction.tiers)
    D = len(reduction.days)
    if scenario.policy not in POLICIES:
        raise ConfigError(f"unknown policy {scenario.policy!r}.{did_you_mean(scenario.policy, POLICIES)} "
                          f"Choose one of: {', '.join(POLICIES)}.")
    notes: list[str] = []
    # sampled logs: counts, output tokens and quality sums weighted by the requests each row stands
    # for (the money arrays are weighted already, arrays.weigh); all 1 on a complete log
    wt = reduction.weight
    feats = set(reduction.features)
    bad = [f for f in scenario.batch_features if f not in feats]
    if bad:
        raise ConfigError(f"--batch: no feature {bad[0]!r} in this window.{did_you_mean(bad[0], feats)}")
    live = [f for f in scenario.batch_features if f in scenario.interactive]
    if live:
        raise ConfigError(f"--batch: {', '.join(live)} is interactive ([whatif] interactive in costlab.toml); "
                          "the Batches API can take up to 24 hours, so it cannot serve it")
    if scenario.batch_features:
        batched = [reduction.features.index(f) for f in scenario.batch_features]
        to_batch = np.isin(reduction.feature, batched) & ~reduction.batch_now
        base = np.where(to_batch[:, None], reduction.batch, reduction.cost)
    else:
        base = reduction.cost
    R = scenario.cache_hit_rate
    rf = float(R) if R is not None else 0.0
    parts = [(base, Fraction(1))]  # (matrix, exact weight) summed into the cost
    if scenario.warmup:
        parts.append((reduction.warmup, Fraction(1)))
    if R is not None:
        parts += [(reduction.cache_read_delta, R), (reduction.cache_write_delta, 1 - R)]

    def bc(weights: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
        day = reduction.day if where is None else reduction.day[where]
        return np.bincount(day, weights=weights, minlength=D) if len(day) else np.zeros(D)

    adj = _adjustment(reduction, to_batch if scenario.batch_features else None)
    if scenario.split.current:
        if scenario.policy != "proportional":
            raise ConfigError("--split current keeps every request where it ran; it takes no --policy")
        A = reduction.own.astype(np.int64)
        off = A < 0
        if off.any():
            notes.append(f"{plural(int(off.sum()), 'request')} ran on models that stand for no tier; they keep their logged cost")
        kind, paid = "assign", None
        shown = np.where(off, reduction.current, A)
        share_raw = np.bincount(shown[shown >= 0], weights=wt[shown >= 0], minlength=T)
    elif scenario.policy == "proportional":
        kind = "weights"
        w = scenario.split.vector(reduction.tiers)
        wf = np.array([float(x) for x in w])
        off = np.zeros(reduction.n, dtype=bool)
    else:
        off = np.zeros(reduction.n, dtype=bool)
        if scenario.policy == "complexity":
            scores = complexity_scores(reduction, dict(scenario.weights))
            A = quantile_assignment(scores, scenario.split.vector(reduction.tiers))
            kind, paid, sample = "assign", None, None
        elif scenario.policy == "oracle":
            A, sample = oracle_assignment(reduction)
            kind, paid = "assign", None
        elif scenario.policy == "learned":
            if scenario.learned is None:
                raise ConfigError("the learned policy needs a fitted policy file: --policy learned:FILE (`costlab route fit`)")
            A = learned_assignment(reduction, scenario.learned)
            kind, paid, sample = "assign", None, None
        else:
            paid, A, sample = cascade_paid(reduction)
            kind = "paid"
        if sample is not None:
            if not sample.any():
                raise ConfigError(f"the {scenario.policy} policy needs judged outcomes (replay verdicts) on every tier; "
                                  "this window has none. Run `costlab replay`, or use proportional or complexity.")
            if not sample.all():
                notes.append(f"{scenario.policy}: simulated on the {int(sample.sum()):,} requests judged on every tier "
                             f"(of {reduction.n:,}); cost and quality cover those requests only, and are compared "
                             "with the logged cost of the same requests")
                sub = evaluate(reduction.subset(sample), scenario)
                sub.notes = notes + sub.notes
                sub.n_window, sub.actual_window = _requests(reduction), int(reduction.actual.sum())
                return sub
        A = A.astype(np.int64)
        share_raw = np.bincount(A, weights=wt, minlength=T)

    idx = np.arange(reduction.n)
    K = len(OUT_SOURCES)
    out_src = np.zeros(K)  # expected answers per output-token rule
    out_tok = np.zeros(K)  # their logged output tokens
    toks = reduction.output_tokens if reduction.output_tokens is not None else np.zeros(reduction.n)
    toks = toks * wt if reduction.weighted else toks  # the output tokens of the requests it stands for
    adj_cost = Fraction(0)  # the part of the cost output tokens moved off the logged count
    adj_day = np.zeros(D)
    if kind == "weights":
        cost = Fraction(0)
        day_cost = np.zeros(D)
        names = ["batch_base" if scenario.batch_features else "cost"]
        if scenario.warmup:
            names.append("warmup")
        if R is not None:
            names += ["cache_read_delta", "cache_write_delta"]
        if scenario.batch_features:
            reduction.memo.pop("batch_base", None)
            reduction.batch_base = base  # a per-scenario column; its totals are not kept past this call
        for (m, k), name in zip(parts, names):
            tot, per_day = reduction.day_totals(name)
            cost += sum((wi * int(tot[t]) for t, wi in enumerate(w)), Fraction(0)) * k
            day_cost += float(k) * (per_day @ wf)
        if scenario.batch_features:
            reduction.memo.pop("batch_base", None)
            del reduction.batch_base
        if adj is not None:
            adj_name = "out_adjust"
            if scenario.batch_features:
                adj_name = "batch_adjust"
                reduction.memo.pop(adj_name, None)
                reduction.batch_adjust = adj
            tot, per_day = reduction.day_totals(adj_name)
            adj_cost = sum((wi * int(tot[t]) for t, wi in enumerate(w)), Fraction(0))
            adj_day = per_day @ wf
            if scenario.batch_features:
                reduction.memo.pop(adj_name, None)
                del reduction.batch_adjust
        for t in range(T):
            if wf[t]:
                out_src += wf[t] * np.bincount(reduction.out_src[:, t], weights=wt, minlength=K)
                out_tok += wf[t] * np.bincount(reduction.out_src[:, t], weights=toks, minlength=K)
        tier_share = {t: float(x) for t, x in zip(reduction.tiers, w)}
        # quality = sum_t w_t * mean quality on t, over the requests known on every used tier when
        # there are any, else over the requests known on each tier (e.g. feedback on its own tier)
        used = [i for i, x in enumerate(w) if x > 0]
        fin = np.isfinite(reduction.quality)
        all_known = fin[:, used].all(axis=1)
        qsum = np.zeros((D, T))
        qn = np.zeros((D, T))
        for t in used:
            mk = fin[:, t] & all_known if all_known.any() else fin[:, t]
            qsum[:, t] = bc(reduction.quality[mk, t] * wt[mk], mk)
            qn[:, t] = bc(wt[mk], mk)
        qw = wf
        n_known = int((all_known if all_known.any() else fin[:, used].any(axis=1)).sum())
    else:
        on = ~off
        Ac = np.maximum(A, 0)
        cost = Fraction(0)
        picked_total = np.zeros(reduction.n)
        for m, k in parts:
            if kind == "paid":
                v = (m * paid).sum(axis=1)
            else:
                v = np.where(on, m[idx, Ac], 0)
            cost += k * int(v.sum())
            picked_total += float(k) * v
        if off.any():  # --split current: requests on no tier model keep their logged cost
            cost += int(reduction.actual[off].sum())
            picked_total = picked_total + np.where(off, reduction.actual, 0)
        day_cost = bc(picked_total)
        if adj is not None:
            va = (adj * paid).sum(axis=1) if kind == "paid" else np.where(on, adj[idx, Ac], 0)
            adj_cost = Fraction(int(va.sum()))
            adj_day = bc(va)
        if kind == "paid":
            for t in range(T):
                out_src += np.bincount(reduction.out_src[:, t], weights=paid[:, t] * wt, minlength=K)
                out_tok += np.bincount(reduction.out_src[:, t], weights=toks * paid[:, t], minlength=K)
        else:
            out_src += np.bincount(reduction.out_src[idx, Ac][on], weights=wt[on], minlength=K)
            out_tok += np.bincount(reduction.out_src[idx, Ac][on], weights=toks[on], minlength=K)
            if off.any():  # they keep their logged cost: their output as logged
                out_src[0] += float(wt[off].sum())
                out_tok[0] += float(toks[off].sum())
        tier_share = {t: float(share_raw[i]) / (reduction.requests or 1) for i, t in enumerate(reduction.tiers)}
        qv = np.where(on, reduction.quality[idx, Ac], np.nan)
        mk = np.isfinite(qv)
        qsum = bc(qv[mk] * wt[mk], mk)[:, None]
        qn = bc(wt[mk], mk)[:, None]
        qw = np.ones(1)
        n_known = int(mk.sum())

    quality, day_qsum, day_qn = quality_parts(qsum, qn, qw, n_known, reduction.n, notes)
    coverage = coverage_shares(out_src, out_tok)
    if reduction.unpriced:
        notes.append(f"{plural(reduction.unpriced, 'request')} {'has' if reduction.unpriced == 1 else 'have'} no price in force: not simulated, cost unknown (not $0)")
    for t, k in reduction.unpriced_on_tier.items():
        notes.append(f"{plural(k, 'request')} cannot be priced on {t}: left out of every scenario")
    cost_nw = cost
    if scenario.warmup:
        cost_nw = cost - _warm_total(reduction, kind, locals())
    actual = int(reduction.actual.sum())
    return Result(scenario.label, cost, cost_nw, quality, n_known, tier_share, coverage, notes,
                  day_cost, day_qsum, day_qn, q_weights=qw, cost_same=cost - adj_cost, day_cost_same=day_cost - adj_day,
                  output_mode=reduction.options.output_tokens, n=_requests(reduction), actual=actual, n_window=_requests(reduction),
                  actual_window=actual)


def _requests(reduction: Reduction) -> int:
    """The requests a window stands for: its rows on a complete log, the sum of their weights (to
    the nearest request) on a sampled one."""
    return round(reduction.requests) if reduction.weighted else reduction.n


def coverage_shares(answers: np.ndarray, tokens: np.ndarray) -> dict[str, dict[str, float]]:
    """Per output-token rule (OUT_SOURCES), its share of the simulated answers and of their logged output tokens."""
    na, nt = float(answers.sum()), float(tokens.sum())
    return {name: {"requests": float(answers[k]) / na if na > 0 else 0.0,
                   "tokens": float(tokens[k]) / nt if nt > 0 else 0.0} for k, name in enumerate(OUT_SOURCES)}


def _adjustment(reduction: Reduction, to_batch: np.ndarray | None) -> np.ndarray | None:
    """[n, T] the cost output tokens moved off the logged count (None: nothing moved), with the
    requests moved to the Batches API taking the batch price's part."""
    if to_batch is None:
        return reduction.out_adjust
    if reduction.out_adjust is None and reduction.batch_out_adjust is None:
        return None
    oa = reduction.out_adjust if reduction.out_adjust is not None else np.zeros_like(reduction.cost)
    ba = reduction.batch_out_adjust if reduction.batch_out_adjust is not None else np.zeros_like(reduction.cost)
    return np.where(to_batch[:, None], ba, oa)


def _warm_total(reduction: Reduction, kind: str, env: dict) -> Fraction:
    """The exact warm-up part of a scenario's cost (for the 'how much it changes the answer' column)."""
    if kind == "weights":
        tot = reduction.warmup.sum(axis=0)
        return sum((wi * int(tot[t]) for t, wi in enumerate(env["w"])), Fraction(0))
    if kind == "paid":
        return Fraction(int((reduction.warmup * env["paid"]).sum()))
    return Fraction(int(np.where(env["on"], reduction.warmup[env["idx"], env["Ac"]], 0).sum()))


def quality_parts(qsum: np.ndarray, qn: np.ndarray, w: np.ndarray, n_known: int, n: int,
             notes: list[str]) -> tuple[float | None, np.ndarray | None, np.ndarray | None]:
    """The scenario's quality and its per-day parts (None when unknown), saying in `notes` what it rests on."""
    quality = _combine(qsum.sum(axis=0), qn.sum(axis=0), w)
    if quality is None:
        notes.append("no replay judgements or feedback for these tiers: only cost is simulated")
        return None, None, None
    if n_known < n:
        notes.append(f"quality from {n_known:,} of {n:,} requests (those judged or with feedback on the tiers used)")
    return quality, qsum, qn


def _combine(qsum: np.ndarray, qn: np.ndarray, w: np.ndarray) -> float | None:
    """sum_k w_k * qsum_k / qn_k over the parts with a positive weight; None when one has no data."""
    use = w > 0
    if not use.any() or (qn[use] <= 0).any():
        return None
    return float((w[use] * qsum[use] / qn[use]).sum() / w[use].sum())


def day_resamples(days: int, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The day indices `bootstrap` draws: [resamples, days], each row `days` days with replacement.
    The HTML report ships them (as counts per day) so its what-if control resamples the same days."""
    return np.random.default_rng(seed).integers(0, days, size=(resamples, days))


def bootstrap(result: Result, resamples: int = 1000, seed: int = 0, level: float = 0.95) -> Result:
    """Percentile intervals by resampling whole days with replacement (day blocks keep each day's
    requests together, so within-day correlation is not mistaken for precision)."""
    D = len(result.day_cost) if result.day_cost is not None else 0
    if D == 0:
        return result
    idx = day_resamples(D, resamples, seed)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    costs = result.day_cost[idx].sum(axis=1)
    result.interval["cost_nusd"] = tuple(np.percentile(costs, [lo, hi]))
    if result.day_cost_same is not None:
        result.interval["cost_same_nusd"] = tuple(np.percentile(result.day_cost_same[idx].sum(axis=1), [lo, hi]))
    if result.day_qsum is not None:
        qs, qn = result.day_qsum[idx].sum(axis=1), result.day_qn[idx].sum(axis=1)  # [B, K]
        w = result.q_weights
        use = w > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            q = (w[use] * qs[:, use] / qn[:, use]).sum(axis=1) / w[use].sum()
        result.interval["quality"] = tuple(np.nanpercentile(q, [lo, hi]))
    return result
