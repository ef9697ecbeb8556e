"""Replay runs: create one (sample stored with it), resolve tiers to models, estimate its cost."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import polars as pl

from costlab.errors import ConfigError, CostlabError, did_you_mean
from costlab.replay.judge import MAX_TOKENS, PAIRWISE_CHARS, RUBRIC_CHARS, set_rubrics
from costlab.replay.providers import PROVIDERS, platform_of
from costlab.store import queries
from costlab.store.sqlquote import expression

if TYPE_CHECKING:
    from costlab.store import Store

STRATA = ("feature", "tier", "model", "customer_id", "platform")


class BudgetError(CostlabError):
    "A replay would cost more than --max-usd allows."


@dataclass
class ReplaySpec:
    """What to replay: the options of `costlab replay`, as the library takes them."""

    sample: int = 100
    tiers: list[str] = field(default_factory=lambda: ["haiku", "sonnet", "opus"])
    since: datetime | None = None
    until: datetime | None = None
    filter: str | None = None
    stratify: list[str] = field(default_factory=lambda: ["feature", "tier"])
    seed: int = 0
    judge: str | None = None
    max_usd: Decimal | None = None
    concurrency: int = 8
    batch: bool = False
    run: str | None = None
    base_url: str | None = None  # where it will be sent (--base-url): a test server marks the run 'test'


# The platforms' own API hosts: a run sent anywhere else (the costlab test server, a local mock, a
# gateway) is marked 'test' and feeds no production figure until `costlab replay include RUN`.
PRODUCTION_HOSTS = {"anthropic": ("api.anthropic.com",), "bedrock": (".amazonaws.com",),
                    "vertex": ("googleapis.com",)}


def api_url(settings: dict[str, Any], base_url: str | None = None) -> str | None:
    """The base URL calls go to: --base-url, else [replay] base_url, else ANTHROPIC_BASE_URL (the SDK's
    own default, Claude API only); None is the platform's own API."""
    url = base_url or settings.get("base_url")
    if not url and platform_of(settings) == "anthropic":
        url = os.environ.get("ANTHROPIC_BASE_URL")
    return str(url) if url else None


def is_production_url(url: str | None, platform: str = "anthropic") -> bool:
    """True for the platform's own API (no base URL, or its host); False for anything else."""
    if not url:
        return True
    host = (urlparse(url if "//" in url else "//" + url).hostname or "").lower()
    return any(host.endswith(h) if h.startswith(".") else host == h or host.endswith("." + h)
               for h in PRODUCTION_HOSTS.get(platform, ()))


def mark_evidence(store: "Store", run: str, evidence: str, base_url: str | None = None, reason: str | None = None) -> None:
    """What the run's answers feed: 'production', 'test' (sent to a test server) or 'excluded'."""
    assert evidence in ("production", "test", "excluded"), evidence
    with store.transaction():
        store.execute("delete from replay_run_evidence where run = ?", [run])
        store.execute("insert into replay_run_evidence values (?, ?, ?, ?, ?)",
                      [run, evidence, base_url, reason, datetime.now(timezone.utc)])


def mark_if_test(store: "Store", run: str, url: str | None, platform: str) -> bool:
    """Mark the run 'test' when its calls go to `url` and that is not the platform's own API (an
    excluded run stays excluded, one included by hand stays included). True when it is a test run."""
    if is_production_url(url, platform):
        return False
    if store.scalar("select evidence from replay_run_evidence where run = ?", [run]) in (None, "test"):
        mark_evidence(store, run, "test", url, f"sent to {url}, not the {platform} API: test answers, no production evidence")
    return True


def prepare(store: "Store") -> None:
    """Create the replay macros (temporary: a read-only store can run them too)."""
    store.execute_script(queries.load("replay/macros").text)


def tier_models(store: "Store", tiers: list[str]) -> dict[str, str]:
    """Each tier's model: costlab.toml [tiers], else the newest active catalogue model of that tier."""
    out = {}
    known = [r[0] for r in store.rows("select distinct tier from models where tier is not null order by 1")]
    for tier in tiers:
        model = store.config.tiers.get(tier)
        if model is None:
            model = store.scalar(
                "select model from models where tier = ? and lifecycle = 'active' order by released desc nulls last, model limit 1",
                [tier])
        if model is None:
            raise ConfigError(f"no model for tier {tier!r}.{did_you_mean(tier, known)} Set it in costlab.toml [tiers] "
                              f"(known tiers: {', '.join(known)}).")
        out[tier] = str(model)
    return out


