"""The [report] section of costlab.toml: how many rows per ranking, the target tier split, SLOs.

    [report]
    top_n = 10                                  # rows in the feature, model and customer rankings
    [report.target_split]                       # the tier mix you aim for, in percent of requests
    haiku = 70
    sonnet = 25
    opus = 5
    whatif_splits = ["haiku=50,sonnet=45,opus=5"]   # what-if section: these besides target_split
    [report.slo.default]                        # applies to every feature without its own entry
    p95_latency_ms = 30000
    p95_ttft_ms = 2000
    [report.slo."chat-assistant"]
    p95_latency_ms = 20000
    p95_ttft_ms = 1200
    # memory_limit = "1.5GB"                   # DuckDB's memory while the report builds ("none": its default)
    # timezone = "Europe/Berlin"               # days and weeks from midnight there (default UTC; --tz wins)
    # exact_percentiles_max = 10000000         # past this many measured requests, latency percentiles from counts of values
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from costlab.config import check_timezone
from costlab.errors import ConfigError, did_you_mean
from costlab.memory import parse_size
from costlab.whatif.scenario import parse_split, split_total_error  # the one rule for a split

KEYS = ("top_n", "target_split", "slo", "whatif_splits", "memory_limit", "timezone", "exact_percentiles_max")
SLO_KEYS = ("p95_latency_ms", "p95_ttft_ms", "p99_latency_ms", "p99_ttft_ms")
DEFAULT_TOP_N = 10
# DuckDB's memory while the report builds. Without a limit DuckDB may use 80% of the machine, and on
# a log whose re-sends carry no parent id the escalation detector's two sorts of the window alone
# took 3 GB at 10M requests; capped, they spill to disk (`<store>.tmp`): 1.7 GB and +1 s there, no
# change on the benchmark's log (benchmarks/RESULTS.md). "none" leaves DuckDB's own default.
DEFAULT_MEMORY_LIMIT = "1.5GB"
# quantile_cont holds every measured value in memory (it does not spill): past this many measured
# requests in the window the latency percentiles come from counts of values instead (the same exact
# figures, spilling: queries/report/latency_histogram.sql), and the report says so (docs/report.md,
# "Large windows"; measured in benchmarks/RESULTS.md).
DEFAULT_EXACT_PERCENTILES_MAX = 10_000_000


@dataclass(frozen=True)
class ReportSettings:
    top_n: int = DEFAULT_TOP_N
    target_split: dict[str, float] = field(default_factory=dict)  # tier -> fraction of requests (sums to 1)
    slo: dict[str, dict[str, float]] = field(default_factory=dict)  # feature or "default" -> {SLO_KEYS: ms}
    whatif_splits: tuple[str, ...] = ()  # more splits for the what-if section, e.g. "haiku=50,sonnet=45,opus=5"
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT  # DuckDB's, while the report builds; None: DuckDB's default
    exact_percentiles_max: int = DEFAULT_EXACT_PERCENTILES_MAX  # measured requests; more: percentiles from counts of values

    def slo_for(self, feature: str) -> dict[str, float]:
        return self.slo.get(feature, self.slo.get("default", {}))


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"costlab.toml {where}: expected a non-negative number, got {value!r}")
    return float(value)


def parse(section: dict[str, Any] | None, file: Any = None) -> ReportSettings:
    """ReportSettings from the [report] table of `file` (costlab.toml); unknown keys are an error with a
    did-you-mean, and a split that does not add up to 100 (or 1) is refused with its sum, never rescaled."""
    section = dict(section or {})
    for key in section:
        if key not in KEYS:
            raise ConfigError(f"costlab.toml [report]: unknown setting {key!r}.{did_you_mean(key, KEYS)} "
                              f"Known settings: {', '.join(KEYS)}.")
    top_n = section.get("top_n", DEFAULT_TOP_N)
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise ConfigError(f"costlab.toml [report] top_n: expected a whole number of at least 1, got {top_n!r}")
    split = {str(k): _number(v, f"[report.target_split] {k}") for k, v in dict(section.get("target_split", {})).items()}
    total = sum(split.values())
    wrong = split_total_error(Fraction(str(total))) if split else None
    if wrong:
        shown = ", ".join(f"{k} = {v:g}" for k, v in split.items())
        raise ConfigError(f"{file or 'costlab.toml'} [report.target_split] ({shown}): {wrong}")
    slo: dict[str, dict[str, float]] = {}
    for feature, limits in dict(section.get("slo", {})).items():
        if not isinstance(limits, dict):
            raise ConfigError(f"costlab.toml [report.slo] {feature}: expected a table like {{ p95_latency_ms = 2000 }}")
        for key in limits:
            if key not in SLO_KEYS:
                raise ConfigError(f"costlab.toml [report.slo.{feature}]: unknown limit {key!r}.{did_you_mean(key, SLO_KEYS)} "
                                  f"Known limits: {', '.join(SLO_KEYS)}.")
        slo[str(feature)] = {k: _number(v, f"[report.slo.{feature}] {k}") for k, v in limits.items()}
    # Percent or fractions alike: 70/25/5 and 0.7/0.25/0.05 mean the same split.
    extra = section.get("whatif_splits", [])
    if not isinstance(extra, list) or not all(isinstance(x, str) for x in extra):
        raise ConfigError('costlab.toml [report] whatif_splits: expected a list like ["haiku=50,sonnet=45,opus=5"]')
    for text in extra:
        try:
            parse_split(text)
        except ConfigError as ex:
            raise ConfigError(f"{file or 'costlab.toml'} [report] whatif_splits: {ex}") from None
    if "timezone" in section:  # read by costlab.config.resolve_timezone (with --tz); checked here with the rest
        check_timezone(section["timezone"], f"{file or 'costlab.toml'} [report] timezone")
    limit = section.get("memory_limit", DEFAULT_MEMORY_LIMIT)
    if not (isinstance(limit, str) and limit.strip().lower() == "none"):
        parse_size(limit, "costlab.toml [report] memory_limit")  # a number and a unit, or a ConfigError
    limit = None if limit.strip().lower() == "none" else limit.strip()
    exact_max = section.get("exact_percentiles_max", DEFAULT_EXACT_PERCENTILES_MAX)
    if isinstance(exact_max, bool) or not isinstance(exact_max, int) or exact_max < 0:
        raise ConfigError(f"costlab.toml [report] exact_percentiles_max: expected a whole number of requests (0 or "
                          f"more), got {exact_max!r}")
    return ReportSettings(top_n, {k: v / total for k, v in split.items()}, slo, tuple(extra), limit, exact_max)
