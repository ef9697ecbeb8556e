"""The report as one self-contained HTML page, answers first: the week in a sentence, the headline
figures with their change coloured good or bad, what to do (the findings by weekly dollar impact,
with the drill-down SQL to copy), the charts with a caption each, the what-if control, then every
section's tables (sortable and filterable). No network needed.

Vega, Vega-Lite and vega-embed are inlined in a <script> (costlab/vega.py, shared with the what-if
charts): the page renders offline, with no CDN. Table sorting is
tablesort (MIT, vendored in costlab/report/vendor/tablesort with its licence); the page's own script
and style are costlab/report/formats/page/.
Every user string (feature, customer and model names) is HTML-escaped, its control characters and bidi
overrides shown escaped (costlab.display.visible); chart data goes in as JSON with '<', '>' and '&'
escaped so no value can close the script element (costlab.display.script_json).
"""

from __future__ import annotations

import html as _html
import os
import re
from decimal import Decimal
from functools import cache
from pathlib import Path

from costlab.display import script_json, visible
from costlab.report.charts import TIER_COLOURS, charts as chart_list, tier_order
from costlab.report.formats.base import ReportFormat
from costlab.report.formats.cells import METRIC_COLUMNS, fmt, period, text_tables, title
from costlab.store.queries import queries_dir
from costlab.vega import bundle as vega_bundle  # noqa: F401  (the one inlining code, costlab/vega.py; kept here by name)
from costlab.vega import cache_dir as _cache_dir  # noqa: F401

HERE = Path(__file__).resolve().parent
VENDOR = HERE.parent / "vendor"

# Which way is good for a figure (metric key, or (section, table, column)): "down" (spend, errors:
# a fall is good), "up" (savings, cache hits), anything else neutral (requests, shares of the mix).
GOOD_WHEN_DOWN = {"spend_usd", "cost_per_request_usd", "cost_per_active_user_usd", "error_rate", "unpriced_requests",
                  "unpriced_share", "ingest_rejects", "cache_write_premium_usd", "batch_move_requests",
                  "batch_move_savings_usd"}
GOOD_WHEN_UP = {"cache_hit_rate", "cache_hit_request_share", "cache_read_savings_usd", "cache_net_savings_usd",
                "batch_request_share", "batch_spend_share", "batch_saved_usd", "discount_usd"}
# table change columns: spend and error-rate changes are bad when up, what-if's vs actual too
TABLE_GOOD_WHEN_DOWN = {("spend", "change"), ("reliability", "change"), ("whatif", "vs_actual")}
HEADLINE = ("spend_usd", "requests", "cost_per_request_usd", "cost_per_active_user_usd", "error_rate", "unpriced_share")
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


