"""`costlab whatif` over a window larger than [whatif] per_request_max_requests (issue 15, part 1):
proportional splits from per-day totals per tier, said in a note, the same figures as the per-request
pass within its stated rounding; smaller windows and per-request policies keep the per-request pass."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

from costlab.config import Config
from costlab.generate import generate_into
from costlab.open import open_store
from helpers import costlab_on_store as costlab

N = 30_000
SPLITS = ["whatif", "--split", "current", "--split", "haiku=70,sonnet=25,opus=5", "--resamples", "200", "--format", "json"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("whatif-large")
    with open_store(root / "store.duckdb", Config()) as s:
        generate_into(s, N, seed=3, start="2026-11-09", days=7, part_rows=10_000)
    return root




def test_past_the_stated_size_splits_come_from_daily_totals_with_a_note_and_the_per_request_figures(root):
    small = costlab(root, SPLITS)  # the default limit (2,000,000) is far above N: per request
    large = costlab(root, SPLITS, config="[whatif]\nper_request_max_requests = 1000\n", limit="100MB")
    assert "per_request_max_requests" not in small.stderr
    note = [line for line in large.stderr.splitlines() if "per_request_max_requests" in line]
    assert len(note) == 1 and f"{N:,} requests in the window" in note[0] and "(1,000)" in note[0]
    a, b = json.loads(small.stdout), json.loads(large.stdout)
    assert [r["scenario"] for r in a] == [r["scenario"] for r in b]
    bound = Decimal("0.5e-9") * N * 6  # half a nano-dollar per request and cost category (docs/whatif.md)
    for x, y in zip(a, b):
        for key in ("cost_usd", "cost_low_usd", "cost_high_usd", "actual_usd"):
            assert abs(Decimal(x[key]) - Decimal(y[key])) <= bound, (key, x[key], y[key])
        assert x["requests"] == y["requests"] == N and x["haiku_share"] == y["haiku_share"]
        assert x["quality"] == pytest.approx(y["quality"], rel=1e-9)


def test_at_the_stated_size_and_for_per_request_policies_the_per_request_pass_answers(root):
    at = costlab(root, SPLITS, config=f"[whatif]\nper_request_max_requests = {N}\n")
    assert "per_request_max_requests" not in at.stderr
    policy = costlab(root, ["whatif", "--split", "haiku=70,sonnet=25,opus=5", "--policy", "complexity",
                            "--resamples", "0", "--format", "json"], config="[whatif]\nper_request_max_requests = 1000\n")
    assert "per_request_max_requests" not in policy.stderr


def test_a_bad_per_request_max_is_a_config_error(root):
    (root / "costlab.toml").write_text("[whatif]\nper_request_max_requests = -1\n")
    result = subprocess.run([sys.executable, "-m", "costlab", *SPLITS, "--db", str(root / "store.duckdb"),
                             "--config", str(root / "costlab.toml")], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "per_request_max_requests" in result.stderr
