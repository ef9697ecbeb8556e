"""The routing policy's answers as frames: the cross-validated comparison `costlab route fit`
prints, and the features and thresholds `costlab route explain` prints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from costlab.routing import NUMERIC, PAYLOAD

if TYPE_CHECKING:
    from costlab.whatif.routefit import Evaluation


def route_table(ev: "Evaluation", threshold: float | None = None) -> pl.DataFrame:
    """One row per policy: APGR with its bootstrap interval, CPT(50%/80%) and AIQ (cost as a share
    of all-on-the-top-tier), on the same cross-validated prompts; the learned row's quality and cost
    share out of fold at `threshold` (the policy file's), the oracle's at its one point."""
    def row(name, apgr, low, high, cpt50=None, cpt80=None, aiq=None, quality=None, cost_share=None):
        return {"policy": name, "apgr": apgr, "apgr_low": low, "apgr_high": high, "cpt50": cpt50, "cpt80": cpt80,
                "aiq": aiq, "quality": quality, "cost_share": cost_share, "prompts": ev.n}
    lo, hi = ev.learned["apgr_interval"]
    clo, chi = ev.complexity["apgr_interval"]
    at = next((p for p in ev.curve if threshold is not None and round(p["threshold"], 6) == round(threshold, 6)), None)
    rows = [
        row("learned (out of fold)", ev.learned["apgr"], lo, hi, ev.learned["cpt50"], ev.learned["cpt80"], ev.learned["aiq"],
            at["quality"] if at else None, at["cost_share"] if at else None),
        row("complexity", ev.complexity["apgr"], clo, chi, ev.complexity["cpt50"], ev.complexity["cpt80"], ev.complexity["aiq"]),
        row("random (10 seeds: mean, range)", ev.random["apgr"], *ev.random["apgr_range"]),
        row("oracle (one point)", None, None, None, quality=ev.oracle["quality"], cost_share=ev.oracle["cost_share"]),
        row("learned - complexity", ev.difference["apgr"], *ev.difference["interval"]),
    ]
    if ev.difference_random:
        rows.append(row("learned - random", ev.difference_random["apgr"], *ev.difference_random["interval"]))
    return pl.DataFrame(rows, schema={"policy": pl.String, "apgr": pl.Float64, "apgr_low": pl.Float64, "apgr_high": pl.Float64,
                                      "cpt50": pl.Float64, "cpt80": pl.Float64, "aiq": pl.Float64, "quality": pl.Float64,
                                      "cost_share": pl.Float64, "prompts": pl.Int64})


def feature_names(policy: dict[str, Any]) -> list[str]:
    spec = policy["features"]
    comps = (spec.get("embedding") or {}).get("components", 0)
    return [*spec["numeric"], *(f"feature={v}" for v in spec["feature_values"]),
            *(f"system={h}" for h in spec.get("system_values") or []), *(f"word:{w}" for w in spec["vocab"]),
            *(f"embedding:pc{k + 1}" for k in range(comps))]


def explain_table(policy: dict[str, Any], top: int = 15) -> pl.DataFrame:
    """Per tier below the top: its `top` features by |coefficient| on standardised features (the
    change in log odds that the tier suffices for one standard deviation of the feature)."""
    names = feature_names(policy)
    rows = []
    for c in policy["classifiers"]:
        ranked = sorted(zip(names, c["coef"], policy["scale"]["std"]), key=lambda r: (-abs(r[1]), r[0]))[:top]
        for rank, (name, coef, std) in enumerate(ranked, 1):
            rows.append({"tier": c["tier"], "rank": rank, "feature": name, "kind": "numeric" if name in NUMERIC + PAYLOAD else name.split(":")[0].split("=")[0],
                         "weight": coef, "direction": "tier suffices more often" if coef > 0 else "tier fails more often" if coef < 0 else "no effect",
                         "std": std, "threshold": policy["threshold"]})
    return pl.DataFrame(rows, schema={"tier": pl.String, "rank": pl.Int64, "feature": pl.String, "kind": pl.String,
                                      "weight": pl.Float64, "direction": pl.String, "std": pl.Float64, "threshold": pl.Float64})
