"""The report as one self-contained HTML page: tables, notes and Altair charts, no network needed.

Vega, Vega-Lite and vega-embed are inlined in a <script> (costlab/vega.py, shared with the what-if
charts): the page renders offline, with no CDN.
Every user string (feature, customer and model names) is HTML-escaped, its control characters and bidi
overrides shown escaped (costlab.display.visible); chart data goes in as JSON with '<', '>' and '&'
escaped so no value can close the script element (costlab.display.script_json).
"""

from __future__ import annotations

import html as _html

from costlab.display import script_json, visible
from costlab.report.charts import specs as chart_specs
from costlab.report.formats.base import ReportFormat
from costlab.report.formats.cells import METRIC_COLUMNS, cells, metric_cells, period, text_tables, title
from costlab.vega import bundle as vega_bundle  # noqa: F401  (the one inlining code, costlab/vega.py; kept here by name)
from costlab.vega import cache_dir as _cache_dir  # noqa: F401

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #1d2430; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d8dde6; padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; } .sub { color: #5b6577; margin-top: 0; }
table { border-collapse: collapse; margin: .3rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #eceff4; text-align: right; white-space: nowrap; }
th { background: #f5f7fa; font-weight: 600; } th.t, td.t { text-align: left; }
td.up { color: #a3341f; } td.down { color: #1f7a3a; } td.breach { color: #a3341f; font-weight: 600; }
.notes { color: #3b4455; padding-left: 1.2rem; } .chart { margin: 1rem 0 1.6rem; }
.charts h2 { margin-bottom: .6rem; }
"""


def _e(text: object) -> str:
    return _html.escape(visible(text), quote=True)


def _table_html(heading: str | None, columns: list[dict], rows: list[list[str]]) -> str:
    out = []
    if heading:
        out.append(f"<h3>{_e(heading)}</h3>")
    out.append("<table><thead><tr>" + "".join(
        f'<th class="{"t" if c["kind"] == "text" else "n"}">{_e(c["label"])}</th>' for c in columns) + "</tr></thead><tbody>")
    for row in rows:
        tds = []
        for c, v in zip(columns, row):
            cls = ["t" if c["kind"] == "text" else "n"]
            if v == "BREACH":
                cls.append("breach")
            tds.append(f'<td class="{" ".join(cls)}">{_e(v)}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    if not rows:
        out.append(f'<tr><td class="t" colspan="{len(columns)}">(no rows)</td></tr>')
    out.append("</tbody></table>")
    return "\n".join(out)


def render(report: dict, *, width: int = 100, color: bool = False) -> str:
    """The report as one self-contained page (width and color are the terminal's: not used)."""
    body = [f"<h1>{_e(title(report))}</h1>", f'<p class="sub">{_e(period(report))}</p>']
    specs = chart_specs(report)
    if specs:
        body.append('<section class="charts"><h2>Charts</h2>')
        body += [f'<div class="chart" id="chart-{_e(name)}" data-chart="{_e(name)}"></div>' for name, _ in specs]
        body.append("</section>")
    for name, section in report["sections"].items():
        body.append(f'<section id="{_e(name)}"><h2>{_e(section.get("title", name))}</h2>')
        if section.get("notes"):
            body.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in section["notes"]) + "</ul>")
        if section.get("metrics"):
            body.append(_table_html(None, METRIC_COLUMNS, metric_cells(section)))
        for tbl in text_tables(section):
            body.append(_table_html(tbl["title"], tbl["columns"], cells(tbl)))
        body.append("</section>")
    charts_json = script_json({name: spec for name, spec in specs})
    script = f"""
const specs = {charts_json};
for (const [name, spec] of Object.entries(specs)) {{
  vegaEmbed("#chart-" + name, spec, {{renderer: "svg", actions: false}})
    .catch((err) => {{ console.error("chart " + name + ": " + err); }});
}}"""
    bundle = vega_bundle().replace("</script", "<\\/script") if specs else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title(report))}</title>
<link rel="icon" href="data:,">
<style>{CSS}</style>
</head>
<body>
{chr(10).join(body)}
{f"<script>{bundle}</script>" if specs else ""}
{f"<script>{script}</script>" if specs else ""}
</body>
</html>
"""


FORMAT = ReportFormat("html", render, suffixes=(".html", ".htm"))
