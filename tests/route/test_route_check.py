"""`route check` and the route_drift signal on generated logs: a policy fitted on the first week of
traffic, checked on the second, where the task mix shifts (the task-mix-shift pattern) or does not."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import polars as pl
import pytest

from costlab.config import Config
from costlab.generate import generate_sql
from costlab.routing import Router
from costlab.signals import run_signals
from costlab.whatif import reduce
from costlab.whatif.routecheck import check, psi
from costlab.whatif.routefit import FitOptions, fit

from helpers import REPLAY_DDL, TIERS, copy_store

WEEK1 = (datetime(2026, 11, 2, tzinfo=timezone.utc), datetime(2026, 11, 9, tzinfo=timezone.utc))
WEEK2 = (datetime(2026, 11, 9, tzinfo=timezone.utc), datetime(2026, 11, 16, tzinfo=timezone.utc))
JUDGE = """insert into judgements (run, source, request_id, tier, judge, score, good)
           select 'r1', source, request_id, t.tier, 'rubric', null,
                  case t.tier when 'haiku' then {haiku} and hash(request_id) % 10 < 8
                              when 'sonnet' then hash(request_id) % 10 < 8 else hash(request_id) % 20 <> 0 end
           from requests cross join (values ('haiku'), ('sonnet'), ('opus')) t(tier) where {where}"""
# haiku suffices on half the features
HAIKU_OK = "hash(feature) % 2 = 0"


def _logs(store, patterns=(), week2_haiku=HAIKU_OK):
    store.execute("insert into requests by name " + generate_sql(6000, seed=11, patterns=list(patterns)))
    store.execute_script(REPLAY_DDL)
    store.execute(JUDGE.format(haiku=HAIKU_OK, where="ts < TIMESTAMPTZ '2026-11-09 00:00:00+00'"))
    store.execute(JUDGE.format(haiku=week2_haiku, where="ts >= TIMESTAMPTZ '2026-11-09 00:00:00+00'"))
    return store


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory, store_template):
    """One policy fitted on the first week (the same in every store below: the first weeks are equal)."""
    path = tmp_path_factory.mktemp("policy")
    with copy_store(store_template, path / "fit.duckdb") as store:
        _logs(store)
        red = reduce(store, since=WEEK1[0], until=WEEK1[1], tiers=TIERS)
        policy, _ = fit(red, FitOptions(folds=3, resamples=10), source="logs", models=dict(zip(red.tiers, red.models)),
                        window=WEEK1)
    (path / "policy.json").write_text(json.dumps(policy), encoding="utf-8")
    return path / "policy.json"


def _week2(store):
    return reduce(store, since=WEEK2[0], until=WEEK2[1], tiers=TIERS)


def test_the_policy_file_carries_its_fit_windows_reference_distributions(policy_file):
    policy = json.loads(policy_file.read_text())
    assert policy["format"] == "costlab.route/2"
    ref = policy["reference"]
    assert ref["requests"] > 2000
    for item in ref["inputs"]:
        assert sum(item["shares"]) == pytest.approx(1) and len(item["shares"]) == len(item["edges"]) + 1
    tokens = next(r for r in ref["inputs"] if r["input"] == "log_prompt_tokens")
    assert len(tokens["edges"]) >= 8  # deciles
    assert ref["feature"]["values"][-1] == "(other)" and len(ref["feature"]["values"]) > 5
    assert sum(ref["tiers"]["shares"]) == pytest.approx(1) and ref["tiers"]["names"] == ["haiku", "sonnet", "opus"]
    Router(policy)  # the runtime reads /2 ...


def test_an_old_policy_file_without_a_reference_still_loads_and_routes():
    from pathlib import Path

    old = Router.load(Path(__file__).parents[1] / "fixtures" / "route_policy.json")
    assert old.policy["format"] == "costlab.route/1" and old.tier({"prompt": "What is 2+2?"}) in old.tiers


def test_check_is_silent_where_the_task_mix_does_not_shift(store, policy_file):
    policy = json.loads(policy_file.read_text())
    result = check(policy, _week2(_logs(store)))
    assert result.verdict == "ok", result.frame
    inputs = result.frame.filter(pl.col("check") == "input")
    assert set(inputs["input"]) >= {"log_prompt_tokens", "feature", "tool_use"}
    assert inputs["value"].max() < 0.1
    passes = result.frame.filter(pl.col("check") == "pass rate")
    assert len(passes) >= 2 and (passes["status"] == "ok").all() and (passes["n"] > 100).all()
    assert ((passes["judged_low"] <= passes["judged"]) & (passes["judged"] <= passes["judged_high"])).all()


def test_check_says_refit_where_the_task_mix_shifts(store, policy_file):
    policy = json.loads(policy_file.read_text())
    result = check(policy, _week2(_logs(store, patterns=["task-mix-shift"])))
    assert result.verdict == "refit"
    feature = result.frame.filter(pl.col("input") == "feature").row(0, named=True)
    assert feature["status"] == "refit" and feature["value"] >= 0.25
    assert "doc-summarize" in feature["detail"] or "code-review" in feature["detail"]
    assert any("feature moved" in r for r in result.reasons)


def test_check_says_refit_when_the_judges_pass_less_than_predicted(store, policy_file):
    policy = json.loads(policy_file.read_text())
    result = check(policy, _week2(_logs(store, week2_haiku="false")))  # haiku now fails everywhere
    row = result.frame.filter(pl.col("input") == "haiku (routed here)").row(0, named=True)
    assert row["status"] == "refit" and row["judged"] == 0 and row["predicted"] > 0.5
    assert result.verdict == "refit"


def test_check_says_refit_when_tiers_map_other_models(store, policy_file):
    policy = json.loads(policy_file.read_text())
    result = check(policy, _week2(_logs(store)), models={**TIERS, "haiku": "claude-haiku-6"})
    assert result.verdict == "refit" and "claude-haiku-6" in " ".join(result.reasons)


def _signals(store, policy_file, **route_drift):
    config = Config(tiers=TIERS, routing={"policy": str(policy_file)},
                    signals={"route_drift": route_drift} if route_drift else {})
    return run_signals(store, since="14d", config=config, only=["route_drift"])


def test_the_route_drift_signal_fires_where_the_task_mix_shifts_and_is_silent_where_it_does_not(
        store, new_store, tmp_path, policy_file):
    assert _signals(_logs(store), policy_file).is_empty()
    with new_store(tmp_path / "shift.duckdb") as shifted:
        found = _signals(_logs(shifted, patterns=["task-mix-shift"]), policy_file)
    assert "policy=policy.json input=feature" in found["segment"].to_list()
    row = found.filter(pl.col("segment").str.ends_with("input=feature")).row(0, named=True)
    assert row["severity"] in ("medium", "high") and row["observed"] >= 0.25 and row["requests"] > 2000
    assert "doc-summarize" in row["evidence"] and "route check" in row["suggestion"]


def test_the_signal_is_not_run_without_a_configured_policy(store):
    _logs(store, patterns=["task-mix-shift"])
    assert run_signals(store, since="14d", config=Config(tiers=TIERS)).filter(pl.col("signal") == "route_drift").is_empty()


def test_the_signals_psi_is_route_checks_psi_for_the_inputs_the_logs_carry(store, policy_file):
    _logs(store, patterns=["task-mix-shift"])
    sql = _signals(store, policy_file, psi_refit=0.0)  # every input, not only those past the threshold
    mine = check(json.loads(policy_file.read_text()), _week2(store)).frame
    by_input = dict(zip(mine["input"], mine["value"]))
    got = {s.rsplit("input=", 1)[1]: v for s, v in zip(sql["segment"], sql["observed"])}
    assert set(got) == {"log_prompt_tokens", "tool_use", "web_search", "feature"}
    for name, value in got.items():
        assert value == pytest.approx(by_input[name], abs=1e-9), name


def test_a_configured_policy_file_that_is_missing_is_a_config_error(store, tmp_path):
    from costlab.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot read"):
        run_signals(store, config=Config(routing={"policy": str(tmp_path / "nope.json")}))


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift():
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0
    assert 0 < psi(np.array([0.55, 0.45]), np.array([0.5, 0.5])) < psi(np.array([0.8, 0.2]), np.array([0.5, 0.5]))


def _cli(store_path, policy_file, tmp_path, *args):
    from typer.testing import CliRunner

    from costlab.cli.route import register

    from helpers import one_command_app

    cfg = tmp_path / "costlab.toml"
    cfg.write_text("[tiers]\n" + "".join(f'{t} = "{m}"\n' for t, m in TIERS.items()), encoding="utf-8")
    return CliRunner().invoke(one_command_app(register), ["route", "check", str(policy_file), "--db", str(store_path),
                                                          "--config", str(cfg), *args])


def test_route_check_reads_the_traffic_since_the_fit_and_exits_5_on_refit_with_fail_on(new_store, tmp_path, policy_file):
    path = tmp_path / "shift.duckdb"
    with new_store(path) as s:
        _logs(s, patterns=["task-mix-shift"])
    res = _cli(path, policy_file, tmp_path, "--format", "json")
    assert res.exit_code == 0, res.output
    assert "since the policy's fit window ended (2026-11-09)" in res.stderr and "note: refit: feature moved" in res.stderr
    rows = json.loads(res.stdout)
    assert {r["check"] for r in rows} == {"input", "tier share", "pass rate"}
    assert next(r for r in rows if r["input"] == "feature")["status"] == "refit"
    res = _cli(path, policy_file, tmp_path, "--fail-on", "refit", "--format", "csv")
    assert res.exit_code == 5 and "exit 5: verdict refit" in res.stderr


def test_route_check_exits_0_with_fail_on_where_nothing_moved(new_store, tmp_path, policy_file):
    path = tmp_path / "stable.duckdb"
    with new_store(path) as s:
        _logs(s)
    res = _cli(path, policy_file, tmp_path, "--fail-on", "watch", "--since", "2026-11-09")
    assert res.exit_code == 0, res.output
    assert "note: ok: no input moved" in res.stderr


def test_route_check_refuses_an_unknown_fail_on_level(tmp_path, policy_file):
    res = _cli(tmp_path / "none.duckdb", policy_file, tmp_path, "--fail-on", "high")
    assert res.exit_code == 2 and "watch or refit" in res.output


@pytest.mark.parametrize("toml, message", [
    ('routing = "policy.json"', "routing must be a table"),
    ('[routing]\npolicies = "policy.json"', "unknown setting 'policies'"),
    ("[routing]\npolicy = 3", "expected the path of a policy file"),
    ('[routing]\npolicy = ""', "expected the path of a policy file"),
])
def test_the_routing_section_of_costlab_toml_is_checked(tmp_path, toml, message):
    from costlab.config import load_config
    from costlab.errors import ConfigError

    path = tmp_path / "costlab.toml"
    path.write_text(toml + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_relative_routing_policy_is_relative_to_costlab_toml(tmp_path):
    from costlab.config import load_config, routing_policy

    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "costlab.toml"
    path.write_text('[routing]\npolicy = "policies/p.json"\n', encoding="utf-8")
    assert routing_policy(load_config(path)) == tmp_path / "conf" / "policies" / "p.json"
    assert routing_policy(Config()) is None
