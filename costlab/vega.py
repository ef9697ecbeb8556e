"""Vega in a page with no network: every chart costlab writes as HTML (the report's charts, `whatif
--chart`, `whatif frontier --chart`) inlines Vega, Vega-Lite and vega-embed instead of loading them
from a CDN, so it renders offline.

The scripts come from the vl-convert-python package (its javascript_bundle(), BSD-3-Clause like the
Vega projects). The bundle is cached under $XDG_CACHE_HOME/costlab (or ~/.cache/costlab) per
vl-convert version, since producing it starts vl-convert's JavaScript runtime (a few seconds).
Specs go in as JSON with '<', '>' and '&' escaped (costlab.display.script_json), so no value in the
data can close the script element.
"""

from __future__ import annotations

import html
import os
from functools import cache
from pathlib import Path
from typing import Any

from costlab.display import ScriptSafeJSON, script_json, visible


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "costlab"


@cache
def bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script (window.vega, window.vegaLite, window.vegaEmbed)."""
    import vl_convert  # heavy (a JavaScript runtime): loaded only when a page with charts is written

    version = getattr(vl_convert, "__version__", "unknown")
    path = cache_dir() / f"vega-bundle-{version}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    js = vl_convert.javascript_bundle()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(js, encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only home only costs the few seconds again next time
    return js


def bundle_script() -> str:
    """The bundle as a <script> element (its text cannot end the element early)."""
    return "<script>" + bundle().replace("</script", "<\\/script") + "</script>"


def embed_script(specs: dict[str, Any], prefix: str = "chart-") -> str:
    """A <script> drawing each spec (name -> Vega-Lite spec) as SVG into the element #{prefix}{name}."""
    return f"""<script>
const specs = {script_json(specs)};
for (const [name, spec] of Object.entries(specs)) {{
  vegaEmbed("#{prefix}" + name, spec, {{renderer: "svg", actions: false}})
    .catch((err) => {{ console.error("chart " + name + ": " + err); }});
}}
</script>"""


def page(spec: dict[str, Any], title: str) -> str:
    """One chart as a self-contained HTML page: no request leaves it."""
    name = html.escape(visible(title), quote=True)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{name}</title>
<link rel="icon" href="data:,">
<style>body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2rem; }}</style>
</head>
<body>
<div class="chart" id="chart-main"></div>
{bundle_script()}
{embed_script({"main": spec})}
</body>
</html>
"""


def save(chart: Any, path: str | Path, title: str) -> Path:
    """An Altair chart to `path`: .html a self-contained page (page()), any other suffix as Altair
    writes it (.json the spec; .png, .svg through vl-convert). The parent folder is made."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".html", ".htm"):
        out.write_text(page(chart.to_dict(), title), encoding="utf-8")
    else:
        chart.save(str(out), json_kwds={"cls": ScriptSafeJSON})
    return out
