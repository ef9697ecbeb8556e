"""`replay import`: RouteLLM per-prompt correctness (real data, tests/fixtures/routellm) and long CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from costlab import replay
from costlab.errors import ConfigError, InputError
from costlab.replay.importer import import_outcomes
from helpers import FIXTURES

FIX = FIXTURES / "routellm"
MIXTRAL, GPT4 = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"


def test_routellm_mmlu_folder_loads_as_a_judged_run_with_the_published_correctness(store):
    frame = import_outcomes(store, FIX / "mmlu", "routellm", "mmlu", {"weak": "haiku", "strong": "opus"})
    got = {r["tier"]: (r["model"], r["prompts"], r["good"]) for r in frame.iter_rows(named=True)}
    # Counted in the source files: global_facts 42/57, abstract_algebra 32/46 correct of 100 each.
    assert got == {"haiku": (MIXTRAL, 200, 74), "opus": (GPT4, 200, 103)}
    assert store.rows("select kind, status, tiers from replay_runs where run = 'mmlu'") == [("import", "imported", ["haiku", "opus"])]
    assert store.rows("select distinct source from replays where run = 'mmlu'") == [("import:mmlu",)]
    strata = store.rows("select stratum, count(*) from replay_sample where run = 'mmlu' group by 1 order by 1")
    assert strata == [("abstract_algebra", 100), ("global_facts", 100)]
    assert store.scalar("select count(*) from replays where run = 'mmlu' and cost_usd is not null") == 0


def test_routellm_results_give_pass_rates_per_subject_and_tier(store):
    import_outcomes(store, FIX / "mmlu", "routellm", "mmlu", {MIXTRAL: "haiku", GPT4: "opus"})
    res = replay.results(store, "mmlu")
    rates = {(r["feature"], r["tier"]): r["pass_rate"] for r in res.iter_rows(named=True)}
    assert rates == {("abstract_algebra", "haiku"): 0.32, ("abstract_algebra", "opus"): 0.46,
                     ("global_facts", "haiku"): 0.42, ("global_facts", "opus"): 0.57}
    assert set(res["judge"]) == {"import:correct"}


def test_request_ids_are_stable_across_imports(store):
    import_outcomes(store, FIX / "gsm8k_first40.csv", "routellm", "g1", {"weak": "haiku", "strong": "opus"})
    import_outcomes(store, FIX / "gsm8k_first40.csv", "routellm", "g2", {"weak": "haiku", "strong": "opus"})
    ids = lambda run: store.rows("select request_id from replay_sample where run = ? order by 1", [run])
    assert ids("g1") == ids("g2") and len(ids("g1")) == 40
    # GSM8K carries each model's answer text
    assert store.scalar("select count(*) from replays where run = 'g1' and response_text like '%####%'") > 0
    good = dict(store.rows("select tier, count(*) filter (where good) from judgements where run = 'g1' group by 1"))
    assert good == {"haiku": 20, "opus": 30}


def test_long_csv_with_scores(store, tmp_path):
    f = tmp_path / "scores.csv"
    f.write_text("prompt_id,model,score,stratum\np1,small,0.2,qa\np1,big,0.9,qa\np2,small,0.7,qa\np2,big,1.0,qa\n")
    frame = import_outcomes(store, f, "csv", "sc", {"small": "haiku", "big": "sonnet"})
    assert dict(zip(frame["tier"], frame["good"])) == {"haiku": 1, "sonnet": 2}
    assert store.scalar("select any_value(judge) from judgements where run = 'sc'") == "import:score"


def test_import_refuses_wrong_inputs(store, tmp_path):
    with pytest.raises(ConfigError, match="--map gpt-5: no such model column"):
        import_outcomes(store, FIX / "mmlu", "routellm", "x", {"gpt-5": "opus"})
    with pytest.raises(ConfigError, match="--map is needed"):
        import_outcomes(store, FIX / "mmlu", "routellm", "x", {})
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="no `prompt` column"):
        import_outcomes(store, tmp_path / "other.csv", "routellm", "x", {"weak": "haiku"})
    with pytest.raises(ConfigError, match="use routellm or csv"):
        import_outcomes(store, tmp_path / "other.csv", "json", "x", {})
    import_outcomes(store, FIX / "mmlu", "routellm", "twice", {"weak": "haiku"})
    with pytest.raises(ConfigError, match="exists already"):
        import_outcomes(store, FIX / "mmlu", "routellm", "twice", {"weak": "haiku"})
