"""What a destination receives: a Slack incoming-webhook message (blocks), a generic JSON body, or
Markdown. Each takes the `changes` frame (costlab/alerts/memory.py) of one destination.

Every value from a log (segments, evidence) is escaped for the target: Slack's `&`, `<`, `>` (no
mention or link can be injected: costlab.display.slack_text), Markdown's specials
(costlab.display.markdown_text); JSON carries it as data, money as exact decimal strings.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl

from costlab.display import markdown_code, markdown_text, slack_text, visible

MARK = {"high": ":red_circle:", "medium": ":large_orange_circle:", "low": ":white_circle:"}
CHANGE = {"new": "new", "escalated": "severity up", "de-escalated": "severity down", "cleared": "cleared"}


def drill_down(query: str | None) -> str | None:
    return None if not query else f"costlab sql -F {query}"


def impact(value: Decimal | None) -> str:
    return "impact not in dollars" if value is None else f"${value:,.2f} a week"


def headline(changes: pl.DataFrame) -> str:
    """'costlab: 3 alerts: 1 high, 2 medium new; 1 cleared'."""
    live = changes.filter(pl.col("change") != "cleared")
    counts = dict(live.group_by("severity").len().iter_rows())
    parts = [f"{counts[s]} {s}" for s in ("high", "medium", "low") if counts.get(s)]
    gone = changes.height - live.height
    text = f"costlab: {changes.height} alert{'s' if changes.height != 1 else ''}"
    if parts:
        text += ": " + ", ".join(parts)
    if gone:
        text += ("; " if parts else ": ") + f"{gone} cleared"
    return text


def slack(changes: pl.DataFrame, max_findings: int, when: datetime) -> dict[str, Any]:
    """A Slack incoming-webhook body: a header, then one section per finding (severity, what changed,
    the detector and segment, the weekly impact, the evidence, the fix and the drill-down query)."""
    shown = changes.head(max_findings)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": slack_text(headline(changes), 150)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{when:%Y-%m-%d %H:%M} UTC · `costlab alert`"}]},
    ]
    for row in shown.iter_rows(named=True):
        sev = row["severity"]
        title = (f"{MARK.get(sev, '')} *{slack_text(sev).upper()}* ({CHANGE[row['change']]}"
                 + (f", was {slack_text(row['previous_severity'])}" if row["change"] in ("escalated", "de-escalated") else "")
                 + f") · `{slack_text(row['signal'], 100)}` · {slack_text(row['segment'], 300)}")
        if row["change"] == "cleared":
            lines = [title, f"*Last evidence:* {slack_text(row['evidence'] or '-', 1200)}"]
        else:
            lines = [title, f"*Impact:* {impact(row['weekly_impact_usd'])}",
                     f"*Evidence:* {slack_text(row['evidence'], 1200)}",
                     f"*Fix:* {slack_text(row['suggestion'], 800)}"]
            if row["query"]:
                lines.append(f"*Drill down:* `{slack_text(drill_down(row['query']), 300)}`")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}})
        blocks.append({"type": "divider"})
    if changes.height > shown.height:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                       f"and {changes.height - shown.height} more: `costlab signals`, `costlab budget`"}]})
    return {"text": slack_text(headline(changes), 300), "blocks": blocks}


def webhook(changes: pl.DataFrame, destination: str, when: datetime) -> dict[str, Any]:
    """A generic JSON body: every change with every findings column, money as exact strings."""
    items = []
    for row in changes.iter_rows(named=True):
        item = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
        item["drill_down"] = drill_down(row["query"])
        items.append(item)
    return {"source": "costlab", "destination": destination, "sent_at": when.isoformat(),
            "summary": headline(changes), "findings": items}


def markdown(changes: pl.DataFrame, when: datetime) -> str:
    """A Markdown section: a heading, then each change with its evidence, fix and drill-down."""
    lines = [f"## {markdown_text(headline(changes))} ({when:%Y-%m-%d %H:%M} UTC)", ""]
    for i, row in enumerate(changes.iter_rows(named=True), start=1):
        md = {k: markdown_text(row[k] or "-") for k in ("severity", "segment", "evidence", "suggestion")}
        change = CHANGE[row["change"]] + (f", was {row['previous_severity']}" if row["change"] in ("escalated", "de-escalated") else "")
        if row["change"] == "cleared":
            lines += [f"{i}. **cleared** (was {markdown_text(row['previous_severity'])}) {markdown_code(row['signal'])} "
                      f"{md['segment']}", f"   - last evidence: {md['evidence']}"]
            continue
        lines += [f"{i}. **{md['severity']}** ({change}) {markdown_code(row['signal'])} {md['segment']} "
                  f"({impact(row['weekly_impact_usd'])})",
                  f"   - evidence: {md['evidence']}",
                  f"   - fix: {md['suggestion']}"]
        if row["query"]:
            lines.append(f"   - drill down: {markdown_code(drill_down(row['query']))}")
    return "\n".join(lines) + "\n"


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def plain(text: str) -> str:
    """One line of text for stderr."""
    return visible(text)
