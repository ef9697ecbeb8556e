"""The report's charts as Vega-Lite specs (Altair), built from the report object alone.

Each function returns a Vega-Lite dict, or None when the report lacks its data. Altair is imported
here only, so `costlab --help` and the text renderers never load it.
"""

from __future__ import annotations

from typing import Any, Callable

WIDTH = 620
HEIGHT = 220


def _table(report: dict, section: str, key: str) -> list[dict] | None:
    for t in report["sections"].get(section, {}).get("tables", []):
        if t["key"] == key and t["rows"]:
            return t["rows"]
    return None


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def daily_spend_by_tier(report: dict) -> dict | None:
    import altair as alt

    rows = _table(report, "trends", "daily_by_tier")
    if not rows:
        return None
    data = [{"day": r["day"], "tier": r["tier"], "spend": _f(r["cost_usd"])} for r in rows]
    chart = alt.Chart(alt.Data(values=data)).mark_bar().encode(
        x=alt.X("day:O", title="day (UTC)"),
        y=alt.Y("sum(spend):Q", title="spend (USD)", stack="zero"),
        color=alt.Color("tier:N", title="tier"),
        tooltip=[alt.Tooltip("day:O"), alt.Tooltip("tier:N"), alt.Tooltip("spend:Q", format="$,.2f")],
    )
    return chart.properties(title="Daily spend by tier", width=WIDTH, height=HEIGHT).to_dict()


def cost_per_user_indexed(report: dict) -> dict | None:
    import altair as alt

    rows = _table(report, "trends", "daily")
    if not rows:
        return None
    first = next((r for r in rows if r["active_users"] and r["cost_per_active_user_usd"] is not None), None)
    if first is None:
        return None
    base_users, base_cost = first["active_users"], float(first["cost_per_active_user_usd"])
    data = []
    for r in rows:
        if r["active_users"]:
            data.append({"day": r["day"], "series": "active users", "index": 100 * r["active_users"] / base_users})
        if r["cost_per_active_user_usd"] is not None and base_cost:
            data.append({"day": r["day"], "series": "cost per active user",
                         "index": 100 * float(r["cost_per_active_user_usd"]) / base_cost})
    chart = alt.Chart(alt.Data(values=data)).mark_line(point=True).encode(
        x=alt.X("day:O", title="day (UTC)"),
        y=alt.Y("index:Q", title=f"index ({first['day']} = 100)"),
        color=alt.Color("series:N", title=None),
        tooltip=[alt.Tooltip("day:O"), alt.Tooltip("series:N"), alt.Tooltip("index:Q", format=".1f")],
    )
    return chart.properties(title="Cost per active user against active users (indexed)", width=WIDTH, height=HEIGHT).to_dict()


def latency_by_tier(report: dict) -> dict | None:
    import altair as alt

    rows = _table(report, "reliability", "latency_by_tier")
    if not rows:
        return None
    data = [{"tier": r["tier"], "percentile": p, "ms": r[f"{p}_latency_ms"]}
            for r in rows for p in ("p50", "p95", "p99") if r.get(f"{p}_latency_ms") is not None]
    chart = alt.Chart(alt.Data(values=data)).mark_bar().encode(
        x=alt.X("tier:N", title="tier"),
        xOffset=alt.XOffset("percentile:N"),
        y=alt.Y("ms:Q", title="latency (ms)"),
        color=alt.Color("percentile:N", title="percentile", sort=["p50", "p95", "p99"]),
        tooltip=[alt.Tooltip("tier:N"), alt.Tooltip("percentile:N"), alt.Tooltip("ms:Q", format=",.0f")],
    )
    return chart.properties(title="Latency by tier (ok, non-batch requests)", width=WIDTH, height=HEIGHT).to_dict()


def error_rates(report: dict) -> dict | None:
    import altair as alt

    rows = _table(report, "trends", "daily")
    if not rows:
        return None
    names = {"errors_rate": "all errors", "rate_limited_rate": "429 rate limit", "overloaded_rate": "529 overloaded",
             "context_exceeded_rate": "context exceeded"}
    data = [{"day": r["day"], "kind": label, "rate": r[key]} for r in rows for key, label in names.items()
            if r.get(key) is not None]
    chart = alt.Chart(alt.Data(values=data)).mark_line(point=True).encode(
        x=alt.X("day:O", title="day (UTC)"),
        y=alt.Y("rate:Q", title="share of requests", axis=alt.Axis(format="%")),
        color=alt.Color("kind:N", title=None, sort=list(names.values())),
        tooltip=[alt.Tooltip("day:O"), alt.Tooltip("kind:N"), alt.Tooltip("rate:Q", format=".2%")],
    )
    return chart.properties(title="Error rates over the period", width=WIDTH, height=HEIGHT).to_dict()


def whatif_pareto(report: dict) -> dict | None:
    """The what-if section's Pareto frontier (a line) with its scenarios (labelled points)."""
    import altair as alt

    rows = _table(report, "whatif", "frontier")
    if not rows:
        return None
    data = [{"series": "Pareto frontier", "label": r["split"], "cost": _f(r["cost_usd"]), "quality": r["quality"]}
            for r in rows]
    scenarios = [{"series": "scenario", "label": f"{r['scenario']} ({r['mix']})", "cost": _f(r["cost_usd"]),
                  "quality": r["quality"]}
                 for r in _table(report, "whatif", "scenarios") or [] if r.get("quality") is not None]
    x = alt.X("cost:Q", title="cost (USD)", scale=alt.Scale(zero=False))
    y = alt.Y("quality:Q", title="quality (mean score)", scale=alt.Scale(zero=False))
    tooltip = [alt.Tooltip("label:N"), alt.Tooltip("cost:Q", format="$,.2f"), alt.Tooltip("quality:Q", format=".3f")]
    line = alt.Chart(alt.Data(values=data)).mark_line(point=True).encode(x=x, y=y, tooltip=tooltip)
    layers = [line]
    if scenarios:
        base = alt.Chart(alt.Data(values=scenarios)).encode(x=x, y=y, tooltip=tooltip)
        layers += [base.mark_point(size=80, filled=True, color="#d62728"),
                   base.mark_text(align="left", dx=7, dy=-7).encode(text="label:N")]
    return alt.layer(*layers).properties(title="Cost against quality: every split's Pareto frontier and the scenarios",
                                         width=WIDTH, height=HEIGHT).to_dict()


CHARTS: list[tuple[str, Callable[[dict], dict | None]]] = [
    ("daily_spend_by_tier", daily_spend_by_tier),
    ("cost_per_user_indexed", cost_per_user_indexed),
    ("latency_by_tier", latency_by_tier),
    ("error_rates", error_rates),
    ("whatif_pareto", whatif_pareto),
]


def specs(report: dict) -> list[tuple[str, dict]]:
    """(name, Vega-Lite spec) for every chart whose data the report has."""
    out = []
    for name, fn in CHARTS:
        spec = fn(report)
        if spec is not None:
            out.append((name, spec))
    return out
