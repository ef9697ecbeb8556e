"""`compare`: two cohorts of logged traffic side by side, each metric with its test, corrected for
multiple comparisons, a one-line verdict and the guardrails it breaks.

    result = compare(store, cohorts.switch_day(store, "2026-11-09"), settings.parse(config.compare))
    result.table      # metric, a, b, change, interval, p, adjusted p, significant (costlab.frames)
    result.verdict    # "cost -38% [-41, -35]; error rate unchanged; p95 latency -1.2 s; quality n/a"
    result.breaches   # the [compare.guardrails] a significant change crossed
    findings(result)  # those breaches in the signals' findings shape (detector "compare", high)

What each metric rests on:

    cost_per_request_usd        priced requests' weighted mean cost: exact (SQL's DECIMAL totals);
                                interval and p from the bootstrap of the ratio b / a
    cost_per_satisfactory_usd   cost per request / satisfactory share (where verdicts exist)
    error_rate, error_rate:T    share of requests that errored (and by error type): two-proportion z,
                                each side's variance at least the one clustered by hour (bursts)
    stop_max_tokens_share, stop_refusal_share
                                share of answered requests stopping so: two-proportion z
    latency_p50_ms ... ttft_p95_ms
                                weighted percentiles of answered requests: bootstrap of the ratio
    feedback_score_mean         mean logged feedback_score: bootstrap of the difference
    satisfactory_share          share judged good (replay judgements on the request's own tier, else
                                feedback_score >= satisfactory_score), of requests with a verdict: z
    resent_share                share of first attempts re-sent (a retry or an escalation names them
                                as parent): two-proportion z
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import polars as pl

from costlab import signals
from costlab.compare import cohorts as C
from costlab.compare import stats as S
from costlab.compare.settings import GUARDRAILS, CompareSettings, parse
from costlab.money import NANOS_PER_USD, nusd_to_decimal
from costlab.store import Store

MIN_ROWS = 20  # rows each side before a percentile or a quality figure is tested
DETECTOR = "compare"
# A finding's drill-down (`costlab sql -F ...`): the model mix per day, runnable by hand (requests.sql
# is a template that costlab compare renders, so it is not).
QUERY = "queries/compare/model_share.sql"
COLUMNS = {
    "metric": pl.String, "unit": pl.String, "a": pl.Decimal(38, 9), "b": pl.Decimal(38, 9),
    "change": pl.Float64, "change_unit": pl.String, "low": pl.Float64, "high": pl.Float64,
    "p_value": pl.Float64, "p_adjusted": pl.Float64, "significant": pl.Boolean,
    "n_a": pl.Int64, "n_b": pl.Int64, "test": pl.String,
}


@dataclass
class Comparison:
    cohorts: C.Cohorts
    settings: CompareSettings
    table: pl.DataFrame
    verdict: str
    breaches: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0))  # weighted requests in a, b

    def row(self, metric: str) -> dict[str, Any] | None:
        found = self.table.filter(pl.col("metric") == metric)
        return found.row(0, named=True) if found.height else None


def _dec(x: float | Fraction | None) -> Decimal | None:
    if x is None:
        return None
    if isinstance(x, Fraction):
        return nusd_to_decimal(x * NANOS_PER_USD)
    if not math.isfinite(x):
        return None
    return Decimal(repr(round(x, 9))).quantize(Decimal("0.000000001"))


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


class _Arrays:
    """One cohort's per-request columns as numpy arrays."""

    def __init__(self, rows: pl.DataFrame):
        def col(name, dtype=np.float64, fill=np.nan):
            return rows[name].fill_null(fill).to_numpy().astype(dtype)

        self.n = rows.height
        self.w = col("weight", fill=0.0)
        self.priced = col("priced", bool, False)
        self.cost = col("cost", fill=0.0)
        self.error = col("error", bool, False)
        self.error_type = rows["error_type"].fill_null("").to_numpy().astype(str)
        self.types = rows["error_type"].drop_nulls()
        self.answered = col("answered", bool, False)
        stop = rows["stop_reason"].fill_null("")
        self.max_tokens = (stop == "max_tokens").to_numpy()
        self.refusal = (stop == "refusal").to_numpy()
        self.latency = col("latency_ms")
        self.ttft = col("ttft_ms")
        self.feedback = col("feedback_score")
        self.verdict = rows["good"].is_not_null().to_numpy()
        self.good = col("good", np.float64, 0.0)
        self.first = col("first_attempt", bool, False)
        self.resent = col("resent", bool, False)
        self.hour = rows["hour"].fill_null(0).to_numpy().astype(np.int64)


