"""The detectors' parameters: their defaults are the query files' header parameters, and
`[signals]` (and `[tiers]`) in costlab.toml override them, for every detector that takes a
parameter (`min_impact_usd = 50`) or for one (`[signals.over_modeling] max_output_p90 = 150`).
`disable = ["cache_underuse"]` turns detectors off, `batch_features` / `interactive_features` name
features, `pin_versions` and the SLO tables (`latency_slo_ms`, `ttft_slo_ms`) become parameters of
the detectors that read them. `[routing] policy` (a fitted policy file) becomes `route_drift`'s
reference distributions (route_params). Unknown keys are refused with a did-you-mean (docs/signals.md).
"""

from __future__ import annotations

from typing import Any

import json
from pathlib import Path

from costlab.config import Config, routing_policy
from costlab.errors import ConfigError, did_you_mean
from costlab.signals.detectors import BY_ID, DETECTORS, Detector
from costlab.routing import FORMATS, PolicyFileError, Router
from costlab.store import queries

WINDOW_PARAMS = ("since", "until", "tz")  # given by the window (tz: --tz or [report] timezone), never by [signals]
_LIST_KEYS = ("batch_features", "interactive_features")
_SPECIAL_KEYS = ("disable", *_LIST_KEYS, "pin_versions", "latency_slo_ms", "ttft_slo_ms")


def resolve_params(config: Config | None) -> tuple[list[Detector], dict[str, dict[str, Any]]]:
    """The detectors to run and each one's parameters from costlab.toml ([signals], [tiers]).

    Raises:
        ConfigError: an unknown key, detector or parameter (with a did-you-mean), or a bad value.
    """
    config = config or Config()
    settings = dict(config.signals)
    headers = {d.id: {p.name: p for p in queries.load(d.query).params} for d in DETECTORS}
    shared_names = sorted({name for params in headers.values() for name in params} - set(WINDOW_PARAMS))

    disable = settings.pop("disable", [])
    if isinstance(disable, str):
        disable = [disable]
    for name in disable:
        if name not in BY_ID:
            raise ConfigError(f"[signals] disable: no detector {name!r}.{did_you_mean(name, BY_ID)} "
                              f"Detectors: {', '.join(BY_ID)}.")
    lists = {key: settings.pop(key, None) for key in _LIST_KEYS}
    pin = _pin_versions(settings.pop("pin_versions", None))
    slos = {}
    for key in ("latency_slo_ms", "ttft_slo_ms"):
        table = settings.pop(key, None)
        if table is None:
            continue
        if not isinstance(table, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                                                  for v in table.values()):
            raise ConfigError(f"[signals] {key} must be a table of feature = milliseconds, "
                              f'e.g. {key} = {{ "chat-assistant" = 8000 }}')
        slos[key] = ",".join(f"{feature}={ms}" for feature, ms in table.items())
    shared: dict[str, Any] = {}
    own: dict[str, dict[str, Any]] = {}
    for key, value in settings.items():
        if key in BY_ID:
            if not isinstance(value, dict):
                raise ConfigError(f"[signals] {key} must be a table: [signals.{key}]")
            for name, v in value.items():
                if name not in headers[key] or name in WINDOW_PARAMS:
                    known = [n for n in headers[key] if n not in WINDOW_PARAMS]
                    raise ConfigError(f"[signals.{key}] has no setting {name!r}.{did_you_mean(name, known)} "
                                      f"It takes: {', '.join(known)}.")
                own.setdefault(key, {})[name] = _value(f"signals.{key}.{name}", v)
        elif key in shared_names:
            shared[key] = _value(f"signals.{key}", value)
        else:
            choices = list(_SPECIAL_KEYS) + list(BY_ID) + shared_names
            raise ConfigError(f"[signals] has no setting {key!r}.{did_you_mean(key, choices)} "
                              f"Settings: {', '.join(choices)}.")
    for key, value in lists.items():
        if value is not None:
            items = [value] if isinstance(value, str) else list(value)
            shared[key] = ",".join(str(x) for x in items)
    if pin is not None:
        shared["pin_versions"] = pin
    shared.update(slos)
    if config.tiers:
        shared["tier_models"] = ",".join(f"{tier}={model}" for tier, model in config.tiers.items())
    shared.update(route_params(config))

    chosen = [d for d in DETECTORS if d.id not in disable]
    params = {}
    for d in chosen:
        p = {k: v for k, v in shared.items() if k in headers[d.id]}
        p.update(own.get(d.id, {}))
        params[d.id] = p
    return chosen, params