def platform_models(store: "Store", configured: dict[str, str], settings: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Per tier: the catalogue model it is priced as, the model id sent on the configured platform, and
    the price card's geo class (Bedrock: a global. profile is global, any other id a regional endpoint;
    Vertex: region 'global' is global, a region or multi-region is regional; both +10% where the
    model has the regional premium).

    [tiers] may name a platform id (global.anthropic.claude-..., anthropic.claude-...-v1:0,
    claude-...@20251001); a plain catalogue id is sent as global.anthropic.ID on Bedrock (current
    models are offered through cross-Region profiles; [replay] bedrock_profile = "us", "eu", ... or
    "" picks another) and as is on Vertex.
    """
    provider = PROVIDERS[platform_of(settings)]
    out = {}
    for tier, given in configured.items():
        model = str(store.scalar("select costlab_model(?)", [given]))
        plain = bool(store.scalar("select costlab_clean_model(?) = lower(trim(?))", [given, given]))
        sent, geo = provider.model_id(given, model, plain, settings)  # providers.py: each platform's ids
        out[tier] = {"model": model, "model_id": sent, "geo_class": geo}
    return out


def set_tiers(store: "Store", mapping: dict[str, str], ids: dict[str, str] | None = None, platform: str = "anthropic",
              geo: dict[str, str] | None = None) -> None:
    """The run's tiers for the queries: model (priced as), model_id (sent), platform and geo class."""
    store.execute("create or replace temp table _replay_tiers (tier VARCHAR, model VARCHAR, model_id VARCHAR, "
                  "platform VARCHAR, geo_class VARCHAR)")
    for tier, model in mapping.items():
        store.execute("insert into _replay_tiers values (?, ?, ?, ?, ?)",
                      [tier, model, (ids or {}).get(tier, model), platform, (geo or {}).get(tier, "global")])


def set_run_tiers(store: "Store", params: dict[str, Any]) -> None:
    """set_tiers from a run's params (runs created before platforms were recorded are Claude API runs)."""
    set_tiers(store, params["models"], params.get("model_ids"), params.get("platform", "anthropic"), params.get("geo"))


def qualifying(store: "Store", spec: ReplaySpec) -> int:
    """How many requests could be replayed (a logged request body, inside the window and filter)."""
    _candidates(store, spec)
    return int(store.scalar("select count(*) from _replay_candidates"))


def _candidates(store: "Store", spec: ReplaySpec) -> None:
    bad = [s for s in spec.stratify if s not in STRATA]
    if bad:
        raise ConfigError(f"--stratify {bad[0]!r}: not a stratum.{did_you_mean(bad[0], STRATA)} Choose from {', '.join(STRATA)}.")
    parts = ", ".join(f"coalesce({s}::VARCHAR, '(none)')" for s in spec.stratify) or "'all'"
    # The user's --filter is SQL over costed_requests, like `costlab sql`: their own store, their own query.
    where = f"and {expression(spec.filter, '--filter (one SQL condition over costed_requests)')}" if spec.filter else ""
    store.execute(
        f"""create or replace temp table _replay_candidates as
            select r.source, r.request_id, concat_ws('/', {parts}) as stratum
            from costed_requests r
            where exists (select 1 from payloads p where p.source = r.source and p.request_id = r.request_id
                          and p.request_json is not null)
              and r.ts >= coalesce(?::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ)
              and r.ts < coalesce(?::TIMESTAMPTZ, 'infinity'::TIMESTAMPTZ) {where}""",
        [spec.since, spec.until],
    )


