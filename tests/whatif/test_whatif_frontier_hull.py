"""The frontier on the convex hull of achievable (cost, quality) points (RouterBench), the grid's
Pareto staircase beside it, and the random router's curve: hand-computed on a 3-tier eval whose
middle tier is dominated (it lies under the chord from the cheapest to the best tier)."""

from __future__ import annotations

import numpy as np
import pytest

from costlab.whatif import frontier as F
from costlab.whatif.routellm import outcomes_reduction


def _three_tiers():
    """10 prompts; $1, $3, $5 a call; right on 5, 6 and 9 of them. Tier totals: ($10, 0.5), ($30, 0.6),
    ($50, 0.9): the chord from haiku to opus is at 0.7 for $30, above sonnet's 0.6."""
    q = np.zeros((10, 3))
    q[:5, 0] = 1
    q[:6, 1] = 1
    q[:9, 2] = 1
    return outcomes_reduction(q, q.copy(), [""] * 10, ["s"] * 10, ("haiku", "sonnet", "opus"),
                              (1_000_000_000, 3_000_000_000, 5_000_000_000))


def test_a_dominated_middle_tier_is_never_on_the_hull_though_the_grid_staircase_lists_it():
    fr = F.proportional(_three_tiers())
    # the hull's corners are all-haiku and all-opus; the splits on it are the 101 haiku/opus mixes
    assert [tuple(fr.splits[i]) for i in fr.vertices] == [(100, 0, 0), (0, 0, 100)]
    assert len(fr.hull) == 101 and (fr.splits[fr.hull, 1] == 0).all()
    # the 1% staircase keeps splits with sonnet in them (a grid point under the chord, beaten by a mix)
    assert (fr.splits[fr.pareto, 1] > 0).sum() > 0


def test_apgr_aiq_and_cpt_are_read_off_the_hull():
    red = _three_tiers()
    fr = F.proportional(red)
    m = F.frontier_metrics(red, fr)
    assert (m.cost_weak, m.cost_strong, m.q_weak, m.q_strong) == pytest.approx((10.0, 50.0, 0.5, 0.9))
    # PGR on the hull is u itself (a straight line from (0, 0) to (1, 1)): APGR 1/2
    assert m.apgr == pytest.approx(0.5, abs=1e-12)
    # AIQ: area under the line from ($10, 0.5) to ($50, 0.9) is 40 * 0.7 = 28; / the range 40 = 0.7
    assert m.aiq == pytest.approx(0.7, abs=1e-12)
    # CPT(50%): halfway along the chord, $30 (u = 0.5); CPT(80%): $42
    assert m.cpt[0.5] == pytest.approx((30.0, 0.5)) and m.cpt[0.8] == pytest.approx((42.0, 0.8))


def test_the_hull_apgr_of_points_with_a_gap_interpolates_between_them():
    # points at u = 0, 0.5 (PGR 0.8) and 1 (PGR 1): the hull is two segments; area 0.2 + 0.45 = 0.65,
    # where a staircase held at 0 until u = 0.5 gives 0.45
    m = F.metrics(np.array([0.0, 5.0, 10.0]), np.array([0.5, 0.66, 0.7]), 0.0, 10.0, 0.5, 0.7)
    assert m.apgr == pytest.approx(0.5 * 0.8 / 2 + 0.5 * (0.8 + 1.0) / 2)
    # AIQ: (5 * (0.5 + 0.66) / 2 + 5 * (0.66 + 0.7) / 2) / 10 = 0.63
    assert m.aiq == pytest.approx(0.63)
    # a point under the chord of its neighbours is not a hull vertex, but counts as on the hull when on it
    v, on = F.hull_points(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 0.2, 1.0, 1.0]))
    assert v.tolist() == [0, 2] and on.tolist() == [0, 2]


def test_the_random_router_mean_follows_the_hull_and_its_range_brackets_it():
    red = _three_tiers()
    rr = F.random_router(red, seeds=10)
    # 21 levels along haiku -> opus (sonnet is not on the hull), 5% steps, whole percents
    assert rr.shares.shape == (21, 3) and (rr.shares[:, 1] == 0).all()
    assert rr.shares[0].tolist() == [100, 0, 0] and rr.shares[-1].tolist() == [0, 0, 100]
    assert rr.cost[0] == pytest.approx(10.0) and rr.cost[-1] == pytest.approx(50.0)
    assert rr.quality[0] == pytest.approx(0.5) and rr.quality[-1] == pytest.approx(0.9)
    assert (rr.quality_low <= rr.quality + 1e-12).all() and (rr.quality <= rr.quality_high + 1e-12).all()
    m = F.frontier_metrics(red, F.proportional(red))
    mean, lo, hi = rr.apgr(m)
    assert lo <= mean <= hi and abs(mean - 0.5) < 0.15