def _pin_versions(value: Any) -> str | None:
    """`pin_versions = true` (every feature), a list of features, or false: '*', 'a,b' or None."""
    if value is None or value is False:
        return None
    if value is True:
        return "*"
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and value and all(isinstance(x, str) and x.strip() for x in value):
        return ",".join(x.strip() for x in value)
    raise ConfigError(f"[signals] pin_versions: expected true, false or a list of features, got {value!r} "
                      '(e.g. pin_versions = true, or pin_versions = ["chat-assistant", "sql-assist"])')


def _value(where: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, list)):
        raise ConfigError(f"{where}: expected a number or a string, got {value!r}")
    if isinstance(value, list):
        return ",".join(str(x) for x in value)
    return value


# The inputs queries/signals/route_drift.sql computes from the logs' columns (the rest: `costlab route check`)
ROUTE_SQL_INPUTS = ("log_prompt_tokens", "tool_use", "web_search")


def route_params(config: Config) -> dict[str, Any]:
    """`[routing] policy` as the route_drift detector's parameters: the file's name and its reference
    distributions (the inputs the logs carry, and the one-hot feature names) as JSON; none without it.

    Raises:
        ConfigError: the file cannot be read or is not a routing policy.
    """
    path = routing_policy(config)
    if path is None:
        return {}
    try:
        policy = json.loads(Path(path).read_text(encoding="utf-8"))
        Router(policy)
    except OSError as ex:
        raise ConfigError(f"[routing] policy: cannot read {str(path)!r}: {ex.strerror}") from None
    except (ValueError, KeyError, TypeError, PolicyFileError) as ex:
        raise ConfigError(f"[routing] policy {str(path)!r} is not a costlab routing policy "
                          f"({' or '.join(FORMATS)}): {ex}") from None
    ref = policy.get("reference") or {}
    rows: list[dict[str, Any]] = []
    try:
        for r in ref.get("inputs", []):
            if r.get("input") in ROUTE_SQL_INPUTS:
                rows += _bins(r["input"], [float(e) for e in r["edges"]], r["shares"])
        feature = ref.get("feature") or {}
        if len(feature.get("values", [])) > 1:
            rows += _bins("feature", [], feature["shares"], [str(v) for v in feature["values"]])
    except (ValueError, KeyError, TypeError) as ex:
        raise ConfigError(f"[routing] policy {str(path)!r}: its reference distributions are malformed: {ex}") from None
    return {"route_policy": Path(path).name, "route_reference": json.dumps(rows),
            "route_reference_n": int(ref.get("requests", 0))}


def _bins(name: str, edges: list[float], shares: list[Any], values: list[str] | None = None) -> list[dict[str, Any]]:
    """One reference input as route_drift.sql reads it, one object a bin k (a flat list, so the SQL needs
    no list functions and runs on Spark too): its share; for a numeric input the edges around it (lo:
    the edge a value reaches to be in bin k or above, hi: the next; None past the ends) and whether it
    is a yes/no input (edges [0.5]); for the features its name, and the name a request's feature is
    matched on (the first of each name, all but the last bin: "(other)" takes the rest)."""
    n = len(values) if values is not None else len(edges) + 1
    if len(shares) != n:
        raise ValueError(f"input {name!r} has {len(shares)} shares for {n} bins")
    out = []
    for k, share in enumerate(shares):
        row: dict[str, Any] = {"input": name, "k": k, "share": float(share), "is_last": k == n - 1}
        if values is None:
            row.update(lo=edges[k - 1] if k >= 1 else None, hi=edges[k] if k < len(edges) else None,
                       is_flag=edges == [0.5])
        else:
            row.update(name=values[k], match_name=values[k] if k < n - 1 and values[k] not in values[:k] else None)
        out.append(row)
    return out