def compare(store: Store, cohorts: C.Cohorts, settings: CompareSettings | None = None,
            resamples: int | None = None, seed: int | None = None) -> Comparison:
    """Every metric of cohort b against cohort a; see the module's docstring for what each rests on."""
    settings = settings or parse(getattr(store.config, "compare", {}) or {})
    resamples = resamples or settings.resamples
    seed = settings.seed if seed is None else seed
    totals, rows = C.load(store, cohorts, settings.satisfactory_score)
    tot = {r["cohort"]: r for r in totals.iter_rows(named=True)}
    A, B = (_Arrays(rows.filter(pl.col("cohort") == k)) for k in ("a", "b"))
    notes: list[str] = []
    for k, arr in (("a", A), ("b", B)):
        if tot[k]["unpriced_rows"]:
            notes.append(f"cohort {k}: {tot[k]['unpriced_rows']:,} requests have no price in force: cost per request "
                         "is over the priced ones only (`costlab sql -F queries/unpriced_requests.sql`)")

    # -- the bootstrap: one set of resamples per cohort, every statistic read from it ----------------
    def boot_stats(x: _Arrays) -> dict[str, S.Statistic]:
        return {
            "cost": S.Statistic(x.priced, x.cost, "mean"),
            "good": S.Statistic(x.verdict, x.good, "mean"),
            "latency_p50": S.Statistic(~np.isnan(x.latency), x.latency, "quantile", 0.5),
            "latency_p95": S.Statistic(~np.isnan(x.latency), x.latency, "quantile", 0.95),
            "ttft_p50": S.Statistic(~np.isnan(x.ttft), x.ttft, "quantile", 0.5),
            "ttft_p95": S.Statistic(~np.isnan(x.ttft), x.ttft, "quantile", 0.95),
            "feedback": S.Statistic(~np.isnan(x.feedback), x.feedback, "mean"),
        }

    rng = np.random.default_rng(seed)
    sa, sb = boot_stats(A), boot_stats(B)
    ba = S.Resampler(A.w, resamples, rng).run(sa)
    bb = S.Resampler(B.w, resamples, rng).run(sb)

    out: list[dict[str, Any]] = []

    def add(metric, unit, a, b, change, change_unit, low, high, p, n_a, n_b, test):
        out.append({"metric": metric, "unit": unit, "a": a if isinstance(a, Decimal) else _dec(a),
                    "b": b if isinstance(b, Decimal) else _dec(b), "change": _num(change), "change_unit": change_unit,
                    "low": _num(low), "high": _num(high), "p_value": _num(p), "n_a": int(n_a), "n_b": int(n_b),
                    "test": test})

    # cost per request: exact point estimates from the DECIMAL totals
    cpr = {}
    for k in ("a", "b"):
        priced = Fraction(tot[k]["priced_requests"])
        cpr[k] = Fraction(tot[k]["cost_usd"]) / priced if priced else None
    if cpr["a"] is not None and cpr["b"] is not None:
        _, lo, hi, p = S.ratio_test(float(cpr["a"]), float(cpr["b"]), ba["cost"], bb["cost"])
        change = float((cpr["b"] / cpr["a"] - 1) * 100) if cpr["a"] else float("nan")
        add("cost_per_request_usd", "usd", _dec(cpr["a"]), _dec(cpr["b"]), change, "pct", lo, hi, p,
            A.priced.sum(), B.priced.sum(), "bootstrap")
    quality = A.verdict.sum() >= MIN_ROWS and B.verdict.sum() >= MIN_ROWS
    if quality and cpr["a"] is not None and cpr["b"] is not None:
        ga, gb = S.weighted_mean(A.good[A.verdict], A.w[A.verdict]), S.weighted_mean(B.good[B.verdict], B.w[B.verdict])
        if ga > 0 and gb > 0:
            ca, cb = cpr["a"] / Fraction(ga), cpr["b"] / Fraction(gb)
            with np.errstate(invalid="ignore", divide="ignore"):
                _, lo, hi, p = S.ratio_test(float(ca), float(cb), ba["cost"] / ba["good"], bb["cost"] / bb["good"])
            add("cost_per_satisfactory_usd", "usd", _dec(ca), _dec(cb), float((cb / ca - 1) * 100), "pct", lo, hi, p,
                A.verdict.sum(), B.verdict.sum(), "bootstrap")

    def rate(metric, hits_a, mask_a, hits_b, mask_b):
        if not mask_a.any() or not mask_b.any():
            return
        pa, pb, d, lo, hi, p = S.two_proportions(hits_a[mask_a].astype(float), A.w[mask_a],
                                                  hits_b[mask_b].astype(float), B.w[mask_b],
                                                  hours_a=A.hour[mask_a], hours_b=B.hour[mask_b])
        add(metric, "share", pa, pb, d, "pp", lo, hi, p, mask_a.sum(), mask_b.sum(), "two-proportion z")

    everyone_a, everyone_b = np.ones(A.n, bool), np.ones(B.n, bool)
    rate("error_rate", A.error, everyone_a, B.error, everyone_b)
    types = pl.concat([A.types, B.types]).value_counts(sort=True)
    for t in types.sort(["count", "error_type"], descending=[True, False])["error_type"].to_list():
        rate(f"error_rate:{t}", A.error_type == t, everyone_a, B.error_type == t, everyone_b)
    rate("stop_max_tokens_share", A.max_tokens, A.answered, B.max_tokens, B.answered)
    rate("stop_refusal_share", A.refusal, A.answered, B.refusal, B.answered)

    for name in ("latency_p50", "latency_p95", "ttft_p50", "ttft_p95"):
        ma, mb = sa[name].mask, sb[name].mask
        if ma.sum() < MIN_ROWS or mb.sum() < MIN_ROWS:
            continue
        q = sa[name].q
        va = S.weighted_quantile(A.latency[ma] if name.startswith("lat") else A.ttft[ma], A.w[ma], q)
        vb = S.weighted_quantile(B.latency[mb] if name.startswith("lat") else B.ttft[mb], B.w[mb], q)
        _, lo, hi, p = S.ratio_test(va, vb, ba[name], bb[name])
        add(f"{name}_ms", "ms", va, vb, (vb / va - 1) * 100 if va > 0 else float("nan"), "pct", lo, hi, p,
            ma.sum(), mb.sum(), "bootstrap")

    fa, fb = sa["feedback"].mask, sb["feedback"].mask
    if fa.sum() >= MIN_ROWS and fb.sum() >= MIN_ROWS:
        va, vb = S.weighted_mean(A.feedback[fa], A.w[fa]), S.weighted_mean(B.feedback[fb], B.w[fb])
        d, lo, hi, p = S.diff_test(va, vb, ba["feedback"], bb["feedback"])
        add("feedback_score_mean", "score", va, vb, d, "diff", lo, hi, p, fa.sum(), fb.sum(), "bootstrap")
    if quality:
        rate("satisfactory_share", A.good, A.verdict, B.good, B.verdict)
    rate("resent_share", A.resent, A.first, B.resent, B.first)

    # -- the family: every p-value above, corrected together ---------------------------------------
    adjusted = S.adjust([r["p_value"] if r["p_value"] is not None else float("nan") for r in out], settings.correction)
    for r, pa in zip(out, adjusted):
        r["p_adjusted"] = _num(pa)
        r["significant"] = bool(r["p_adjusted"] is not None and r["p_adjusted"] < settings.alpha)
    table = pl.DataFrame(out, schema=COLUMNS, orient="row") if out else pl.DataFrame(schema=COLUMNS)
    table = table.select(list(COLUMNS))
    result = Comparison(cohorts, settings, table, "", notes=notes,
                        requests=(Decimal(tot["a"]["requests"]), Decimal(tot["b"]["requests"])))
    result.breaches = breaches(result)
    result.verdict = verdict(result)
    return result


