"""A policy fitted on generated logs with replay judgements on three tiers (no prompt text: the
features the what-if pass carries), then applied by `whatif --policy learned` to the same window."""

from __future__ import annotations

import numpy as np
import pytest

from costlab.generate import generate_sql
from costlab.whatif import Scenario, Split, evaluate, reduce
from costlab.whatif.learned import learned_assignment
from costlab.whatif.routefit import FitOptions, fit

from helpers import REPLAY_DDL, TIERS


@pytest.fixture
def judged_logs(store):
    store.execute("insert into requests by name " + generate_sql(3000, seed=5))
    if not store.has_table("judgements"):
        store.execute_script(REPLAY_DDL)
    # haiku suffices on half the features, sonnet on most requests, opus on all but a few
    store.execute(
        """insert into judgements (run, source, request_id, tier, judge, score, good)
           select 'r1', source, request_id, t.tier, 'rubric', null,
                  case t.tier when 'haiku' then hash(feature) % 2 = 0 and hash(request_id) % 10 < 8
                              when 'sonnet' then hash(request_id) % 10 < 8 else hash(request_id) % 20 <> 0 end
           from requests cross join (values ('haiku'), ('sonnet'), ('opus')) t(tier)""")
    return store


def test_a_policy_fitted_on_judged_logs_routes_by_feature_and_whatif_applies_it(judged_logs):
    red = reduce(judged_logs, tiers=TIERS)
    assert red.texts is None and np.isfinite(red.good).all()
    policy, ev = fit(red, FitOptions(folds=3, resamples=10), source="logs", models=dict(zip(red.tiers, red.models)))
    assert policy["tiers"] == list(red.tiers) and len(policy["classifiers"]) == 2
    assert policy["features"]["vocab"] == []  # no text on logs yet (docs/routing.md, Status)
    # the cheapest tier's model learns which features it suffices on: its out-of-fold probability
    # separates them, and the policy sends the others up
    A = learned_assignment(red, policy)
    names = np.array(red.features)[red.feature]
    p0 = ev.oof[:, 0]
    good_feature = np.isin(names, [f for f in red.features if np.nanmean(red.good[names == f, 0]) > 0.5])
    assert p0[good_feature].mean() > p0[~good_feature].mean() + 0.3
    res = evaluate(red, Scenario(Split(), policy="learned", learned=policy))
    assert res.tier_share == pytest.approx({t: float((A == i).mean()) for i, t in enumerate(red.tiers)})
    assert res.quality is not None and res.cost_nusd > 0
    assert ev.difference["resamples"] == 10