@cache
def _asset(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _e(text: object) -> str:
    return _html.escape(visible(text), quote=True)


def rich(text: object) -> str:
    """Text for people, escaped, with `code spans` as <code> (never a literal backtick)."""
    escaped = _e(text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped).replace("`", "")


def _script(js: str) -> str:
    return "<script>" + js.replace("</script", "<\\/script") + "</script>"


def _direction(value: float | None, good_when: str | None) -> str:
    """CSS classes for a change: up/down, and good/bad/neutral."""
    if value is None or value == 0:
        return ""
    way = "up" if value > 0 else "down"
    if good_when is None:
        return f"{way} neutral"
    return f"{way} {'good' if way == good_when else 'bad'}"


def _good_when(key: str) -> str | None:
    return "down" if key in GOOD_WHEN_DOWN else "up" if key in GOOD_WHEN_UP else None


def _sort_value(v: object, kind: str) -> str:
    if v is None:
        return ""
    if kind in ("count", "usd", "ratio", "change", "points", "ms", "number"):
        return format(Decimal(str(v)), "f")  # no exponent: tablesort's number sort reads digits only
    return visible(v)


def _table_html(table_id: str, heading: str | None, columns: list[dict], rows: list[dict], *, section: str = "",
                change_good: dict[str, str | None] | None = None, wrap: set[str] = frozenset()) -> str:
    """A sortable, filterable table: numbers right-aligned in their units, changes coloured."""
    out = []
    if heading:
        out.append(f"<h3>{_e(heading)}</h3>")
    out.append('<div class="tbl">')
    if len(rows) > 5:
        out.append(f'<input class="filter" type="search" placeholder="Filter rows…" aria-label="Filter {_e(heading or table_id)}">')
    out.append(f'<table class="data" id="{_e(table_id)}"><thead><tr>' + "".join(
        f'<th class="{"t" if c["kind"] == "text" else "n"}"'
        + ("" if c["kind"] == "text" else ' data-sort-method="number"') + f'>{_e(c["label"])}</th>' for c in columns)
        + "</tr></thead><tbody>")
    for row in rows:
        tds = []
        for c in columns:
            v, kind = row.get(c["key"]), c["kind"]
            text = fmt(v, kind)
            cls = ["t" if kind == "text" else "n"]
            if c["key"] in wrap:
                cls.append("wrap")
            if text == "BREACH":
                cls.append("breach")
            if kind in ("change", "points") and v is not None:
                good = (change_good or {}).get(c["key"], "down" if (section, c["key"]) in TABLE_GOOD_WHEN_DOWN else None)
                cls.append(_direction(v, good))
            sort = "" if kind == "text" else f' data-sort="{_e(_sort_value(v, kind))}"'
            tds.append(f'<td class="{" ".join(x for x in cls if x)}"{sort}>{_e(text)}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    if not rows:
        out.append(f'<tr><td class="t" colspan="{len(columns)}">(no rows)</td></tr>')
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _metrics_table(name: str, section: dict) -> str:
    rows = []
    for m in section.get("metrics", []):
        cls = _direction(m.get("change"), _good_when(m["key"]))
        ck = m.get("change_kind", "change")
        rows.append(f'<tr><td class="t">{_e(m["label"])}</td><td class="n" data-sort="{_e(_sort_value(m.get("current"), m["kind"]))}">'
                    f'{_e(fmt(m.get("current"), m["kind"]))}</td>'
                    f'<td class="n" data-sort="{_e(_sort_value(m.get("previous"), m["kind"]))}">{_e(fmt(m.get("previous"), m["kind"]))}</td>'
                    f'<td class="n {cls}" data-sort="{_e(_sort_value(m.get("change"), ck))}">{_e(fmt(m.get("change"), ck))}</td></tr>')
    head = "".join(f'<th class="{"t" if c["kind"] == "text" else "n"}"' + ("" if c["kind"] == "text" else ' data-sort-method="number"')
                   + f'>{_e(c["label"])}</th>' for c in METRIC_COLUMNS)
    return (f'<div class="tbl"><table class="data" id="t-{_e(name)}-metrics"><thead><tr>{head}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></div>")


def _metric(report: dict, key: str) -> dict | None:
    return next((m for m in report["sections"].get("headline", {}).get("metrics", []) if m["key"] == key), None)


def _findings(report: dict) -> list[dict]:
    for t in report["sections"].get("findings", {}).get("tables", []):
        if t["key"] == "findings":
            return sorted(t["rows"], key=lambda r: (r["weekly_impact_usd"] is None,
                                                    -Decimal(r["weekly_impact_usd"] or 0),
                                                    SEVERITY_RANK.get(r["severity"], 9)))
    return []


def sentence(report: dict) -> str:
    """The week in one sentence, from the headline figures and the findings."""
    w = report["window"]
    spend, requests = _metric(report, "spend_usd"), _metric(report, "requests")
    if spend is None or requests is None:
        return f"{w['label']}: no headline figures."
    if not requests["current"]:
        notes = report["sections"].get("headline", {}).get("notes", [])
        return notes[-1] if notes else f"No requests in {w['label']}."
    parts = [f"In {w['label']} spend was {fmt(spend['current'], 'usd')}"]
    if spend.get("change") is not None:
        parts[0] += f" ({fmt(spend['change'], 'change')} against {w['previous']['label']})"
    listed = _metric(report, "spend_list_usd")
    if listed is not None and listed.get("current") is not None:
        parts[0] += f", net of negotiated discounts: {fmt(listed['current'], 'usd')} at list price,"
    parts.append(f"for {fmt(requests['current'], 'count')} requests")
    cpu = _metric(report, "cost_per_active_user_usd")
    if cpu and cpu.get("current") is not None:
        parts.append(f"{fmt(cpu['current'], 'usd')} per active user"
                     + (f" ({fmt(cpu['change'], 'change')})" if cpu.get("change") is not None else ""))
    err = _metric(report, "error_rate")
    if err and err.get("current") is not None:
        parts.append(f"error rate {fmt(err['current'], 'ratio')}")
    text = ", ".join(parts) + "."
    found = _findings(report)
    if found:
        dollars = sum(Decimal(r["weekly_impact_usd"]) for r in found if r["weekly_impact_usd"] is not None)
        high = sum(1 for r in found if r["severity"] == "high")
        text += (f" {len(found)} finding{'s' if len(found) != 1 else ''}"
                 + (f" ({high} high)" if high else "")
                 + (f" are worth about {fmt(str(dollars), 'usd')} a week" if dollars else "")
                 + f"; the largest: {found[0]['signal']} on {found[0]['segment']}.")
    elif "findings" in report["sections"]:
        text += " No wrong-model findings."
    return text


def _kpis(report: dict) -> str:
    cards = []
    for key in HEADLINE:
        m = _metric(report, key)
        if m is None:
            continue
        ck = m.get("change_kind", "change")
        change = m.get("change")
        cls = _direction(change, _good_when(key))
        prev = report["window"]["previous"]["label"]
        label, gross = m["label"], ""
        listed, off = _metric(report, "spend_list_usd"), _metric(report, "discount_usd")
        if key == "spend_usd" and listed is not None:
            # A negotiated discount applied: spend is net; the card says gross and the discount too.
            label = "Spend (net of discounts)"
            gross = (f'<div class="gross">at list price {_e(fmt(listed.get("current"), "usd"))}; '
                     f'discount {_e(fmt(off.get("current") if off else None, "usd"))}</div>')
        cards.append(f'<div class="kpi" data-key="{_e(key)}"><div class="label">{_e(label)}</div>'
                     f'<div class="value">{_e(fmt(m.get("current"), m["kind"]))}</div>{gross}'
                     f'<div class="change {cls}">{_e(fmt(change, ck)) if change is not None else "no change to show"}</div>'
                     f'<div class="prev">{_e(prev)}: {_e(fmt(m.get("previous"), m["kind"]))}</div></div>')
    return '<div class="kpis">' + "".join(cards) + "</div>" if cards else ""


def _drill_sql(query: str) -> str | None:
    name = query.removeprefix("queries/")
    try:
        return (queries_dir() / name).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None


def _what_to_do(report: dict) -> str:
    if "findings" not in report["sections"]:
        return ""
    rows = _findings(report)
    out = ['<section id="what-to-do" class="block"><h2>What to do</h2>']
    if not rows:
        out.append('<p>No wrong-model findings this week.</p></section>')
        return "\n".join(out)
    w = report["window"]
    out.append('<p class="sub">Findings ranked by their weekly dollar impact (unknown impacts last), with the change '
               'to make and the query to look closer.</p>')
    out.append('<div class="tbl"><table class="data findings" id="t-findings"><thead><tr>'
               '<th class="t">severity</th><th class="t">finding</th><th class="n" data-sort-method="number">impact / week</th>'
               '<th class="t">evidence</th><th class="t">do this</th><th class="t" data-sort-method="none">drill down</th>'
               '</tr></thead><tbody>')
    for i, r in enumerate(rows):
        sev = r["severity"]
        command = f"costlab sql -F {r['query']} -p since={w['since'][:10]} -p until={w['until'][:10]}"
        sql = _drill_sql(r["query"] or "")
        drill = (f'<pre><code id="drill-{i}">{_e(command)}</code></pre><button class="copy" type="button" '
                 f'data-target="drill-{i}">copy</button>')
        if sql:
            drill += (f'<details><summary>the SQL</summary><pre><code id="sql-{i}">{_e(sql)}</code></pre>'
                      f'<button class="copy" type="button" data-target="sql-{i}">copy</button></details>')
        impact = r["weekly_impact_usd"]
        out.append(f'<tr><td class="t" data-sort="{SEVERITY_RANK.get(sev, 9)}"><span class="sev sev-{_e(sev)}">{_e(sev)}</span></td>'
                   f'<td class="t wrap"><strong>{_e(r["signal"])}</strong><br>{_e(r["segment"])}</td>'
                   f'<td class="n" data-sort="{_e(impact or "")}">{_e(fmt(impact, "usd")) if impact is not None else "not in dollars"}</td>'
                   f'<td class="t wrap">{rich(r["evidence"])}</td><td class="t wrap">{rich(r["suggestion"])}</td>'
                   f'<td class="t wrap">{drill}</td></tr>')
    out.append("</tbody></table></div></section>")
    return "\n".join(out)


def _whatif_live(report: dict) -> tuple[str, list[int] | None]:
    """The what-if control (the page's script answers each split from the section's `model`)."""
    section = report["sections"].get("whatif")
    model = (section or {}).get("model")
    if not model:
        return "", None
    tiers = model["tiers"]
    presets: list[tuple[str, list[int]]] = []
    for r in next((t["rows"] for t in section.get("tables", []) if t["key"] == "scenarios"), []):
        if r["scenario"] == "actual split" or r["scenario"].startswith("learned:"):  # a policy: no split to preset
            continue
        shares = dict(p.split("=") for p in r["scenario"].split(",")) if "=" in r["scenario"] else {}
        try:
            split = [int(Decimal(shares.get(t, "0"))) for t in tiers]
        except ArithmeticError:
            continue
        if sum(split) == 100:
            label = ("target " if r["scenario"] == model.get("target") else "") + r["mix"]
            presets.append((label, split))
    actual = _largest_remainder([model["current"].get(t, 0.0) * 100 for t in tiers])
    presets.append(("actual mix " + "/".join(map(str, actual)), actual))
    start = presets[0][1]
    others = iter(("#8c8c8c", "#b07d48", "#c75a8a", "#6b8e23") * 4)
    inputs = []
    for k, t in enumerate(tiers):
        colour = TIER_COLOURS.get(t) or next(others)
        inputs.append(f'<label><span><span class="swatch" style="background:{colour}"></span>{_e(t)}</span>'
                      f'<input type="range" min="0" max="100" step="1" id="wi-range-{k}" data-tier="{_e(t)}" '
                      f'aria-label="{_e(t)} share, percent">'
                      f'<span><input type="number" min="0" max="100" step="1" id="wi-num-{k}" data-tier="{_e(t)}" '
                      f'aria-label="{_e(t)} percent"> %</span></label>')
    buttons = "".join(f'<button type="button" data-split="{_e(script_json(s))}">{_e(label)}</button>' for label, s in presets)
    days = model["days"]
    html = f"""<section id="whatif-live" class="block"><h2>What if: choose a split</h2>
<p class="sub">Share of requests per tier (they always add up to 100%: moving one moves the others in
proportion). The cost is what this week's traffic would have cost routed at random in that split, as
<code>costlab whatif --split</code> computes it for {_e(days[0])} to {_e(days[-1])}.</p>
<div class="whatif"><div class="wi-controls">{''.join(inputs)}
<div class="presets">{buttons}</div></div>
<div class="wi-out"><div class="wi-line">Split <code id="wi-split"></code></div>
<div class="wi-figure" id="wi-cost"></div>
<div class="wi-line">95% interval <span id="wi-interval"></span> (days resampled, {len(model["resample_counts"]):,} times)</div>
<div class="wi-line"><span id="wi-change"></span></div>
<div class="wi-line">Quality <span id="wi-quality"></span></div></div></div>
<p class="notes">Quality is the mean judged score (replay judgements, else logged feedback) of the requests
judged on the tiers the split uses, each tier weighted by its share; n is the requests it rests on.</p></section>"""
    return html, start


def _largest_remainder(values: list[float]) -> list[int]:
    floors = [int(v) for v in values]
    left = 100 - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (floors[i] - values[i], i))
    for i in order[:max(left, 0)]:
        floors[i] += 1
    return floors


def _section_html(name: str, section: dict) -> str:
    out = [f'<section id="{_e(name)}" class="block"><h2>{_e(section.get("title", name))}</h2>']
    notes = section.get("notes") or []
    if name == "findings":  # the per-finding sentences are the table at the top ("What to do")
        notes = [n for n in notes if not n.startswith("[")]
        if any(t["key"] == "findings" and t["rows"] for t in section.get("tables", [])):
            out.append('<p>Every finding, with its evidence, the change to make and its SQL: '
                       '<a href="#what-to-do">What to do</a>, at the top.</p>')
    if notes:
        out.append('<ul class="notes">' + "".join(f"<li>{rich(n)}</li>" for n in notes) + "</ul>")
    if section.get("metrics"):
        out.append(_metrics_table(name, section))
    for tbl in text_tables(section):
        out.append(_table_html(f"t-{name}-{tbl['key']}", tbl["title"], tbl["columns"], tbl["rows"], section=name,
                               change_good={"change": None, "gap": None} if name == "tier_mix" else None))
    out.append("</section>")
    return "\n".join(out)


def render(report: dict, *, width: int = 100, color: bool = False) -> str:
    """The report as one self-contained page (width and color are the terminal's: not used)."""
    made = chart_list(report)
    body = [f"<header><h1>{_e(title(report))}</h1>", f'<p class="sub">{_e(period(report))}</p>',
            f'<p class="lede" id="lede">{rich(sentence(report))}</p>', _kpis(report), "</header>", _what_to_do(report)]
    if made:
        body.append('<section id="charts" class="block"><h2>Charts</h2><div class="charts">')
        body += [f'<figure class="chart"><div id="chart-{_e(name)}" data-chart="{_e(name)}"></div>'
                 f"<figcaption>{rich(caption)}</figcaption></figure>" for name, _, caption in made]
        body.append("</div></section>")
    live, start = _whatif_live(report)
    body.append(live)
    for name, section in report["sections"].items():
        body.append(_section_html(name, section))
    data = {"charts": {name: spec for name, spec, _ in made}, "tiers": tier_order(report),
            "whatif": report["sections"].get("whatif", {}).get("model"), "whatif_start": start}
    scripts = [_script(vega_bundle()) if made else "",
               _script(_asset(VENDOR / "tablesort" / "tablesort.min.js")),
               _script(_asset(VENDOR / "tablesort" / "tablesort.number.min.js")),
               f'<script type="application/json" id="costlab-data">{script_json(data)}</script>',
               _script(_asset(HERE / "page" / "page.js"))]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{_e(title(report))}</title>
<link rel="icon" href="data:,">
<style>{_asset(HERE / "page" / "page.css")}</style>
</head>
<body>
{chr(10).join(b for b in body if b)}
{chr(10).join(s for s in scripts if s)}
</body>
</html>
"""


FORMAT = ReportFormat("html", render, suffixes=(".html", ".htm"))
