"""Replay runs: create one (sample stored with it), resolve tiers to models, estimate its cost."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from costlab import sql
from costlab.errors import ConfigError, CostlabError, did_you_mean

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


def prepare(store: "Store") -> None:
    """Create the replay macros (temporary: a read-only store can run them too)."""
    store.execute_script(sql.load("replay/macros").text)


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


def set_tiers(store: "Store", mapping: dict[str, str]) -> None:
    store.execute("create or replace temp table _replay_tiers (tier VARCHAR, model VARCHAR)")
    for tier, model in mapping.items():
        store.execute("insert into _replay_tiers values (?, ?)", [tier, model])


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
    where = f"and ({spec.filter})" if spec.filter else ""
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
    mapping = tier_models(store, spec.tiers)
    if spec.judge:
        tier_models(store, [spec.judge])
    _candidates(store, spec)
    params = {k: (str(v) if isinstance(v, (datetime, Decimal)) else v) for k, v in asdict(spec).items()}
    params["models"] = mapping
    sample = store.run_query("replay/sample", n=spec.sample, seed=str(spec.seed))
    with store.transaction():
        store.execute(
            "insert into replay_runs values (?, ?, 'replay', ?, 'planned', ?, ?, ?, ?)",
            [name, datetime.now(timezone.utc), json.dumps(params), spec.tiers, spec.judge, spec.max_usd,
             f"{sample.height} of {qualifying_count(store)} qualifying requests"],
        )
        insert_rows(store, "replay_sample", ("run", "source", "request_id", "stratum"),
                    [(name, *row) for row in sample.iter_rows()])
    return name


def insert_rows(store: "Store", table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Multi-row INSERTs of 500 rows (executemany would prepare and run one statement per row)."""
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        marks = "(" + ", ".join("?" for _ in columns) + ")"
        store.execute(f"insert into {table} ({', '.join(columns)}) values {', '.join([marks] * len(chunk))}",
                      [v for row in chunk for v in row])


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
    """Per tier: requests still to send, logged prompt tokens, expected and worst-case cost."""
    params = run_params(store, run)
    prepare(store)
    set_tiers(store, params["models"])
    return store.run_query("replay/estimate", run=run, service_tier="batch" if batch else "standard")


def check_budget(est: pl.DataFrame, max_usd: Decimal | None) -> None:
    """Refuse a run whose expected cost is above the budget, or unknown."""
    unpriced = int(est["unpriced"].sum()) if est.height else 0
    if unpriced:
        models = ", ".join(est.filter(pl.col("unpriced") > 0)["model"].to_list())
        raise BudgetError(f"no price for {models}: the replay's cost is unknown. Add a price in costlab.toml [[prices]].")
    if max_usd is None:
        return
    expected = sum(est["expected_usd"].to_list(), Decimal(0))
    if expected > max_usd:
        raise BudgetError(f"the replay is estimated at ${expected:.4f}, above --max-usd {max_usd}: sample fewer requests, "
                          "drop a tier, use --batch (half price) or raise --max-usd.")
