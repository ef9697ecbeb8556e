"""RouteLLM evidence (tests/fixtures/routellm_whatif, Apache-2.0, lm-sys/RouteLLM): per-prompt
correctness of a cheap and an expensive model imported as judged outcomes, then routed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from costlab.whatif.routellm import evidence, import_outcomes, random_router_curve, reduce_outcomes
from costlab.whatif import frontier as F

from helpers import FIXTURES, REPLAY_DDL, copy_store

DATA = FIXTURES / "routellm_whatif"


@pytest.fixture(scope="module")
def mmlu(tmp_path_factory, store_template):
    s = copy_store(store_template, tmp_path_factory.mktemp("rl") / "s.duckdb")
    s.execute_script(REPLAY_DDL)
    assert import_outcomes(s, DATA / "mmlu_responses", "mmlu", "haiku", "opus") == 14_042
    assert import_outcomes(s, DATA / "gsm8k_outcomes.csv", "gsm8k", "haiku", "opus") == 1_319
    yield s
    s.close()


def test_imported_outcomes_are_one_judgement_per_prompt_and_tier(mmlu):
    rows = mmlu.rows("select source, tier, count(*), avg(good::INT::DOUBLE) from judgements group by all order by all")
    got = {(s, t): (n, round(a, 3)) for s, t, n, a in rows}
    assert got[("import:mmlu", "haiku")] == (14_042, 0.681)
    assert got[("import:mmlu", "opus")] == (14_042, 0.806)
    assert got[("import:gsm8k", "haiku")][0] == 1_319


def test_a_random_router_has_apgr_one_half(mmlu):
    red = reduce_outcomes(mmlu, "import:mmlu", ("haiku", "opus"))
    for seed in range(3):
        share, qual = random_router_curve(red, seed)
        m = F.metrics(share * red.n, qual, 0.0, float(red.n), float(red.quality[:, 0].mean()),
                      float(red.quality[:, 1].mean()), envelope=False)
        assert abs(m.apgr - 0.5) <= 0.02


def test_the_oracle_reaches_the_better_answer_per_prompt_with_the_fewest_strong_calls(mmlu):
    red = reduce_outcomes(mmlu, "import:mmlu", ("haiku", "opus"))
    ev = evidence(red)
    assert ev["oracle_quality"] == pytest.approx(ev["max_per_prompt_quality"])
    assert round(ev["oracle_strong_share"] * red.n) == 2_497  # the data README's figure
    assert ev["oracle_quality"] > ev["q_strong"]


def test_cpt_and_apgr_follow_the_routellm_definitions(mmlu):
    red = reduce_outcomes(mmlu, "import:gsm8k", ("haiku", "opus"))
    ev = evidence(red)
    # PGR is 0 at the weak model and 1 at the strong one; a router's APGR is between 0 and 1 and CPT(80%) > CPT(50%)
    assert 0 < ev["complexity_apgr"] < 1
    assert ev["complexity_cpt80"] >= ev["complexity_cpt50"]
    fr = F.complexity(red)
    all_weak = int(np.nonzero(fr.splits[:, 0] == 100)[0][0])
    all_strong = int(np.nonzero(fr.splits[:, 1] == 100)[0][0])
    assert fr.quality[all_weak] == pytest.approx(ev["q_weak"]) and fr.quality[all_strong] == pytest.approx(ev["q_strong"])


def test_outcomes_written_by_replay_import_route_the_same_way(tmp_path):
    """The replay issue's `replay import` (costlab.replay.importer) writes the rows this module's
    internal loader stands in for; the what-if reads them the same way."""
    importer = pytest.importorskip("costlab.replay.importer")
    from costlab.config import Config
    from costlab.open import open_store

    s = open_store(tmp_path / "i.duckdb", Config())
    try:
        importer.import_outcomes(s, DATA / "gsm8k_outcomes.csv", "routellm", "gsm8k", {"weak": "haiku", "strong": "opus"})
        red = reduce_outcomes(s, "import:gsm8k", ("haiku", "opus"))
        assert red.n > 1_000
        ev = evidence(red)
        assert ev["oracle_quality"] == pytest.approx(ev["max_per_prompt_quality"])
        assert abs(ev["q_weak"] - 0.638) < 0.01 and abs(ev["q_strong"] - 0.857) < 0.01
    finally:
        s.close()