def _value(v: Decimal | None, unit: str) -> str:
    if v is None:
        return "n/a"
    if unit == "usd":
        return f"${v:,.6f}"
    if unit == "share":
        return f"{float(v) * 100:.2f}%"
    if unit == "ms":
        return f"{float(v):,.0f} ms"
    return f"{float(v):.3f}"


def _change(v: float | None, unit: str, digits: int = 2) -> str:
    if v is None:
        return "n/a"
    return f"{v:+.{digits}f}" + {"pct": "%", "pp": " pp", "diff": ""}.get(unit, "")


def for_people(table: pl.DataFrame) -> pl.DataFrame:
    """The table as people read it (the table and markdown formats): values with their units, the
    change and its interval as text, p-values rounded; the data formats get `table` itself."""
    rows = []
    for r in table.iter_rows(named=True):
        digits = 1 if r["change_unit"] == "pct" else 2
        interval = ("n/a" if r["low"] is None else
                    f"[{_change(r['low'], r['change_unit'], digits)}, {_change(r['high'], r['change_unit'], digits)}]")
        rows.append({"metric": r["metric"], "a": _value(r["a"], r["unit"]), "b": _value(r["b"], r["unit"]),
                     "change": _change(r["change"], r["change_unit"], digits), "interval": interval,
                     "p": None if r["p_value"] is None else float(f"{r['p_value']:.2g}"),
                     "adjusted_p": None if r["p_adjusted"] is None else float(f"{r['p_adjusted']:.2g}"),
                     "significant": "yes" if r["significant"] else "no", "n_a": r["n_a"], "n_b": r["n_b"]})
    schema = {"metric": pl.String, "a": pl.String, "b": pl.String, "change": pl.String, "interval": pl.String,
              "p": pl.Float64, "adjusted_p": pl.Float64, "significant": pl.String, "n_a": pl.Int64, "n_b": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _pct(x: float) -> str:
    return f"{x:+.1f}" if abs(x) < 10 else f"{x:+.0f}"


def verdict(result: Comparison) -> str:
    """One line: cost, error rate, p95 latency and quality, each unchanged or its change and interval."""
    parts = []
    cost = result.row("cost_per_request_usd")
    if cost is None or cost["change"] is None:
        parts.append("cost n/a")
    else:
        interval = f"[{_pct(cost['low'])}, {_pct(cost['high'])}]" if cost["low"] is not None else "[no interval]"
        word = "" if cost["significant"] else " (not significant)"
        parts.append(f"cost {_pct(cost['change'])}% {interval}{word}")
    # the others: n/a (not measured), unchanged (not significant), or the change that was found
    for metric, label, changed in (
            ("error_rate", "error rate", lambda r: f"{r['change']:+.2f} pp [{r['low']:+.2f}, {r['high']:+.2f}]"),
            ("latency_p95_ms", "p95 latency", lambda r: f"{float(r['b'] - r['a']) / 1000:+.1f} s ({_pct(r['change'])}%)"),
            ("satisfactory_share", "quality", lambda r: f"{r['change']:+.1f} pp [{r['low']:+.1f}, {r['high']:+.1f}]")):
        row = result.row(metric)
        parts.append(f"{label} " + ("n/a" if row is None else changed(row) if row["significant"] else "unchanged"))
    line = "; ".join(parts)
    if result.breaches:
        line += "; guardrail breached: " + ", ".join(
            f"{b['guardrail']} ({b['change']:+.2f} {'pp' if b['unit'] == 'pp' else '%'} past {b['threshold']:g})"
            for b in result.breaches)
    return line


def breaches(result: Comparison) -> list[dict[str, Any]]:
    """The guardrails a significant change crossed: the change is significant after the correction,
    in the guardrail's bad direction, and its estimate is past the threshold."""
    found = []
    for key, threshold in result.settings.guardrails.items():
        metric, unit, bad = GUARDRAILS[key]
        row = result.row(metric)
        if row is None or row["change"] is None or not row["significant"]:
            continue
        if row["change"] * bad > 0 and (row["change"] - threshold) * bad > 0:
            found.append({"guardrail": key, "metric": metric, "unit": unit, "threshold": threshold,
                          "change": row["change"], "low": row["low"], "high": row["high"],
                          "a": row["a"], "b": row["b"], "p_adjusted": row["p_adjusted"], "n_b": row["n_b"]})
    return found


def findings(result: Comparison) -> pl.DataFrame:
    """The breaches as findings (costlab.signals' shape): detector "compare", severity high."""
    if not result.breaches:
        return signals.empty()
    a, b = result.cohorts.labels
    segment = f"b ({b}) against a ({a})"
    if result.cohorts.scope:
        segment += f", {result.cohorts.scope}"
    rows = []
    for x in result.breaches:
        unit = "pp" if x["unit"] == "pp" else "%"
        interval = f"[{x['low']:+.2f}, {x['high']:+.2f}]" if x["low"] is not None else ""
        rows.append({
            "severity": "high", "signal": DETECTOR, "segment": segment, "weekly_impact_usd": None,
            "evidence": (f"{x['metric']} {x['a']} -> {x['b']}: {x['change']:+.2f} {unit} {interval} "
                         f"(adjusted p {x['p_adjusted']:.2g}), past the guardrail {x['guardrail']} = {x['threshold']:g}"),
            "observed": float(x["b"]) if x["b"] is not None else None,
            "baseline": float(x["a"]) if x["a"] is not None else None,
            "requests": int(x["n_b"]),
            "suggestion": ("Halt the rollout and roll back to cohort a's model or setting, or raise the guardrail "
                           "in [compare.guardrails] if this change is accepted; `costlab compare` shows every metric."),
            "query": QUERY,
        })
    return signals.order(pl.DataFrame(rows, schema=signals.COLUMNS))


def compare_findings(store: Store, config: Any = None) -> pl.DataFrame:
    """The guardrail breaches of the default comparison in [compare] (flag, a/b, switch_day or
    before/after) as findings; an empty findings frame when [compare] defines no cohorts.
    For `costlab alert`'s sources: what it needs is the [compare] section of costlab.toml."""
    config = config if config is not None else store.config
    settings = parse(getattr(config, "compare", {}) or {})
    cohorts = C.from_settings(store, settings.cohorts)
    if cohorts is None:
        return signals.empty()
    return findings(compare(store, cohorts, settings))


__all__ = ["Comparison", "breaches", "compare", "compare_findings", "findings", "for_people", "verdict"]
