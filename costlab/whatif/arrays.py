"""The what-if arrays: a window reduced to per-request arrays (`Reduction`), the per-day totals
every proportional scenario combines, and the mean quality per tier.

The bottom of costlab.whatif: `reduce` fills a Reduction from the store (or `routellm` from judged
outcomes); policies, scenarios, the frontier and the backtest only read one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costlab.config import Config
from costlab.errors import ConfigError, did_you_mean

# Where a request's output tokens on a tier come from (Reduction.out_src codes): "own" it ran on that
# tier's model (logged); "replay" the same request replayed on that tier (paired evidence); "observed"
# the ratio of mean output between that tier's model and its own in traffic of the same source,
# feature and customer (an opt-in sensitivity, confounded by routing); "same" as logged (the same
# answer; only re-tokenized between tokenizer generations, like the input).
OUT_SOURCES = ("own", "replay", "observed", "same")
# --output-tokens: which of those rules may move output tokens off the logged count
OUTPUT_TOKEN_MODES = ("same", "replay", "observed")
Q_SOURCES = ("none", "judged", "feedback")


@dataclass(frozen=True)
class ReduceOptions:
    """Modelling knobs ([whatif] in costlab.toml, or flags)."""

    tokenizer_factor: float = 1.3  # Claude 4.7+ produce ~30% more tokens for the same text
    warmup_minutes: float = 60.0  # per feature, cache reads in the first minutes on another model are writes
    min_ratio_requests: int = 20  # ok requests per (source, feature, customer, model) before an observed ratio is used
    # output tokens on a tier a request did not run on: "replay" (default) the request's own replay on
    # that tier where there is one, else as logged; "same" always as logged; "observed" also a ratio
    # observed in traffic of the same source, feature and customer (a labelled sensitivity)
    output_tokens: str = "replay"

    def __post_init__(self) -> None:
        if self.output_tokens not in OUTPUT_TOKEN_MODES:
            raise ConfigError(f"output tokens {self.output_tokens!r}: choose {', '.join(OUTPUT_TOKEN_MODES)}."
                              f"{did_you_mean(str(self.output_tokens), OUTPUT_TOKEN_MODES)}")

    @classmethod
    def from_config(cls, config: Config | None, **overrides) -> "ReduceOptions":
        """[whatif] in costlab.toml, then `overrides` (flags; None keeps the file's value)."""
        data = dict(getattr(config, "whatif", {}) or {}) if config is not None else {}
        where = f"{config.path} [whatif]" if getattr(config, "path", None) else "costlab.toml [whatif]"
        knobs = ("tokenizer_factor", "warmup_minutes", "min_ratio_requests", "output_tokens")
        known_keys = (*knobs, "interactive", "complexity_weights", "per_request_max_requests")
        for key in data:
            if key == "default_output_ratio":
                # removed: an assumed ratio moved every request's output tokens without evidence (1 is as logged)
                if data[key] == 1:
                    continue
                raise ConfigError(f"{where}: default_output_ratio is no longer a setting: output tokens stay as "
                                  "logged unless the same request was replayed on the tier (output_tokens = "
                                  '"replay", the default); output_tokens = "observed" is the opt-in sensitivity. '
                                  "Remove the line.")
            if key not in known_keys:
                raise ConfigError(f"{where}: unknown setting {key!r}.{did_you_mean(key, known_keys)} "
                                  f"Known: {', '.join(known_keys)}.")
        known = {f: data[f] for f in knobs if f in data}
        known.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**known)


