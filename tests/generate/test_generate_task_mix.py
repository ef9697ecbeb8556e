"""The task-mix-shift pattern: the last week's task mix moves (for the route_drift signal and
`costlab route check`); the first week is the clean world's, row for row, and `--pattern all` leaves it out."""

from __future__ import annotations

import polars as pl

from costlab.generate import PATTERNS, TRAFFIC_PATTERNS, generate_frame

LONG = pl.col("feature").is_in(["doc-summarize", "code-review", "research-agent"])
LAST_WEEK = pl.col("ts") >= pl.datetime(2026, 11, 9, time_zone="UTC")


def test_the_last_week_draws_the_long_document_tasks_four_times_as_often_and_the_first_is_unchanged():
    clean = generate_frame(12_000, seed=2)
    shifted = generate_frame(12_000, seed=2, patterns=("task-mix-shift",))
    before = shifted.filter(~LAST_WEEK)
    assert before.equals(clean.filter(~LAST_WEEK))
    share = shifted.filter(LAST_WEEK).select(LONG.mean()).item()
    assert 0.40 < share < 0.55 and clean.filter(LAST_WEEK).select(LONG.mean()).item() < 0.22


def test_task_mix_shift_is_a_traffic_pattern_named_on_its_own_not_part_of_all():
    assert "task-mix-shift" in TRAFFIC_PATTERNS and "task-mix-shift" not in PATTERNS
