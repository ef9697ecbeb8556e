"""The findings frame: its columns, worst-first order, severity counts and thresholds, and the
text or Markdown a reader gets beside the table."""

from __future__ import annotations

import polars as pl

from costlab.display import markdown_code, markdown_text, visible
from costlab.errors import ConfigError, ExitCode, did_you_mean

FINDINGS_EXIT = int(ExitCode.FINDINGS)
SEVERITIES = ("high", "medium", "low")
# A detector's row of this severity is not a finding: the window could not be judged, and why
# (run_signals moves it to its `notes`).
NOTE = "note"

COLUMNS = {
    "severity": pl.String,
    "signal": pl.String,
    "segment": pl.String,
    "weekly_impact_usd": pl.Decimal(18, 6),
    "evidence": pl.String,
    "observed": pl.Float64,
    "baseline": pl.Float64,
    "requests": pl.Int64,
    "suggestion": pl.String,
    "query": pl.String,
}


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=COLUMNS)


def order(findings: pl.DataFrame) -> pl.DataFrame:
    """Worst first: by severity, then weekly dollar impact (unknown impacts after known ones)."""
    rank = pl.col("severity").replace_strict({s: i for i, s in enumerate(SEVERITIES)}, default=len(SEVERITIES),
                                             return_dtype=pl.Int32)
    return (findings.with_columns(rank.alias("_rank"))
            .sort(["_rank", "weekly_impact_usd", "requests"], descending=[False, True, True], nulls_last=True)
            .drop("_rank"))


def exceeds(findings: pl.DataFrame, level: str | None) -> bool:
    """True when any finding is at `level` (high, medium or low) or worse."""
    if level is None:
        return False
    if level not in SEVERITIES:
        raise ConfigError(f"unknown severity {level!r}.{did_you_mean(level, SEVERITIES)} Choose one of: high, medium, low.")
    worse = SEVERITIES[: SEVERITIES.index(level) + 1]
    return findings.filter(pl.col("severity").is_in(worse)).height > 0


def counts(findings: pl.DataFrame) -> dict[str, int]:
    """Findings per severity, every severity present."""
    got = dict(findings.group_by("severity").len().iter_rows())
    return {s: int(got.get(s, 0)) for s in SEVERITIES}


def summary(findings: pl.DataFrame) -> pl.DataFrame:
    """The findings as a short table for reading: severity, signal, segment, weekly impact in cents."""
    return findings.select("severity", "signal", "segment",
                           pl.col("weekly_impact_usd").round(2).cast(pl.Decimal(18, 2)))


def details(findings: pl.DataFrame, markdown: bool = False) -> str:
    """Each finding's evidence, suggestion and drill-down query, as text (or Markdown), in order.

    Segments, evidence and suggestions quote names from the logs: the text shows them literally
    (control characters visible), the Markdown escapes them (costlab.display)."""
    lines = []
    for i, row in enumerate(findings.iter_rows(named=True), start=1):
        impact = row["weekly_impact_usd"]
        money = "impact not in dollars" if impact is None else f"${impact:,.2f} a week"
        if markdown:
            md = {k: markdown_text(row[k]) for k in ("severity", "segment", "evidence", "suggestion")}
            lines += [f"{i}. **{md['severity']}** {markdown_code(row['signal'])} {md['segment']} ({money})",
                      f"   - evidence: {md['evidence']}",
                      f"   - suggestion: {md['suggestion']}",
                      f"   - drill down: {markdown_code('costlab sql -F ' + str(row['query']))}"]
        else:
            text = {k: visible(" ".join(str(row[k]).split())) for k in ("severity", "signal", "segment", "evidence",
                                                                         "suggestion", "query")}
            lines += [f"{i}. [{text['severity']}] {text['signal']}  {text['segment']}  ({money})",
                      f"   evidence:   {text['evidence']}",
                      f"   suggestion: {text['suggestion']}",
                      f"   drill down: costlab sql -F {text['query']}"]
    return "\n".join(lines) + ("\n" if lines else "")
