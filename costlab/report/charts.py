"""The report's charts as Vega-Lite specs (Altair), built from the report object alone.

Each function returns (spec, caption) or None when the report lacks its data: the caption is one
line saying what to look for. Tiers are ordered cheapest to priciest with one fixed colour each, in
every chart (`tier_order`, `TIER_COLOURS`); days are dates read horizontally; money is in dollars.
Altair is imported here only, so `costlab --help` and the text renderers never load it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

WIDTH = 470
HEIGHT = 210

# One colour per tier everywhere (colour-blind-safe hues that read on light and dark backgrounds);
# tiers not named here get the greys, in order.
TIER_COLOURS = {"haiku": "#3a9e6f", "sonnet": "#4c78c8", "opus": "#a05fc0"}
OTHER_COLOURS = ("#8c8c8c", "#b07d48", "#c75a8a", "#6b8e23")
KNOWN_ORDER = ("haiku", "sonnet", "opus")
PERCENTILE_COLOURS = {"p50": "#9db8e0", "p95": "#4c78c8", "p99": "#1f3f80"}
# the x axis of every day-by-day chart: one label per day, horizontal, "Mon 09"
DAY_AXIS = {"format": "%a %d", "labelAngle": 0, "title": None, "tickCount": {"interval": "day", "step": 1}}

Chart = tuple[dict, str]


def _table(report: dict, section: str, key: str) -> list[dict] | None:
    for t in report["sections"].get(section, {}).get("tables", []):
        if t["key"] == key and t["rows"]:
            return t["rows"]
    return None


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def tier_order(report: dict) -> list[str]:
    """Every tier the report names, cheapest first: the what-if's order (cost of the week on each
    tier) when present, else haiku, sonnet, opus, then the others by cost per request."""
    model = report["sections"].get("whatif", {}).get("model")
    seen: list[str] = list(model["tiers"]) if model else []
    rows = _table(report, "spend", "by_tier") or []
    per_request = {r["tier"]: (Decimal(r["cost_usd"]) / r["requests"] if r["cost_usd"] and r["requests"] else Decimal(0))
                   for r in rows}
    for tier in [t for t in KNOWN_ORDER if t in per_request] + sorted(
            (t for t in per_request if t not in KNOWN_ORDER), key=lambda t: (per_request[t], t)):
        if tier not in seen:
            seen.append(tier)
    for r in _table(report, "trends", "daily_by_tier") or []:
        if r["tier"] not in seen:
            seen.append(r["tier"])
    return seen


def tier_scale(report: dict):
    import altair as alt

    order = tier_order(report)
    others = iter(OTHER_COLOURS * 4)
    colours = [TIER_COLOURS.get(t) or next(others) for t in order]
    return alt.Scale(domain=order, range=colours), order


def _done(chart, title: str, caption: str, width: int = WIDTH, height: int = HEIGHT) -> Chart:
    return chart.properties(title=title, width=width, height=height).to_dict(), caption


def daily_spend_by_tier(report: dict) -> Chart | None:
    import altair as alt

    rows = _table(report, "trends", "daily_by_tier")
    if not rows:
        return None
    scale, order = tier_scale(report)
    rank = {t: i for i, t in enumerate(order)}
    data = [{"day": r["day"], "tier": r["tier"], "rank": rank[r["tier"]], "spend": _f(r["cost_usd"])} for r in rows]
    chart = alt.Chart(alt.Data(values=data)).mark_bar().encode(
        # one band per day (a time axis would add a tick after the last bar), labelled like the others
        x=alt.X("day:O", title=None, axis=alt.Axis(labelAngle=0, labelExpr="utcFormat(toDate(datum.value), '%a %d')")),
        y=alt.Y("sum(spend):Q", title="spend (USD)", stack="zero", axis=alt.Axis(format="$,.0f")),
        color=alt.Color("tier:N", title="tier", scale=scale, sort=order),
        order=alt.Order("rank:Q", sort="ascending"),
        tooltip=[alt.Tooltip("day:O", title="day"), alt.Tooltip("tier:N"),
                 alt.Tooltip("sum(spend):Q", title="spend", format="$,.2f")],
    )
    layers = [chart]
    previous = _table(report, "trends", "previous_daily")
    days = {r["day"] for r in rows}
    before = [{"day": r["aligned_day"], "spend": _f(r["cost_usd"]), "previous_day": r["day"]}
              for r in previous or [] if r["cost_usd"] is not None and r["aligned_day"] in days]
    if before:
        layers.append(alt.Chart(alt.Data(values=before)).mark_line(
            point=alt.OverlayMarkDef(filled=False, size=40), strokeDash=[5, 3], color="#6b6b6b").encode(
            x=alt.X("day:O"), y=alt.Y("spend:Q"),
            tooltip=[alt.Tooltip("previous_day:N", title="previous week's day"),
                     alt.Tooltip("spend:Q", title="spend that day", format="$,.2f")]))
    caption = "Each bar is a day's spend, cheapest tier at the bottom: look for a day or a tier that stands out."
    if before:
        caption += f" Dashed: {report['window']['previous']['label']} on the same weekday."
    return _done(alt.layer(*layers) if len(layers) > 1 else chart, "Daily spend by tier (UTC days)", caption)


def spend_vs_previous(report: dict) -> Chart | None:
    import altair as alt

    rows = _table(report, "spend", "by_tier")
    if not rows:
        return None
    w = report["window"]
    scale, order = tier_scale(report)
    this, prev = f"{w['label']} (this week)", f"{w['previous']['label']} (previous)"
    data = []
    for r in rows:
        for period, key in ((prev, "previous_cost_usd"), (this, "cost_usd")):
            if r.get(key) is not None:
                data.append({"tier": r["tier"], "period": period, "spend": float(r[key]),
                             "change": r.get("change")})
    if not data:
        return None
    chart = alt.Chart(alt.Data(values=data)).mark_bar().encode(
        x=alt.X("tier:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("period:N", sort=[prev, this]),
        y=alt.Y("spend:Q", title="spend (USD)", axis=alt.Axis(format="$,.0f")),
        color=alt.Color("tier:N", scale=scale, legend=None),
        opacity=alt.Opacity("period:N", sort=[prev, this], scale=alt.Scale(domain=[prev, this], range=[0.45, 1.0]),
                            title="week"),
        tooltip=[alt.Tooltip("tier:N"), alt.Tooltip("period:N", title="week"),
                 alt.Tooltip("spend:Q", format="$,.2f"), alt.Tooltip("change:Q", format="+.1%", title="change")],
    )
    return _done(chart, "Spend by tier: this week against the previous",
                 "Pale bar: the previous week, solid: this week; a tier whose solid bar grew is where the money went.",
                 height=200)


def cost_per_active_user(report: dict) -> Chart | None:
    import altair as alt

    rows = _table(report, "trends", "daily")
    if not rows:
        return None
    data = [{"day": r["day"], "usd": float(r["cost_per_active_user_usd"]), "users": r["active_users"]}
            for r in rows if r["active_users"] and r["cost_per_active_user_usd"] is not None]
    if not data:
        return None
    chart = alt.Chart(alt.Data(values=data)).mark_line(point=True, color="#4c78c8").encode(
        x=alt.X("day:T", timeUnit="utcyearmonthdate", axis=alt.Axis(**DAY_AXIS)),
        y=alt.Y("usd:Q", title="cost per active user (USD)", scale=alt.Scale(zero=True), axis=alt.Axis(format="$,.2f")),
        tooltip=[alt.Tooltip("day:T", timeUnit="utcyearmonthdate", title="day"),
                 alt.Tooltip("usd:Q", format="$,.4f", title="cost per active user"),
                 alt.Tooltip("users:Q", format=",", title="active users")])
    return _done(chart, "Cost per active user, in dollars, day by day",
                 "A day's spend over its distinct users (the tooltip shows the users): a rise means each "
                 "user cost more that day.")


def latency_by_tier(report: dict) -> Chart | None:
    import altair as alt

    rows = _table(report, "reliability", "latency_by_tier")
    if not rows:
        return None
    order = [t for t in tier_order(report) if any(r["tier"] == t for r in rows)] + \
        [r["tier"] for r in rows if r["tier"] not in tier_order(report)]
    data = [{"tier": r["tier"], "percentile": p, "ms": r[f"{p}_latency_ms"]}
            for r in rows for p in ("p50", "p95", "p99") if r.get(f"{p}_latency_ms")]
    if not data:
        return None
    y = alt.Y("ms:Q", title="latency (ms, log scale)", scale=alt.Scale(type="log"), axis=alt.Axis(format=",.0f"))
    bars = alt.Chart(alt.Data(values=data)).mark_point(filled=True, size=120, opacity=1).encode(
        x=alt.X("tier:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("percentile:N", sort=["p50", "p95", "p99"]), y=y,
        color=alt.Color("percentile:N", title="percentile", sort=["p50", "p95", "p99"],
                        scale=alt.Scale(domain=list(PERCENTILE_COLOURS), range=list(PERCENTILE_COLOURS.values()))),
        tooltip=[alt.Tooltip("tier:N"), alt.Tooltip("percentile:N"), alt.Tooltip("ms:Q", format=",.0f")],
    )
    layers = [bars]
    slos = _slo_lines(report)
    if slos:
        rule = alt.Chart(alt.Data(values=slos)).encode(y=alt.Y("ms:Q"))
        layers += [rule.mark_rule(strokeDash=[5, 3], color="#d0473a"),
                   rule.mark_text(align="right", dy=-5, color="#d0473a", fontSize=10).encode(
                       x=alt.value(WIDTH - 2), text="label:N")]
    caption = ("Dots are p50, p95 and p99 latency of ok, non-batch requests per tier on a log scale; "
               + ("red dashed lines are the configured latency SLOs: a dot above its line breaches."
                  if slos else "no latency SLO is configured ([report.slo]), so no SLO line is drawn."))
    return _done(alt.layer(*layers), "Latency by tier", caption)


def _slo_lines(report: dict) -> list[dict]:
    """The distinct configured latency limits ([report.slo], as the per-feature table shows them)."""
    rows = _table(report, "reliability", "latency_by_feature") or []
    found: dict[tuple[str, float], set[str]] = {}
    for r in rows:
        for p in ("p95", "p99"):
            v = r.get(f"slo_{p}_latency_ms")
            if v is not None:
                found.setdefault((p, float(v)), set()).add(r["feature"])
    return [{"ms": v, "label": f"{p} SLO {v / 1000:g} s ({len(fs)} feature{'s' if len(fs) != 1 else ''})"}
            for (p, v), fs in sorted(found.items())]


def error_rates(report: dict) -> Chart | None:
    import altair as alt

    rows = _table(report, "trends", "daily")
    if not rows:
        return None
    names = {"errors_rate": "all errors", "rate_limited_rate": "429 rate limit", "overloaded_rate": "529 overloaded",
             "context_exceeded_rate": "context exceeded"}
    data = [{"day": r["day"], "kind": label, "rate": r[key]} for r in rows for key, label in names.items()
            if r.get(key) is not None]
    chart = alt.Chart(alt.Data(values=data)).mark_line(point=True).encode(
        x=alt.X("day:T", timeUnit="utcyearmonthdate", axis=alt.Axis(**DAY_AXIS)),
        y=alt.Y("rate:Q", title="share of requests", axis=alt.Axis(format="%")),
        color=alt.Color("kind:N", title=None, sort=list(names.values()),
                        scale=alt.Scale(domain=list(names.values()), range=["#d0473a", "#e8a33d", "#8c6bb1", "#5a9bd4"])),
        tooltip=[alt.Tooltip("day:T", timeUnit="utcyearmonthdate", title="day"), alt.Tooltip("kind:N"),
                 alt.Tooltip("rate:Q", format=".2%")],
    )
    return _done(chart, "Error rates, day by day",
                 "Share of requests that failed, by kind: a spike in 429 or 529 on one day points at limits or an outage.")


def whatif_pareto(report: dict) -> Chart | None:
    """The what-if frontier (line, with each point's quality interval), the scenarios (the actual
    split and the target marked), and the random router between adjacent tiers (dashed)."""
    import altair as alt

    rows = _table(report, "whatif", "frontier")
    if not rows:
        return None
    section = report["sections"]["whatif"]
    model = section.get("model") or {}
    target = model.get("target")
    frontier = [{"label": r["split"], "cost": _f(r["cost_usd"]), "quality": r["quality"], "low": r.get("quality_low"),
                 "high": r.get("quality_high"), "n": r.get("quality_n")} for r in rows]
    scenarios = []
    for r in _table(report, "whatif", "scenarios") or []:
        if r.get("quality") is None:
            continue
        role = "actual split" if r["scenario"] == "actual split" else ("target" if r["scenario"] == target else "scenario")
        scenarios.append({"label": f"{r['scenario']} ({r['mix']})", "role": role, "cost": _f(r["cost_usd"]),
                          "quality": r["quality"], "low": r.get("quality_low"), "high": r.get("quality_high"),
                          "n": r.get("quality_n")})
    x = alt.X("cost:Q", title="weekly cost (USD)", scale=alt.Scale(zero=True), axis=alt.Axis(format="$,.0f"))
    y = alt.Y("quality:Q", title="quality (judged pass rate)", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"))
    tooltip = [alt.Tooltip("label:N", title="split"), alt.Tooltip("cost:Q", format="$,.2f"),
               alt.Tooltip("quality:Q", format=".1%"), alt.Tooltip("low:Q", format=".1%", title="95% low"),
               alt.Tooltip("high:Q", format=".1%", title="95% high"), alt.Tooltip("n:Q", format=",", title="n judged")]
    base = alt.Chart(alt.Data(values=frontier)).encode(x=x, y=y, tooltip=tooltip)
    layers = [base.mark_rule(color="#4c78c8", opacity=0.5).encode(y=alt.Y("low:Q"), y2="high:Q"),
              base.mark_line(point=True, color="#4c78c8")]
    baseline = _random_router(model)
    if baseline:
        layers.insert(0, alt.Chart(alt.Data(values=baseline)).mark_line(strokeDash=[6, 4], color="#8c8c8c").encode(
            x=x, y=y, tooltip=[alt.Tooltip("label:N", title="pure tier"), alt.Tooltip("cost:Q", format="$,.2f"),
                               alt.Tooltip("quality:Q", format=".1%")]))
    if scenarios:
        roles = ["actual split", "target", "scenario"]
        sb = alt.Chart(alt.Data(values=scenarios)).encode(x=x, y=y, tooltip=tooltip)
        layers += [sb.mark_rule(color="#d0473a", opacity=0.6).encode(y=alt.Y("low:Q"), y2="high:Q"),
                   sb.mark_point(size=110, filled=True).encode(
                       shape=alt.Shape("role:N", title="marked", sort=roles,
                                       scale=alt.Scale(domain=roles, range=["diamond", "square", "circle"])),
                       color=alt.Color("role:N", title="marked", sort=roles,
                                       scale=alt.Scale(domain=roles, range=["#d0473a", "#e8a33d", "#6b6b6b"])))]
    n = max((r["n"] or 0 for r in frontier), default=0)
    caption = (f"Blue line: the cheapest split for each quality (bars: 95% intervals; quality rests on {n:,} judged "
               "requests); marks: the actual split, the target and the configured splits; dashed: a random router "
               "between adjacent tiers, which any routing rule must beat. Quality axis from 0 to 100%.")
    return _done(alt.layer(*layers), "Cost against quality: the Pareto frontier", caption, height=260)


def _random_router(model: dict) -> list[dict]:
    """Each tier alone (its week's cost and judged quality), cheapest first: the line between two
    adjacent points is what routing each request at random between them gives, in expectation."""
    if not model or not model.get("quality"):
        return []
    out = []
    for k, tier in enumerate(model["tiers"]):
        q = model["quality"].get(str(1 << k))
        if not q:
            return []
        qs, qn = sum(d[k] for d in q["qsum"]), sum(d[k] for d in q["qn"])
        if qn <= 0:
            return []
        out.append({"label": tier, "cost": int(model["tier_nusd"][k]) / 1e9, "quality": qs / qn})
    return out


CHARTS: list[tuple[str, Callable[[dict], Chart | None]]] = [
    ("daily_spend_by_tier", daily_spend_by_tier),
    ("spend_vs_previous", spend_vs_previous),
    ("cost_per_active_user", cost_per_active_user),
    ("latency_by_tier", latency_by_tier),
    ("error_rates", error_rates),
    ("whatif_pareto", whatif_pareto),
]


def charts(report: dict) -> list[tuple[str, dict, str]]:
    """(name, Vega-Lite spec, caption) for every chart whose data the report has."""
    out = []
    for name, fn in CHARTS:
        made = fn(report)
        if made is not None:
            out.append((name, *made))
    return out


def specs(report: dict) -> list[tuple[str, dict]]:
    """(name, Vega-Lite spec) for every chart whose data the report has."""
    return [(name, spec) for name, spec, _ in charts(report)]
