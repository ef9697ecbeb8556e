"""What-if charts (Altair, an optional heavy dependency imported when a chart is asked for): the
scenarios' costs with their intervals. (The frontier's chart is `frontier.chart`.)"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl

from costlab import vega


def scenario_chart(frame: pl.DataFrame, path: Path) -> Path:
    """A bar per scenario (cost_usd) with its 95% interval (cost_low_usd..cost_high_usd), from
    tables.scenario_table's frame, to a file (.html: a page that renders offline; or .json)."""
    import altair as alt  # heavy and only for --chart

    data = alt.Data(values=[{k: (float(v) if isinstance(v, Decimal) else v) for k, v in r.items()}
                            for r in frame.select("scenario", "cost_usd", "cost_low_usd", "cost_high_usd").to_dicts()])
    bars = alt.Chart(data).mark_bar().encode(x=alt.X("cost_usd:Q", title="cost (USD)"), y=alt.Y("scenario:N", sort=None))
    err = alt.Chart(data).mark_errorbar().encode(x="cost_low_usd:Q", x2="cost_high_usd:Q", y=alt.Y("scenario:N", sort=None))
    title = "what-if cost with 95% day-block bootstrap interval"
    # .html: a page with Vega inlined (renders offline); no scenario label can close its <script>
    return vega.save((bars + err).properties(title=title, width=520), path, title)
