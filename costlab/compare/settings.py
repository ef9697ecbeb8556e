"""The [compare] section of costlab.toml: the test level, the correction for multiple comparisons,
the kill-switch guardrails, a default pair of cohorts (for `costlab alert` and a CI job) and the
weekly report's threshold.

    [compare]
    alpha = 0.05                 # significance level, after the correction
    correction = "holm"          # holm (family-wise error) or bh (Benjamini-Hochberg, false discoveries)
    resamples = 1000             # bootstrap resamples
    share_change_pp = 10         # the report's section: a model's share of requests moved this much
    # a default comparison (what `costlab compare` with no cohort flag and compare_findings run):
    flag = "new_model"           # rows whose metadata new_model is true against the rest ...
    days = 7                     # ... over the last 7 days of traffic
    # or: a = "model = 'claude-sonnet-5-5'"  b = "model = 'claude-haiku-5-5'"  (same window)
    # or: switch_day = 2026-11-08 (days before against days after), or before/after = "DAY..DAY"
    # where = "feature <> 'batch-digest'"     feature = "support-triage"
    [compare.guardrails]         # a significant move past one of these: exit 5 and a finding
    error_rate_pp = 1.0          # error rate up by more than 1 percentage point
    p95_latency_pct = 20         # p95 latency up by more than 20%
    quality_pp = -3              # satisfactory share down by more than 3 points

`_pp` is percentage points (an absolute change of a share: 2.0% -> 3.1% is +1.1 pp); `_pct` a
relative change in percent, as in every costlab column name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from costlab.errors import ConfigError, did_you_mean

CORRECTIONS = ("holm", "bh")
# guardrail -> (the metric it watches, "pp" or "pct", the direction that is bad: +1 up, -1 down)
GUARDRAILS: dict[str, tuple[str, str, int]] = {
    "error_rate_pp": ("error_rate", "pp", +1),
    "p95_latency_pct": ("latency_p95_ms", "pct", +1),
    "p50_latency_pct": ("latency_p50_ms", "pct", +1),
    "p95_ttft_pct": ("ttft_p95_ms", "pct", +1),
    "quality_pp": ("satisfactory_share", "pp", -1),
    "feedback_pp": ("feedback_score_mean", "pp", -1),
    "cost_pct": ("cost_per_request_usd", "pct", +1),
    "max_tokens_pp": ("stop_max_tokens_share", "pp", +1),
    "refusal_pp": ("stop_refusal_share", "pp", +1),
    "escalation_pp": ("resent_share", "pp", +1),
}
# On unless costlab.toml says otherwise (a guardrail set to false is off).
DEFAULT_GUARDRAILS = {"error_rate_pp": 1.0, "p95_latency_pct": 20.0, "quality_pp": -3.0}
COHORT_KEYS = ("flag", "a", "b", "switch_day", "before", "after", "days", "where", "feature")
KEYS = ("alpha", "correction", "resamples", "seed", "share_change_pp", "satisfactory_score", "guardrails", *COHORT_KEYS)


@dataclass(frozen=True)
class CompareSettings:
    alpha: float = 0.05
    correction: str = "holm"
    resamples: int = 1000
    seed: int = 0
    share_change_pp: float = 10.0  # the weekly report's section fires past this
    satisfactory_score: float = 0.5  # a feedback_score at least this is a satisfactory answer
    guardrails: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_GUARDRAILS))
    cohorts: dict[str, Any] = field(default_factory=dict)  # the default comparison, COHORT_KEYS


def _number(value: Any, where: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"costlab.toml {where}: expected a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"costlab.toml {where}: expected a number between {low} and {high}, got {value!r}")
    return float(value)


def parse(section: dict[str, Any] | None) -> CompareSettings:
    """CompareSettings from [compare]; unknown keys are an error with a did-you-mean."""
    section = dict(section or {})
    for key in section:
        if key not in KEYS:
            raise ConfigError(f"costlab.toml [compare]: unknown setting {key!r}.{did_you_mean(key, KEYS)} "
                              f"Known settings: {', '.join(KEYS)}.")
    alpha = _number(section.get("alpha", 0.05), "[compare] alpha", 1e-9, 0.5)
    correction = section.get("correction", "holm")
    if correction not in CORRECTIONS:
        raise ConfigError(f"costlab.toml [compare] correction: {correction!r} is not one of holm, bh."
                          f"{did_you_mean(str(correction), CORRECTIONS)}")
    resamples = section.get("resamples", 1000)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or not 100 <= resamples <= 100_000:
        raise ConfigError(f"costlab.toml [compare] resamples: expected a whole number from 100 to 100000, got {resamples!r}")
    seed = section.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"costlab.toml [compare] seed: expected a non-negative whole number, got {seed!r}")
    share = _number(section.get("share_change_pp", 10.0), "[compare] share_change_pp", 0, 100)
    satisfactory = _number(section.get("satisfactory_score", 0.5), "[compare] satisfactory_score", 0, 1)
    guardrails = dict(DEFAULT_GUARDRAILS)
    given = section.get("guardrails", {})
    if not isinstance(given, dict):
        raise ConfigError("costlab.toml [compare.guardrails]: expected a table like { error_rate_pp = 1.0 }")
    for key, value in given.items():
        if key not in GUARDRAILS:
            raise ConfigError(f"costlab.toml [compare.guardrails]: unknown guardrail {key!r}.{did_you_mean(key, GUARDRAILS)} "
                              f"Known guardrails: {', '.join(GUARDRAILS)}.")
        if value is False:
            guardrails.pop(key, None)
            continue
        value = _number(value, f"[compare.guardrails] {key}")
        _metric, _unit, bad = GUARDRAILS[key]
        if value * bad < 0:
            word = "a drop (negative)" if bad < 0 else "a rise (positive)"
            raise ConfigError(f"costlab.toml [compare.guardrails] {key} = {value:g}: it limits {word}; "
                              f"write {-value:g}")
        guardrails[key] = value
    cohorts = {k: section[k] for k in COHORT_KEYS if k in section}
    for k, v in cohorts.items():
        if k == "days":
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"costlab.toml [compare] days: expected a whole number of days, got {v!r}")
        elif k == "switch_day":
            if not isinstance(v, (date, str)):
                raise ConfigError(f"costlab.toml [compare] switch_day: expected a day like 2026-11-08, got {v!r}")
        elif not isinstance(v, str):
            raise ConfigError(f"costlab.toml [compare] {k}: expected text, got {v!r}")
    return CompareSettings(alpha, correction, resamples, seed, share, satisfactory, guardrails, cohorts)