@dataclass
class Reduction:
    """Per-request arrays for one window. n requests (priced on every tier), T tiers, cheapest first.

    Money is int64 nano-dollars. cost[i, t] is request i's cost on tier t with a warm cache;
    warmup[i, t] the extra while that tier's cache warms up; batch[i, t] its cost through the Batches
    API; cache_read_delta / cache_write_delta the change if every cacheable token were read / written.
    actual[i] is its logged cost, so sum(actual) is the window's actual (priced) cost exactly.

    Sampled logs: weight[i] is the number of requests request i stands for (requests.sample_weight;
    1 where absent). Every money array above is already weighted (`weigh`: the cost of the requests
    it stands for), so their sums are the window's full-scale figures; counts, output tokens and
    quality means are weighted where they are summed (scenario.evaluate, tier_quality). On a complete
    log the weights are all 1 and the arrays are exactly the unweighted ones.
    """

    tiers: tuple[str, ...]
    models: tuple[str, ...]
    cost: np.ndarray
    warmup: np.ndarray
    batch: np.ndarray
    cache_read_delta: np.ndarray
    cache_write_delta: np.ndarray
    out_src: np.ndarray  # int8 [n, T], index into OUT_SOURCES
    quality: np.ndarray  # float64 [n, T], NaN unknown
    q_src: np.ndarray  # int8 [n, T], index into Q_SOURCES
    good: np.ndarray  # float64 [n, T]: 1 good, 0 not, NaN unknown
    actual: np.ndarray  # int64 [n]
    own: np.ndarray  # int16 [n]: tier index whose model the request ran on, -1 none
    current: np.ndarray  # int16 [n]: tier index of the request's tier line, -1 not a configured tier
    day: np.ndarray  # int32 [n], index into days
    days: tuple[Any, ...]
    feature: np.ndarray  # int32 [n], index into features
    features: tuple[str, ...]
    prompt_tokens: np.ndarray
    web_search: np.ndarray
    tool_use: np.ndarray
    batch_now: np.ndarray  # bool: ran on the Batches API
    documents: np.ndarray
    conditional: np.ndarray
    multistep: np.ndarray
    # the logged output tokens per request, and the part of cost / batch that output tokens moved off
    # the logged count by paired replays or observed ratios (--output-tokens): cost - out_adjust is the
    # same-token cost. None: nothing moved (every request's output as logged on every tier)
    output_tokens: np.ndarray | None = None  # int64 [n]
    out_adjust: np.ndarray | None = None  # int64 [n, T]
    batch_out_adjust: np.ndarray | None = None  # int64 [n, T]
    unpriced: int = 0  # requests with no price in force: not simulated, cost unknown (never $0)
    unpriced_on_tier: dict[str, int] = field(default_factory=dict)  # priced requests with no price on a tier
    tier_notes: tuple[str, ...] = ()  # how costlab chose each tier's model (reduce.resolve_tiers)
    excluded_actual: int = 0  # actual nano-dollars of requests left out because a tier could not price them
    options: ReduceOptions = field(default_factory=ReduceOptions)
    window: tuple[Any, Any] = (None, None)
    weight: np.ndarray | None = None  # float64 [n]: requests each stands for (sample_weight), 1 where absent
    # object [n]: the prompt text per request where the source has it (imported eval sets; logs when
    # reduce(route_texts=True) read stored bodies: the messages' text parts, costlab.routing.request_text),
    # for the learned policy's wording and embedding features (costlab.whatif.learned); else None
    texts: np.ndarray | None = None
    # the learned policy's request features from stored bodies (reduce(route_features=True) on a store with
    # payloads; None otherwise; 0 / false / -1 for a request without a stored body): costlab.routing's
    # user turns, image blocks, tools offered, structured-output request, and the system prompt's
    # identity (system[i] indexes systems, the sha256 prefixes; -1 none)
    user_turns: np.ndarray | None = None  # int32 [n]
    images: np.ndarray | None = None  # int32 [n]
    tools_offered: np.ndarray | None = None  # bool [n]
    structured: np.ndarray | None = None  # bool [n]
    system: np.ndarray | None = None  # int32 [n]
    # the wording cues on the prompt text with the runtime's expressions (conditional / multistep above
    # are the complexity policy's, read from the whole body)
    cue_conditional: np.ndarray | None = None  # bool [n]
    cue_multistep: np.ndarray | None = None  # bool [n]
    systems: tuple[str, ...] = ()
    memo: dict[str, Any] = field(default_factory=dict, repr=False)  # per-day totals (and tier quality), filled once

    def __post_init__(self) -> None:
        if self.weight is None:
            self.weight = np.ones(self.n)

    @property
    def weighted(self) -> bool:
        """Some request stands for other than one request (a sampled log)."""
        return bool(self.n) and bool((self.weight != 1).any())

    @property
    def requests(self) -> float:
        """The requests the window stands for (sum of weights; n on a complete log)."""
        return float(self.weight.sum()) if self.weighted else float(self.n)

    def day_totals(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(exact int64 totals per tier [T], float per-day totals [D, T]) of one [n, T] money array:
        the per-day arrays every proportional scenario is a weighted sum of. Computed once."""
        if name not in self.memo:
            m = getattr(self, name)
            D, T = len(self.days), len(self.tiers)
            if m is None:  # an adjustment that is zero everywhere
                self.memo[name] = (np.zeros(T, dtype=np.int64), np.zeros((D, T)))
                return self.memo[name]
            per_day = np.zeros((D, T))
            for t in range(T):
                if self.n:
                    per_day[:, t] = np.bincount(self.day, weights=m[:, t], minlength=D)
            self.memo[name] = (m.sum(axis=0), per_day)
        return self.memo[name]

    def precompute(self) -> "Reduction":
        """Fill the per-day totals and the tier quality (part of the one pass, so scenarios only combine them)."""
        for name in ("cost", "warmup", "cache_read_delta", "cache_write_delta", "out_adjust"):
            self.day_totals(name)
        tier_quality(self)
        return self

    @property
    def output_mode(self) -> str:
        return self.options.output_tokens

    @property
    def cost_same(self) -> np.ndarray:
        """[n, T] cost with output tokens as logged on every tier (the same-token figure)."""
        return self.cost if self.out_adjust is None else self.cost - self.out_adjust

    @property
    def n(self) -> int:
        return int(self.actual.shape[0])

    def subset(self, mask: np.ndarray) -> "Reduction":
        """The same arrays restricted to requests where mask is true (days and features kept)."""
        kw = {}
        for name, value in self.__dict__.items():
            if isinstance(value, np.ndarray) and value.shape[:1] == (self.n,):
                kw[name] = value[mask]
            else:
                kw[name] = value
        kw["memo"] = {}
        return Reduction(**kw)

    def quality_known(self) -> bool:
        return bool(np.isfinite(self.quality).any())


def tier_quality(reduction: Reduction) -> np.ndarray | None:
    """Mean quality per tier over the requests whose quality is known on every tier (else per-tier means)."""
    if "tier_quality" not in reduction.memo:
        fin = np.isfinite(reduction.quality)
        if not fin.any():
            reduction.memo["tier_quality"] = None
        else:
            both = fin.all(axis=1)
            use = np.broadcast_to(both[:, None], fin.shape) if both.any() else fin
            w = reduction.weight[:, None]  # each judged request stands for its weight's requests
            sums = np.where(use, reduction.quality * w, 0.0).sum(axis=0)
            counts = np.where(use, w, 0.0).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                reduction.memo["tier_quality"] = np.where(counts > 0, sums / counts, np.nan)
    return reduction.memo["tier_quality"]


MICRO = 1_000_000  # sample_weight is DECIMAL(38,6): carried exactly as an integer number of millionths


def weigh(m: np.ndarray, w_micro: np.ndarray) -> np.ndarray:
    """int64 nano-dollars per request [n] or [n, T] times each request's weight (w_micro: millionths).

    Exact for whole weights (1, 1000: integer times integer). A fractional weight's product is
    rounded half up to the nano-dollar per request, floor(x + 1/2) as costlab.money.round_half_up
    does: m * whole + round_half_up(m * millionths / 10**6), in integers (no float touches money)."""
    q, r = np.divmod(w_micro.astype(np.int64), MICRO)
    if m.ndim == 2:
        q, r = q[:, None], r[:, None]
    out = m * q
    if r.any():
        out += (m * r + MICRO // 2) // MICRO
    return out