def create_run(store: "Store", spec: ReplaySpec) -> str:
    """Draw and store the sample; return the run name. An existing run name is an error (use resume)."""
    name = spec.run or "replay-" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    if store.scalar("select count(*) from replay_runs where run = ?", [name]):
        raise ConfigError(f"run {name!r} exists already: `costlab replay resume {name}` continues it, or pick another --run")
    settings = store.config.replay
    platform = platform_of(settings)
    if spec.batch and platform != "anthropic":
        raise ConfigError(f"--batch: Message Batches are a Claude API feature; the anthropic SDK's {platform} client "
                          f"has no batch surface ([replay] provider = {platform!r}). Replay without --batch, or through "
                          "the Claude API (provider = \"anthropic\").")
    resolved = platform_models(store, tier_models(store, list(dict.fromkeys(spec.tiers + ([spec.judge] if spec.judge else [])))),
                               settings)
    _candidates(store, spec)
    params = {k: (str(v) if isinstance(v, (datetime, Decimal)) else v) for k, v in asdict(spec).items()
              if k != "base_url"}  # where it goes is replay_run_evidence's (a resume may send elsewhere)
    # models: what each tier is priced and judged as; model_ids: what is sent on the platform (judge included).
    params["models"] = {t: resolved[t]["model"] for t in spec.tiers}
    params["model_ids"] = {t: r["model_id"] for t, r in resolved.items()}
    params["geo"] = {t: r["geo_class"] for t, r in resolved.items()}
    params["platform"] = platform
    if platform != "anthropic":
        params["region"] = settings.get("region")
    if spec.judge:
        params["judge_model"] = resolved[spec.judge]["model"]
    sample = store.run_query("replay/sample", n=spec.sample, seed=str(spec.seed))
    url = api_url(settings, spec.base_url)
    with store.transaction():
        store.execute(
            "insert into replay_runs values (?, ?, 'replay', ?, 'planned', ?, ?, ?, ?)",
            [name, datetime.now(timezone.utc), json.dumps(params), spec.tiers, spec.judge, spec.max_usd,
             f"{sample.height} of {qualifying_count(store)} qualifying requests"],
        )
        store.insert_rows("replay_sample", ("run", "source", "request_id", "stratum"),
                          [(name, *row) for row in sample.iter_rows()])
    mark_if_test(store, name, url, platform)
    return name


def mark_dry_run(store: "Store", run: str) -> None:
    """A planned run that was only estimated: kept (with its sample) so status lists it, never sent."""
    store.execute("update replay_runs set status = 'dry-run' where run = ?", [run])


def set_budget(store: "Store", run: str, max_usd: Decimal) -> None:
    """A new budget for the whole run, in its column and in the params a resume reads."""
    store.execute("update replay_runs set max_usd = ?, params = json_merge_patch(params, json_object('max_usd', ?)) "
                  "where run = ?", [max_usd, str(max_usd), run])


def qualifying_count(store: "Store") -> int:
    return int(store.scalar("select count(*) from _replay_candidates"))


def run_params(store: "Store", run: str) -> dict[str, Any]:
    row = store.rows("select params, kind from replay_runs where run = ?", [run])
    if not row:
        names = [r[0] for r in store.rows("select run from replay_runs")]
        raise ConfigError(f"no replay run {run!r}.{did_you_mean(run, names)} `costlab replay status` lists them.")
    params = json.loads(row[0][0]) if row[0][0] else {}
    params["kind"] = row[0][1]
    return params


def estimate(store: "Store", run: str, batch: bool = False) -> pl.DataFrame:
    """Per tier (kind 'replay') and per judge (kind 'judge': pairwise:TIER, rubric:TIER): requests and
    calls still to make, expected prompt tokens, expected and worst-case cost (queries/replay/estimate.sql)."""
    params = run_params(store, run)
    prepare(store)
    set_run_tiers(store, params)
    set_rubrics(store)
    who = params.get("judge")
    extra: dict[str, Any] = {}
    if who:
        extra = dict(judge=who, judge_model=params.get("judge_model") or tier_models(store, [who])[who],
                     judge_platform=params.get("platform", "anthropic"), judge_geo=(params.get("geo") or {}).get(who, "global"),
                     reference_tier=list(params["tiers"])[-1], rubric_judge=bool(store.config.replay.get("rubric_judge")),
                     pairwise_chars=PAIRWISE_CHARS, rubric_chars=RUBRIC_CHARS, judge_max_tokens=MAX_TOKENS)
    return store.run_query("replay/estimate", run=run, service_tier="batch" if batch else "standard", **extra)


def check_budget(est: pl.DataFrame, max_usd: Decimal | None) -> None:
    """Refuse a run whose expected cost (replays and judge calls) is above the budget, or unknown."""
    unpriced = int(est["unpriced"].sum()) if est.height else 0
    if unpriced:
        models = ", ".join(dict.fromkeys(est.filter(pl.col("unpriced") > 0)["model"].to_list()))
        raise BudgetError(f"no price for {models}: the replay's cost is unknown. Add a price in costlab.toml [[prices]].")
    if max_usd is None:
        return
    replay_usd = sum(est.filter(kind="replay")["expected_usd"].to_list(), Decimal(0))
    judge_usd = sum(est.filter(kind="judge")["expected_usd"].to_list(), Decimal(0))
    if replay_usd + judge_usd > max_usd:
        split = f" (replays ${replay_usd:.4f}, judging ${judge_usd:.4f})" if judge_usd else ""
        raise BudgetError(f"the replay is estimated at ${replay_usd + judge_usd:.4f}{split}, above --max-usd {max_usd}: "
                          "sample fewer requests, drop a tier, use --batch (half price), a cheaper --judge or raise --max-usd.")
